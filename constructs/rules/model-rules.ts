/**
 * Recording rules, alerts and promtool tests for model calls through the sidecar gateway, for
 * the agents of a system that have `models`. One group per system, `<system>-agents.models`,
 * evaluated after the built-in recording group (it joins `agent:info:static`).
 */
import { LABELS, METRICS, TTFC_BUCKETS_SECONDS } from '../../sidecar/contract';
import { AgentSpec } from '../spec';
import { parseDuration } from '../validation';
import { renderValue, TemplateVars } from './catalog';
import { FamilyAlert, familyAlert } from './family-alert';
import { group, infoLabels, num, promRegex, rec, sel, SystemContext, win, winSeconds } from './context';
import { MODEL_ALERT_DOCS, MODEL_ALERT_THRESHOLDS, ModelAlertName } from './model-catalog';
import type { PromtoolAlert, PromtoolInputSeries, PromtoolTest } from './promtool';
import { Labels, scrapeTarget, series } from './promtool-series';
import { RecordingRule, RuleGroup } from './types';

const PROVIDER = LABELS.providerName;
const TTFC = METRICS.timeToFirstChunk;

/** One model alert rule with what its promtool tests need. */
interface ModelAlert extends FamilyAlert<ModelAlertName> {
  /** Agents the rule covers (TTFT rules cover the agents with one objective). */
  readonly agents: readonly AgentSpec[];
  readonly threshold: number;
}

function modelAgents(ctx: SystemContext): AgentSpec[] {
  return ctx.specs.filter((s) => s.models);
}

function recording(ctx: SystemContext): RecordingRule[] {
  const { by } = ctx;
  const w5 = win(ctx, '5m');
  const w15 = win(ctx, '15m');
  const calls = `${METRICS.operationDuration}_count`;
  const byProvider = `${by}, ${PROVIDER}`;
  return [
    { record: 'agent_provider:gen_ai_calls:rate5m', expr: `sum by (${byProvider}) (rate(${calls}${sel(ctx, `${PROVIDER}!=""`)}[${w5}]))` },
    {
      record: 'agent_provider:gen_ai_call_errors:rate5m',
      expr: `sum by (${byProvider}) (rate(${calls}${sel(ctx, `${PROVIDER}!=""`, `${LABELS.errorType}!~"|client_closed"`)}[${w5}]))`,
    },
    {
      record: 'agent_provider:gen_ai_call_errors:ratio_rate5m',
      expr: `(${rec(ctx, 'agent_provider:gen_ai_call_errors:rate5m')} or 0 * ${rec(ctx, 'agent_provider:gen_ai_calls:rate5m')}) / ${rec(ctx, 'agent_provider:gen_ai_calls:rate5m')}`,
    },
    {
      record: 'agent_model:gen_ai_client_token_usage:rate5m',
      expr: `sum by (${byProvider}, ${LABELS.requestModel}, ${LABELS.tokenType}) (rate(${METRICS.tokenUsage}_sum${sel(ctx, `${PROVIDER}!=""`)}[${w5}]))`,
    },
    { record: 'agent:gen_ai_streamed_calls:rate5m', expr: `sum by (${by}) (rate(${TTFC}_count${sel(ctx)}[${w5}]))` },
    {
      record: `agent:${TTFC}:p95_5m`,
      expr: `histogram_quantile(0.95, sum by (${by}, le) (rate(${TTFC}_bucket${sel(ctx)}[${w5}])))`,
    },
    {
      record: 'agent:gateway_cache_hits:ratio_rate15m',
      expr: `sum by (${by}) (rate(${METRICS.gatewayCacheRequests}${sel(ctx, `${LABELS.cacheResult}="hit"`)}[${w15}])) / sum by (${by}) (rate(${METRICS.gatewayCacheRequests}${sel(ctx)}[${w15}]))`,
    },
    {
      record: 'agent:gateway_cache_saved_tokens:rate15m',
      expr: `sum by (${by}, ${LABELS.tokenType}) (rate(${METRICS.gatewayCacheSavedTokens}${sel(ctx)}[${w15}]))`,
    },
    {
      record: 'agent:gateway_token_budget:used_ratio',
      expr: `max by (${by}) (${METRICS.gatewayTokensLastMinute}${sel(ctx)} / ${METRICS.gatewayTokenBudget}${sel(ctx)})`,
    },
  ];
}

function alerts(ctx: SystemContext): ModelAlert[] {
  const o = ctx.opts;
  const { on } = ctx;
  const info = rec(ctx, 'agent:info:static');
  const withInfo = (expr: string) => `(${expr}) * on(${on}) group_left(component, team) ${info}`;
  const guard = (rate: string) => `(${rec(ctx, rate)} * ${num(winSeconds(ctx, '5m'))} >= ${num(o.minInvocations)})`;
  const agents = modelAgents(ctx);
  const out: ModelAlert[] = [];
  const add = (name: ModelAlertName, expr: string, covered: readonly AgentSpec[], threshold: number, labels?: Record<string, string>) => {
    const a = familyAlert(ctx, MODEL_ALERT_DOCS[name], expr, labels);
    if (a) out.push({ ...a, agents: covered, threshold });
  };
  const t = MODEL_ALERT_THRESHOLDS;
  add(
    'AgentModelProviderErrors',
    withInfo(
      `${rec(ctx, 'agent_provider:gen_ai_call_errors:ratio_rate5m')} > ${num(t.providerErrorRatio)}` +
        ` and on(${on}, ${PROVIDER}) ${guard('agent_provider:gen_ai_calls:rate5m')}`,
    ),
    agents,
    t.providerErrorRatio,
  );
  const budgeted = agents.filter((s) => s.models!.maxTokensPerMinute !== undefined);
  if (budgeted.length > 0) {
    add('AgentTokenBudgetNearlySpent', withInfo(`${rec(ctx, 'agent:gateway_token_budget:used_ratio')} > ${num(t.tokenBudgetRatio)}`), budgeted, t.tokenBudgetRatio);
  }
  // One rule per distinct objective, selecting its agents (few distinct values in practice).
  const byObjective = new Map<number, AgentSpec[]>();
  for (const s of agents) {
    const v = s.models!.timeToFirstTokenP95Seconds;
    if (v !== undefined) byObjective.set(v, [...(byObjective.get(v) ?? []), s]);
  }
  for (const [objective, list] of [...byObjective].sort((a, b) => a[0] - b[0])) {
    const which = `agent=~"${promRegex(list.map((s) => s.name))}"`;
    add(
      'AgentTimeToFirstTokenHigh',
      withInfo(`${rec(ctx, `agent:${TTFC}:p95_5m`, which)} > ${num(objective)} and on(${on}) ${guard('agent:gen_ai_streamed_calls:rate5m')}`),
      list,
      objective,
      { quantile: '0.95', objective_seconds: num(objective) },
    );
  }
  return out;
}

/** The `<system>-agents.models` group, or undefined when no agent of the system has `models`. */
export function modelRuleGroup(ctx: SystemContext): RuleGroup | undefined {
  if (modelAgents(ctx).length === 0) return undefined;
  return group(ctx, `${ctx.system}-agents.models`, [...recording(ctx), ...alerts(ctx).map((a) => a.rule)]);
}

// ---------------------------------------------------------------------------------------------
// promtool tests: each model alert fires once and stays silent once
// ---------------------------------------------------------------------------------------------

/** promtool tests for the model alerts of one system (`timeScale` 1). */
export function modelPromtoolTests(ctx: SystemContext): PromtoolTest[] {
  if (modelAgents(ctx).length === 0) return [];
  const o = ctx.opts;
  const target = (s: AgentSpec): Labels => scrapeTarget(o, s);
  const expected = (a: ModelAlert, s: AgentSpec, value: number, extra: Labels = {}): PromtoolAlert => {
    const doc = MODEL_ALERT_DOCS[a.name];
    const vars: TemplateVars = { agent: s.name, namespace: s.namespace, pod: '', container: '', value: renderValue(doc.valueFormat, value) };
    const labels = { ...infoLabels(ctx, s), ...extra, ...(a.rule.labels ?? {}) };
    return {
      exp_labels: labels,
      exp_annotations: {
        summary: doc.summary(vars, a.params),
        description: doc.description(vars, a.params).replace('{{ $labels.gen_ai_provider_name }}', extra[PROVIDER] ?? ''),
        runbook_url: a.rule.annotations!.runbook_url,
      },
    };
  };
  const tests: PromtoolTest[] = [];
  const push = (a: ModelAlert, name: string, input: PromtoolInputSeries[], evalMinutes: number, exp: PromtoolAlert[]) =>
    tests.push({ name: `${a.name}: ${name}`, interval: '1m', input_series: input, alert_rule_test: [{ eval_time: `${evalMinutes}m`, alertname: a.name, exp_alerts: exp }] });
  // Enough calls per minute for the minimum-traffic guard, whatever minInvocations is.
  const perMinute = Math.max(60, Math.ceil(o.minInvocations / 5) * 2);

  for (const a of alerts(ctx)) {
    const s = a.agents[0];
    // Evaluated a few minutes after the condition held for `for:` (alertFor may lengthen it).
    const forMin = Math.ceil(parseDuration(a.params.for) / 60);
    const evalAt = { AgentModelProviderErrors: forMin + 10, AgentTokenBudgetNearlySpent: forMin + 5, AgentTimeToFirstTokenHigh: forMin + 6 }[a.name];
    const minutes = Math.max(20, evalAt + 4);
    const base = { ...target(s), [LABELS.agentName]: s.name, [LABELS.operationName]: 'chat', [PROVIDER]: s.models!.providers[0].provider, [LABELS.requestModel]: 'gpt-4o' };
    switch (a.name) {
      case 'AgentModelProviderErrors': {
        const calls = (bad: number) => [
          { series: series(`${METRICS.operationDuration}_count`, base), values: `0+${num(perMinute * (1 - bad))}x${minutes}` },
          { series: series(`${METRICS.operationDuration}_count`, { ...base, [LABELS.errorType]: '503' }), values: `0+${num(perMinute * bad)}x${minutes}` },
          // Agents that went away are not the provider's fault.
          { series: series(`${METRICS.operationDuration}_count`, { ...base, [LABELS.errorType]: 'client_closed' }), values: `0+${num(perMinute)}x${minutes}` },
        ];
        const bad = Math.min(0.9, a.threshold * 3);
        // client_closed calls count in the denominator: the ratio is bad / 2.
        push(a, `fires when ${num(bad * 50)}% of ${s.name}'s calls to ${base[PROVIDER]} fail`, calls(bad), evalAt, [expected(a, s, bad / 2, { [PROVIDER]: base[PROVIDER] })]);
        push(a, 'silent below the threshold (client disconnects do not count)', calls(a.threshold / 4), evalAt, []);
        break;
      }
      case 'AgentTokenBudgetNearlySpent': {
        const budget = s.models!.maxTokensPerMinute!;
        const gauges = (used: number) => [
          { series: series(METRICS.gatewayTokensLastMinute, { ...target(s), [LABELS.agentName]: s.name }), values: `${num(used)}x${minutes}` },
          { series: series(METRICS.gatewayTokenBudget, { ...target(s), [LABELS.agentName]: s.name }), values: `${num(budget)}x${minutes}` },
        ];
        push(a, `fires when ${s.name} used 95% of its budget for ${a.params.for}`, gauges(budget * 0.95), evalAt, [expected(a, s, 0.95)]);
        push(a, 'silent at half the budget', gauges(budget / 2), evalAt, []);
        break;
      }
      case 'AgentTimeToFirstTokenHigh': {
        // Slow calls land in the first bucket above 3x the objective, fast ones at or below half of it.
        const slowLe = TTFC_BUCKETS_SECONDS.find((b) => b >= a.threshold * 3) ?? TTFC_BUCKETS_SECONDS[TTFC_BUCKETS_SECONDS.length - 1];
        const fastLe = [...TTFC_BUCKETS_SECONDS].reverse().find((b) => b <= a.threshold / 2) ?? TTFC_BUCKETS_SECONDS[0];
        const hist = (le: number) => {
          const tb = { ...target(s), [LABELS.agentName]: s.name, [LABELS.operationName]: 'chat', [PROVIDER]: base[PROVIDER], [LABELS.requestModel]: 'gpt-4o' };
          const out: PromtoolInputSeries[] = [...TTFC_BUCKETS_SECONDS, Infinity].map((b) => ({
            series: series(`${TTFC}_bucket`, { ...tb, le: b === Infinity ? '+Inf' : num(b) }),
            values: `0+${b >= le ? perMinute : 0}x${minutes}`,
          }));
          out.push({ series: series(`${TTFC}_count`, tb), values: `0+${perMinute}x${minutes}` });
          return out;
        };
        const lo = TTFC_BUCKETS_SECONDS[TTFC_BUCKETS_SECONDS.indexOf(slowLe) - 1] ?? 0;
        const p95 = lo + (slowLe - lo) * 0.95;
        push(a, `fires when ${s.name}'s p95 time to first token is ${num(p95)}s (objective ${num(a.threshold)}s)`, hist(slowLe), evalAt, [expected(a, s, p95)]);
        push(a, 'silent when first tokens come fast', hist(fastLe), evalAt, []);
        break;
      }
    }
  }
  return tests;
}
