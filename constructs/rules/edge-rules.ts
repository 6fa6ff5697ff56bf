/**
 * Recording rules, the AgentRateLimited alert and its promtool tests: how often the mesh's local
 * rate limits (AgentGateway routes, MeshPolicy `agents.<id>.rateLimit`) reject an agent's requests.
 * From Istio's standard `istio_requests_total`: a request Envoy's local_ratelimit rejected carries
 * the response flag `RL`. One group per system, `<system>-agents.edge`.
 */
import { AgentSpec } from '../spec';
import { parseDuration } from '../validation';
import { renderValue, TemplateVars } from './catalog';
import { FamilyAlert, familyAlert } from './family-alert';
import { EDGE_ALERT_DOCS, EDGE_ALERT_THRESHOLDS, EdgeAlertName } from './edge-catalog';
import { group, infoLabels, num, rec, SystemContext, win } from './context';
import type { PromtoolInputSeries, PromtoolTest } from './promtool';
import { AlertingRule, RecordingRule, RuleGroup } from './types';

const ISTIO = 'istio_requests_total';

/**
 * A rate of Istio's series as ours ([cluster,] namespace, system, agent): destination labels
 * renamed, kept only for the system's agents (joined with `agent:info:static`, so the rule does
 * not grow with the number of agents).
 */
function asAgent(ctx: SystemContext, rate: string): string {
  let e = `label_replace(label_replace(${rate}, "namespace", "$1", "destination_service_namespace", "(.*)"), "agent", "$1", "destination_service_name", "(.*)")`;
  e = `label_replace(${e}, "system", "${ctx.system}", "", "")`;
  return `sum by (${ctx.by}) (${e}) and on(${ctx.on}) ${rec(ctx, 'agent:info:static')}`;
}

function istioSel(ctx: SystemContext, ...extra: string[]): string {
  return `{${[...(ctx.opts.cluster ? [`cluster="${ctx.opts.cluster}"`] : []), `destination_service_namespace=~"${ctx.namespaces}"`, ...extra].join(', ')}}`;
}

function recording(ctx: SystemContext): RecordingRule[] {
  const w5 = win(ctx, '5m');
  return [
    { record: 'agent:mesh_requests:rate5m', expr: asAgent(ctx, `rate(${ISTIO}${istioSel(ctx, 'reporter="source"')}[${w5}])`) },
    // Whichever Envoy rejected it (gateway: reporter source; agent sidecar: reporter destination) reports RL once.
    { record: 'agent:mesh_rate_limited:rate5m', expr: asAgent(ctx, `rate(${ISTIO}${istioSel(ctx, 'response_code="429"', 'response_flags="RL"')}[${w5}])`) },
    {
      record: 'agent:mesh_rate_limited:ratio_rate5m',
      expr: `${rec(ctx, 'agent:mesh_rate_limited:rate5m')} / ${rec(ctx, 'agent:mesh_requests:rate5m')}`,
    },
  ];
}

function alert(ctx: SystemContext): FamilyAlert<EdgeAlertName> | undefined {
  const t = EDGE_ALERT_THRESHOLDS;
  const { on } = ctx;
  const expr = `(${rec(ctx, 'agent:mesh_rate_limited:ratio_rate5m')} > ${num(t.rateLimitedRatio)}` +
    ` and on(${on}) ${rec(ctx, 'agent:mesh_requests:rate5m')} * 300 >= ${num(t.minRequests)})` +
    ` * on(${on}) group_left(component, team) ${rec(ctx, 'agent:info:static')}`;
  return familyAlert(ctx, EDGE_ALERT_DOCS.AgentRateLimited, expr);
}

/** The `<system>-agents.edge` group. */
export function edgeRuleGroup(ctx: SystemContext): RuleGroup {
  return group(ctx, `${ctx.system}-agents.edge`, [...recording(ctx), ...[alert(ctx)?.rule].filter((r): r is AlertingRule => !!r)]);
}

/** promtool tests: AgentRateLimited fires on a flood rejected at the agent or the gateway, stays silent otherwise (`timeScale` 1). */
export function edgePromtoolTests(ctx: SystemContext): PromtoolTest[] {
  const s: AgentSpec | undefined = ctx.specs[0];
  const a = alert(ctx);
  if (!s || !a) return [];
  const { rule, params } = a;
  const evalMin = Math.ceil(parseDuration(params.for) / 60) + 8;
  const len = evalMin + 2;
  const doc = EDGE_ALERT_DOCS.AgentRateLimited;
  const base = { ...(ctx.opts.cluster ? { cluster: ctx.opts.cluster } : {}), destination_service_namespace: s.namespace, destination_service_name: s.names.service, response_code: '200', response_flags: '-' };
  const series = (labels: Record<string, string>) => `${ISTIO}{${Object.entries(labels).map(([k, v]) => `${k}="${v}"`).join(', ')}}`;
  // Per minute: `total` requests as callers report them, `limited` of them rejected by `where`.
  const input = (total: number, limited: number, where: 'gateway' | 'agent'): PromtoolInputSeries[] => {
    const out: PromtoolInputSeries[] = [
      { series: series({ ...base, reporter: 'source', source_workload: 'caller' }), values: `0+${num(total - limited)}x${len}` },
      { series: series({ ...base, reporter: 'source', source_workload: where === 'gateway' ? 'istio-ingressgateway' : 'caller', response_code: '429', response_flags: where === 'gateway' ? 'RL' : '-' }), values: `0+${num(limited)}x${len}` },
    ];
    if (where === 'agent') out.push({ series: series({ ...base, reporter: 'destination', source_workload: 'caller', response_code: '429', response_flags: 'RL' }), values: `0+${num(limited)}x${len}` });
    return out;
  };
  const vars = (value: number): TemplateVars => ({ agent: s.name, namespace: s.namespace, pod: '', container: '', value: renderValue(doc.valueFormat, value) });
  const expected = (value: number) => [{
    exp_labels: { ...infoLabels(ctx, s), ...(rule.labels ?? {}) },
    exp_annotations: { summary: doc.summary(vars(value), params), description: doc.description(vars(value), params), runbook_url: rule.annotations!.runbook_url },
  }];
  const test = (name: string, series: PromtoolInputSeries[], exp: ReturnType<typeof expected> | []): PromtoolTest => ({
    name: `AgentRateLimited: ${name}`, interval: '1m', input_series: series, alert_rule_test: [{ eval_time: `${evalMin}m`, alertname: doc.name, exp_alerts: exp }],
  });
  return [
    test(`fires when ${s.name}'s sidecar rejects 20% of its requests`, input(1000, 200, 'agent'), expected(0.2)),
    test(`fires when the gateway rejects 20% of the requests to ${s.name}`, input(1000, 200, 'gateway'), expected(0.2)),
    test('silent when 1% are rejected', input(1000, 10, 'agent'), []),
    test('silent with little traffic, even if most is rejected', input(10, 8, 'agent'), []),
  ];
}
