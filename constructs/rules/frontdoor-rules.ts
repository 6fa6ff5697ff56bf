/**
 * Recording rules, the AgentOverloaded alert and its promtool tests: the sidecar's inbound proxy
 * (the agent's front door) and its concurrency limit. One group per system with a proxied agent,
 * `<system>-agents.frontdoor`; it reads only series the proxy itself exports.
 */
import { LABELS, METRICS } from '../../sidecar/contract';
import { AgentSpec } from '../spec';
import { parseDuration } from '../validation';
import { renderValue, TemplateVars } from './catalog';
import { FamilyAlert, familyAlert } from './family-alert';
import { group, infoLabels, num, rec, sel, SystemContext, win, winSeconds } from './context';
import { FRONTDOOR_ALERT_DOCS, FRONTDOOR_ALERT_THRESHOLDS, FrontdoorAlertName } from './frontdoor-catalog';
import type { PromtoolAlert, PromtoolInputSeries, PromtoolTest } from './promtool';
import { counter, gauge, scrapeTarget, series } from './promtool-series';
import { RecordingRule, RuleGroup } from './types';

/** The proxy's refusals at the concurrency limit (not parse errors or upstream failures). */
export const SHED_REASONS = ['queue_full', 'queue_timeout'] as const;

/** Agents whose pods run the inbound proxy. */
export function proxied(ctx: SystemContext): AgentSpec[] {
  return ctx.specs.filter((s) => s.sidecar.enabled && s.sidecar.proxy);
}

function recording(ctx: SystemContext): RecordingRule[] {
  const { by } = ctx;
  const w5 = win(ctx, '5m');
  const shed = `sum by (${by}) (rate(${METRICS.proxyRejected}${sel(ctx, `${LABELS.reason}=~"${SHED_REASONS.join('|')}"`)}[${w5}]))`;
  return [
    { record: 'agent:proxy_shed:rate5m', expr: shed },
    {
      // 0 (not absent) while the agent has traffic and nothing was shed, so the ratio is a real 0%.
      record: 'agent:proxy_shed:ratio_rate5m',
      expr: `(${rec(ctx, 'agent:proxy_shed:rate5m')} or 0 * ${rec(ctx, 'agent:invocations:rate5m')}) / ${rec(ctx, 'agent:invocations:rate5m')}`,
    },
    {
      record: `agent:${METRICS.proxyTimeToFirstByte}:p95_5m`,
      expr: `histogram_quantile(0.95, sum by (${by}, le) (rate(${METRICS.proxyTimeToFirstByte}_bucket${sel(ctx)}[${w5}])))`,
    },
  ];
}

function alerts(ctx: SystemContext): FamilyAlert<FrontdoorAlertName>[] {
  const o = ctx.opts;
  const { on } = ctx;
  const guard = `${rec(ctx, 'agent:invocations:rate5m')} * ${num(winSeconds(ctx, '5m'))} >= ${num(o.minInvocations)}`;
  const expr =
    `(${rec(ctx, 'agent:proxy_shed:ratio_rate5m')} > ${num(FRONTDOOR_ALERT_THRESHOLDS.shedRatio)} and on(${on}) ${guard})` +
    ` * on(${on}) group_left(component, team) ${rec(ctx, 'agent:info:static')}`;
  const a = familyAlert(ctx, FRONTDOOR_ALERT_DOCS.AgentOverloaded, expr);
  return a ? [a] : [];
}

/** The `<system>-agents.frontdoor` group, or none when no agent of the system runs the proxy. */
export function frontdoorRuleGroup(ctx: SystemContext): RuleGroup | undefined {
  if (proxied(ctx).length === 0) return undefined;
  return group(ctx, `${ctx.system}-agents.frontdoor`, [...recording(ctx), ...alerts(ctx).map((a) => a.rule)]);
}

/** promtool tests: AgentOverloaded fires when the proxy sheds a fifth of the calls, stays silent otherwise (`timeScale` 1). */
export function frontdoorPromtoolTests(ctx: SystemContext): PromtoolTest[] {
  const s = proxied(ctx)[0];
  if (!s) return [];
  const tests: PromtoolTest[] = [];
  for (const a of alerts(ctx)) {
    const doc = FRONTDOOR_ALERT_DOCS[a.name];
    const evalMin = Math.ceil(parseDuration(a.params.for) / 60) + 8;
    const len = evalMin + 2;
    const target = scrapeTarget(ctx.opts, s);
    const call = { ...target, [LABELS.agentName]: s.name, [LABELS.operationName]: 'invoke_agent' };
    // Per minute: `total` invocations, `shed` of them refused at the limit (errors too), `failed` other errors.
    const input = (total: number, shed: number, failed = 0): PromtoolInputSeries[] => [
      { series: series('up', target), values: gauge(1, len) },
      { series: series(METRICS.invocations, { ...call, [LABELS.outcome]: 'success' }), values: counter([[total - shed - failed, len]]) },
      { series: series(METRICS.invocations, { ...call, [LABELS.outcome]: 'error' }), values: counter([[shed + failed, len]]) },
      { series: series(METRICS.proxyRejected, { ...target, [LABELS.reason]: 'queue_full' }), values: counter([[shed, len]]) },
      // Refusals that are not load shedding do not count.
      { series: series(METRICS.proxyRejected, { ...target, [LABELS.reason]: 'bad_request' }), values: counter([[failed, len]]) },
    ];
    const vars = (value: number): TemplateVars => ({ agent: s.name, namespace: s.namespace, pod: '', container: '', value: renderValue(doc.valueFormat, value) });
    const expected = (value: number): PromtoolAlert[] => [{
      exp_labels: { ...infoLabels(ctx, s), ...(a.rule.labels ?? {}) },
      exp_annotations: { summary: doc.summary(vars(value), a.params), description: doc.description(vars(value), a.params), runbook_url: a.rule.annotations!.runbook_url },
    }];
    const push = (name: string, series_: PromtoolInputSeries[], exp: PromtoolAlert[]) =>
      tests.push({ name: `${a.name}: ${name}`, interval: '1m', input_series: series_, alert_rule_test: [{ eval_time: `${evalMin}m`, alertname: a.name, exp_alerts: exp }] });
    push(`fires when ${s.name}'s proxies shed 20% of the calls for ${a.params.for}`, input(100, 20), expected(0.2));
    push('silent when 1% are shed', input(100, 1), []);
    push('silent when the errors are not load shedding', input(100, 0, 30), []);
    push('silent with little traffic, even if most is shed', input(1, 1), []);
  }
  return tests;
}
