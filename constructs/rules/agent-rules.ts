/**
 * Recording rules, alerts and SLO rules for agents, as pure functions of `AgentSpec[]` and
 * options. Rules aggregate `by (namespace, system, agent)` and join `on (namespace, agent)`,
 * so their number grows with overrides and SLOs, not with agents x alerts.
 */
import { LABELS, METRICS } from '../../sidecar/contract';
import { AgentSpec } from '../spec';
import { ALERT_DOCS, GO_VARS, RuleParams } from './catalog';
import {
  agentLabels,
  compareThreshold,
  containerSel,
  group,
  infoLabels,
  num,
  rec,
  sel,
  SystemContext,
  systemContext,
  systemsOf,
  thresholdMetric,
  thresholdOf,
  win,
  winSeconds,
} from './context';
import { modelRuleGroup } from './model-rules';
import { edgeRuleGroup } from './edge-rules';
import { frontdoorRuleGroup } from './frontdoor-rules';
import { workloadRuleGroup } from './workload-rules';
import { AlertName, MonitoringOptions, resolveOptions, ResolvedMonitoringOptions, runbookUrlFor, ThresholdName } from './options';
import { burnAlerts, LATENCY_SLO_OBJECTIVE, latencyBucketOf, sloGroup } from './slo-rules';
import { AlertingRule, RecordingRule, RuleGroup, SeverityLevel } from './types';

/** An alert before severity mapping, runbook URL and stack-wide labels are applied. */
export interface AlertDefinition {
  /** Alert name (CamelCase). */
  readonly alert: string;
  /** PromQL; the alert fires for every series it returns. */
  readonly expr: string;
  /** How long the condition must hold. @default fires at once */
  readonly for?: string;
  /** Severity level, spelled in the `severity` label as the stack's `severities` map says. */
  readonly severity: SeverityLevel;
  /** Extra labels. @default {} */
  readonly labels?: Readonly<Record<string, string>>;
  /** `summary` annotation (Go template: `{{ $labels.agent }}`, `{{ $value }}`). */
  readonly summary: string;
  /** `description` annotation. */
  readonly description: string;
  /** `runbook_url` annotation. @default the stack's runbookUrl pattern */
  readonly runbookUrl?: string;
}

/** Applies severity mapping, the runbook URL and the stack-wide alert labels. */
export function renderAlert(def: AlertDefinition, opts: ResolvedMonitoringOptions): AlertingRule {
  const labels: Record<string, string> = { severity: opts.severities[def.severity] };
  if (def.severity === 'emergency') labels.page = 'true';
  Object.assign(labels, def.labels ?? {}, opts.alertLabels);
  return {
    alert: def.alert,
    expr: def.expr,
    ...(def.for ? { for: def.for } : {}),
    labels,
    annotations: {
      summary: def.summary,
      description: def.description,
      runbook_url: def.runbookUrl ?? runbookUrlFor(opts, def.alert),
    },
  };
}

const DURATION = METRICS.operationDuration;

// ---------------------------------------------------------------------------------------------
// Recording rules
// ---------------------------------------------------------------------------------------------

function recordingGroup(ctx: SystemContext): RuleGroup {
  const { by } = ctx;
  const w5 = win(ctx, '5m');
  const w15 = win(ctx, '15m');
  const info = rec(ctx, 'agent:info:static');
  const rules: RecordingRule[] = [];

  rules.push(
    { record: 'agent:up:avg', expr: `avg by (${by}) (up${sel(ctx)})` },
    { record: 'agent:invocations:rate5m', expr: `sum by (${by}) (rate(${METRICS.invocations}${sel(ctx)}[${w5}]))` },
    { record: 'agent:errors:rate5m', expr: `sum by (${by}) (rate(${METRICS.invocations}${sel(ctx, `${LABELS.outcome}="error"`)}[${w5}]))` },
    {
      // `or 0 * ...`: an agent that never failed has no error series; its ratio is 0, not absent.
      record: 'agent:errors:ratio_rate5m',
      expr: `(${rec(ctx, 'agent:errors:rate5m')} or 0 * ${rec(ctx, 'agent:invocations:rate5m')}) / ${rec(ctx, 'agent:invocations:rate5m')}`,
    },
    { record: 'agent:errors_by_type:rate5m', expr: `sum by (${by}, ${LABELS.errorType}) (rate(${METRICS.errors}${sel(ctx)}[${w5}]))` },
  );
  for (const [q, name] of [[0.5, 'p50'], [0.95, 'p95'], [0.99, 'p99']] as const) {
    rules.push({
      record: `agent:${DURATION}:${name}_5m`,
      expr: `histogram_quantile(${q}, sum by (${by}, le) (rate(${DURATION}_bucket${sel(ctx)}[${w5}])))`,
    });
  }
  rules.push(
    {
      record: `agent:${METRICS.tokenUsage}:rate5m`,
      expr: `sum by (${by}, ${LABELS.tokenType}) (rate(${METRICS.tokenUsage}_sum${sel(ctx)}[${w5}]))`,
    },
    { record: 'agent:inflight_invocations:sum', expr: `sum by (${by}) (${METRICS.inflight}${sel(ctx)})` },
    { record: 'agent:cache_requests:rate15m', expr: `sum by (${by}) (rate(${METRICS.cacheRequests}${sel(ctx)}[${w15}]))` },
    {
      record: 'agent:cache_hits:ratio_rate15m',
      expr: `(sum by (${by}) (rate(${METRICS.cacheRequests}${sel(ctx, `${LABELS.cacheResult}="hit"`)}[${w15}])) or 0 * ${rec(ctx, 'agent:cache_requests:rate15m')}) / ${rec(ctx, 'agent:cache_requests:rate15m')}`,
    },
  );

  // Container metrics (cAdvisor, kube-state-metrics) carry namespace/pod/container only: the
  // agent's own `up` series maps each pod to its agent, so no pod-name regex is needed.
  const cluster = ctx.opts.cluster ? 'cluster, ' : '';
  const podToAgent = `on (namespace, pod) group_left(${cluster}system, agent) group by (${cluster}namespace, pod, system, agent) (up${sel(ctx)})`;
  rules.push(
    {
      record: 'agent_pod_container:cpu_usage:ratio_limit',
      expr:
        `(sum by (namespace, pod, container) (rate(container_cpu_usage_seconds_total${containerSel(ctx)}[${w5}]))` +
        ` / sum by (namespace, pod, container) (kube_pod_container_resource_limits${containerSel(ctx, 'resource="cpu"')}))` +
        ` * ${podToAgent}`,
    },
    {
      record: 'agent_pod_container:memory_working_set:ratio_limit',
      expr:
        `(sum by (namespace, pod, container) (container_memory_working_set_bytes${containerSel(ctx)})` +
        ` / sum by (namespace, pod, container) (kube_pod_container_resource_limits${containerSel(ctx, 'resource="memory"')}))` +
        ` * ${podToAgent}`,
    },
    {
      record: 'agent_pod_container:restarts:increase15m',
      expr: `sum by (namespace, pod, container) (increase(kube_pod_container_status_restarts_total${containerSel(ctx)}[${w15}])) * ${podToAgent}`,
    },
  );
  // Deployments are named like their agent (the canary's `<agent>-canary` finds no agent and drops out).
  rules.push({
    record: 'agent:deployment_spec_replicas:sum',
    expr:
      `sum by (namespace, agent) (label_replace(kube_deployment_spec_replicas{namespace=~"${ctx.namespaces}"}, "agent", "$1", "deployment", "(.+)"))` +
      ` * on (namespace, agent) group_left(${cluster}system) ${info}`,
  });
  // HorizontalPodAutoscalers are named `<agent>-hpa` by AgentService, KEDA's too (the ScaledObject's
  // horizontalPodAutoscalerConfig.name); KEDA's default name `keda-hpa-<agent>-scaler` matches as well.
  for (const [record, metric] of [
    ['agent:hpa_current_replicas:sum', 'kube_horizontalpodautoscaler_status_current_replicas'],
    ['agent:hpa_max_replicas:sum', 'kube_horizontalpodautoscaler_spec_max_replicas'],
    ['agent:hpa_min_replicas:sum', 'kube_horizontalpodautoscaler_spec_min_replicas'],
  ] as const) {
    rules.push({
      record,
      expr:
        `sum by (namespace, agent) (label_replace(${metric}{namespace=~"${ctx.namespaces}"}, "agent", "$1$2", "horizontalpodautoscaler", "keda-hpa-(.+)-scaler|(.+)-hpa"))` +
        ` * on (namespace, agent) group_left(${cluster}system) ${info}`,
    });
  }

  rules.push({ record: 'agent:health:score', expr: healthScore(ctx) });
  return group(ctx, `${ctx.system}-agents.recording`, rules);
}

const THRESHOLD_KEYS: readonly ThresholdName[] = ['errorRatio', 'latencyP95Seconds', 'latencyP99Seconds', 'cpuRatio', 'memoryRatio', 'restarts', 'cacheHitRatio'];

/** Agents per inventory group: keeps each PrometheusRule well under the 256 KiB that client-side `kubectl apply` can annotate. */
export const INVENTORY_CHUNK = 200;

/**
 * The per-agent constants, one group per INVENTORY_CHUNK agents: `agent:info:static` (what the
 * system should run, with the labels alerts route on), thresholds that differ from the
 * stack-wide ones (threshold-as-series) and SLO objectives. Everything else is per system.
 */
function inventoryGroups(ctx: SystemContext): RuleGroup[] {
  const perAgent = ctx.specs.map((spec) => {
    const rules: RecordingRule[] = [{ record: 'agent:info:static', expr: 'vector(1)', labels: infoLabels(ctx, spec) }];
    if (scalesToZero(spec)) rules.push({ record: 'agent:scale_to_zero:static', expr: 'vector(1)', labels: agentLabels(ctx, spec) });
    for (const key of THRESHOLD_KEYS) {
      const value = thresholdOf(ctx, spec, key);
      if (value !== ctx.opts.thresholds[key]) rules.push({ record: thresholdMetric(key), expr: `vector(${num(value)})`, labels: agentLabels(ctx, spec) });
    }
    if (spec.slo) {
      rules.push({
        record: 'agent:slo_objective:ratio',
        expr: `vector(${num(spec.slo.availability / 100)})`,
        labels: { ...agentLabels(ctx, spec), slo: 'availability', slo_window: spec.slo.window },
      });
      if (spec.slo.latencyP95Seconds !== undefined) {
        rules.push({
          record: 'agent:slo_objective:ratio',
          expr: `vector(${num(LATENCY_SLO_OBJECTIVE)})`,
          labels: { ...agentLabels(ctx, spec), slo: 'latency', slo_window: spec.slo.window, le: num(latencyBucketOf(spec)) },
        });
      }
    }
    return rules;
  });
  const chunks = Math.ceil(perAgent.length / INVENTORY_CHUNK);
  return Array.from({ length: chunks }, (_, i) =>
    group(ctx, `${ctx.system}-agents.inventory${chunks > 1 ? `-${i + 1}` : ''}`, perAgent.slice(i * INVENTORY_CHUNK, (i + 1) * INVENTORY_CHUNK).flat()),
  );
}

/**
 * Health score 0-100, the reference design's weights: -50 when no target is up (scaled by the
 * share of pods down), up to -25 for errors (linear up to the error threshold), -15 when p95 is
 * over its threshold, -15/-30 for CPU above 60%/80% of the limit, -10/-25 for memory above 70%/85%.
 */
function healthScore(ctx: SystemContext): string {
  const { on } = ctx;
  const info = rec(ctx, 'agent:info:static');
  const zero = `0 * ${info}`;
  const term = (expr: string) => ` - on(${on}) group_left() (${expr} or on(${on}) ${zero})`;
  const cpu = `max by (${ctx.by}) (${rec(ctx, 'agent_pod_container:cpu_usage:ratio_limit')})`;
  const mem = `max by (${ctx.by}) (${rec(ctx, 'agent_pod_container:memory_working_set:ratio_limit')})`;
  return (
    `clamp(100 * ${info}` +
    ` - on(${on}) group_left() (50 * (1 - (${rec(ctx, 'agent:up:avg')} or on(${on}) ${zero})))` +
    term(`25 * clamp_max((${rec(ctx, 'agent:errors:ratio_rate5m')} >= 0) / ${num(ctx.opts.thresholds.errorRatio)}, 1)`) +
    term(`15 * (${compareThreshold(ctx, rec(ctx, `agent:${DURATION}:p95_5m`), '> bool', 'latencyP95Seconds')})`) +
    term(`15 * (${cpu} > bool 0.6) + 15 * (${cpu} > bool 0.8)`) +
    term(`10 * (${mem} > bool 0.7) + 15 * (${mem} > bool 0.85)`) +
    `, 0, 100)`
  );
}

// ---------------------------------------------------------------------------------------------
// Alerts
// ---------------------------------------------------------------------------------------------

/** One built-in alert rule with the parameters its text and its unit tests need. */
export interface BuiltInAlert {
  readonly name: AlertName;
  readonly params: RuleParams;
  readonly rule: AlertingRule;
}

function builtInAlerts(ctx: SystemContext): BuiltInAlert[] {
  const { on } = ctx;
  const o = ctx.opts;
  const out: BuiltInAlert[] = [];
  const info = rec(ctx, 'agent:info:static');
  const withInfo = (expr: string) => `(${expr}) * on(${on}) group_left(component, team) ${info}`;
  const guard = (rate: string, window: string) => `(${rec(ctx, rate)} * ${num(winSeconds(ctx, window))} >= ${num(o.minInvocations)})`;
  const add = (name: AlertName, expr: string, extra: { labels?: Record<string, string>; params?: Partial<RuleParams>; for?: string } = {}) => {
    if (o.disabledAlerts.includes(name)) return;
    const doc = ALERT_DOCS[name];
    const nominalFor = o.alertFor[name] ?? extra.for ?? doc.for;
    const params: RuleParams = { ...extra.params, for: nominalFor };
    const vars = GO_VARS(doc.valueFormat);
    const def: AlertDefinition = {
      alert: name,
      expr,
      for: win(ctx, nominalFor),
      severity: o.alertSeverities[name] ?? doc.level,
      labels: extra.labels,
      summary: doc.summary(vars, params),
      description: doc.description(vars, params),
    };
    out.push({ name, params, rule: renderAlert(def, o) });
  };

  // Not for an agent scaled to zero on purpose: its Deployment wants 0 replicas, or it scales to
  // zero and has no target at all while nothing says it should run (no kube-state-metrics).
  const up = `up${sel(ctx)}`;
  const wanted = rec(ctx, 'agent:deployment_spec_replicas:sum');
  const idle = ctx.specs.some(scalesToZero)
    ? ` unless on(${on}) (${rec(ctx, 'agent:scale_to_zero:static')} unless on(${on}) ${up} unless on(${on}) (${wanted} > 0))`
    : '';
  add('AgentDown', `${info} unless on(${on}) (${up} == 1) unless on(${on}) (${wanted} == 0)${idle}`);
  add(
    'AgentHighErrorRate',
    withInfo(`(${compareThreshold(ctx, rec(ctx, 'agent:errors:ratio_rate5m'), '>', 'errorRatio')}) and on(${on}) ${guard('agent:invocations:rate5m', '5m')}`),
  );
  for (const [quantile, key, name] of [['0.95', 'latencyP95Seconds', 'p95'], ['0.99', 'latencyP99Seconds', 'p99']] as const) {
    add(
      'AgentHighLatency',
      withInfo(`(${compareThreshold(ctx, rec(ctx, `agent:${DURATION}:${name}_5m`), '>', key)}) and on(${on}) ${guard('agent:invocations:rate5m', '5m')}`),
      { labels: { quantile }, params: { quantile } },
    );
  }
  add('AgentHighCpu', withInfo(compareThreshold(ctx, rec(ctx, 'agent_pod_container:cpu_usage:ratio_limit'), '>', 'cpuRatio')));
  add('AgentHighMemory', withInfo(compareThreshold(ctx, rec(ctx, 'agent_pod_container:memory_working_set:ratio_limit'), '>', 'memoryRatio')));
  add('AgentRestarting', withInfo(compareThreshold(ctx, rec(ctx, 'agent_pod_container:restarts:increase15m'), '>=', 'restarts')));
  if (ctx.specs.some((s) => s.scaling.kind !== 'fixed')) {
    add(
      'AgentNotScaling',
      withInfo(
        `${rec(ctx, 'agent:hpa_current_replicas:sum')} >= on(${on}) group_left() ${rec(ctx, 'agent:hpa_max_replicas:sum')}` +
          ` and on(${on}) (${rec(ctx, 'agent:hpa_max_replicas:sum')} > on(${on}) group_left() ${rec(ctx, 'agent:hpa_min_replicas:sum')})`,
      ),
    );
  }
  add(
    'SidecarCacheHitRateLow',
    withInfo(`(${compareThreshold(ctx, rec(ctx, 'agent:cache_hits:ratio_rate15m'), '<', 'cacheHitRatio')}) and on(${on}) ${guard('agent:cache_requests:rate15m', '15m')}`),
  );

  for (const b of burnAlerts(ctx, withInfo, guard)) add(b.name, b.expr, { for: b.for, labels: b.labels, params: b.params });
  return out;
}

function alertGroup(ctx: SystemContext): { group: RuleGroup; alerts: BuiltInAlert[] } {
  const alerts = builtInAlerts(ctx);
  return { group: group(ctx, `${ctx.system}-agents.alerts`, alerts.map((a) => a.rule)), alerts };
}

// ---------------------------------------------------------------------------------------------
// Public functions
// ---------------------------------------------------------------------------------------------

/** KEDA scales the agent to zero replicas when idle. */
export function scalesToZero(spec: AgentSpec): boolean {
  return spec.scaling.kind === 'inflight' && spec.scaling.scaleToZero;
}

function contexts(specs: readonly AgentSpec[], options: MonitoringOptions): SystemContext[] {
  const opts = resolveOptions(options);
  return [...systemsOf(specs).entries()].map(([system, list]) => systemContext(system, list, opts));
}

/** Recording rules: per system the per-agent constants (`<system>-agents.inventory`) and `<system>-agents.recording`. */
export function recordingRules(specs: readonly AgentSpec[], options: MonitoringOptions = {}): RuleGroup[] {
  return contexts(specs, options).flatMap((c) => [...inventoryGroups(c), recordingGroup(c)]);
}

/** SLO objectives, error-ratio windows and error-budget rules (`<system>-agents.slo`) for agents with an `slo`. */
export function sloRules(specs: readonly AgentSpec[], options: MonitoringOptions = {}): RuleGroup[] {
  return contexts(specs, options).map(sloGroup).filter((g): g is RuleGroup => !!g);
}

/** Alerting rules (`<system>-agents.alerts`), including the SLO burn-rate alerts. */
export function alertRules(specs: readonly AgentSpec[], options: MonitoringOptions = {}): RuleGroup[] {
  return contexts(specs, options).map((c) => alertGroup(c).group);
}

/** Every built-in alert rule with its parameters, per system (for unit-test generation and docs). */
export function builtInAlertRules(specs: readonly AgentSpec[], options: MonitoringOptions = {}): Map<string, BuiltInAlert[]> {
  return new Map(contexts(specs, options).map((c) => [c.system, alertGroup(c).alerts]));
}

/**
 * All rule groups, per system in evaluation order: inventory (per-agent constants, in chunks
 * of INVENTORY_CHUNK agents), recording, SLO, alerts, edge, front door (agents behind the sidecar's proxy), models (agents with `models`), workload; then one `custom-alerts` group with
 * `customAlerts` when given.
 */
export function ruleGroups(specs: readonly AgentSpec[], options: MonitoringOptions = {}, customAlerts: readonly AlertDefinition[] = []): RuleGroup[] {
  const opts = resolveOptions(options);
  const out: RuleGroup[] = [];
  for (const ctx of contexts(specs, opts)) {
    out.push(...inventoryGroups(ctx), recordingGroup(ctx));
    const s = sloGroup(ctx);
    if (s) out.push(s);
    out.push(alertGroup(ctx).group);
    out.push(edgeRuleGroup(ctx));
    const f = frontdoorRuleGroup(ctx);
    if (f) out.push(f);
    const m = modelRuleGroup(ctx);
    if (m) out.push(m);
    out.push(workloadRuleGroup(ctx));
  }
  if (customAlerts.length > 0) {
    out.push({ name: 'custom-alerts', ...(opts.evaluationInterval ? { interval: opts.evaluationInterval } : {}), rules: customAlerts.map((d) => renderAlert(d, opts)) });
  }
  return out;
}

