/**
 * Markdown generated from the alert catalog and the rule builders: the runbook pages
 * (docs/runbooks/*.md) and the reference tables of docs/monitoring.md. Pure.
 */
import { BURN_RATE_WINDOWS } from './slo-rules';
import { ALERT_DOCS } from './catalog';
import { MODEL_ALERT_DOCS, MODEL_ALERT_NAMES, MODEL_RECORDING_RULE_DOCS, ModelAlertName } from './model-catalog';
import { EDGE_ALERT_DOCS, EDGE_ALERT_NAMES, EDGE_RECORDING_RULE_DOCS, EdgeAlertName } from './edge-catalog';
import { FRONTDOOR_ALERT_DOCS, FRONTDOOR_ALERT_NAMES, FRONTDOOR_RECORDING_RULE_DOCS, FrontdoorAlertName } from './frontdoor-catalog';
import { ALERT_NAMES, AlertName, DEFAULT_SEVERITIES, DEFAULT_THRESHOLDS, kebabCase } from './options';
import { WORKLOAD_ALERT_DOCS, WORKLOAD_ALERT_NAMES, WORKLOAD_RECORDING_RULE_DOCS, WorkloadAlertName } from './workload-catalog';

/** Built-in, workload, model-call, edge and front-door alerts: every one has a runbook page and a row in the docs. */
type AnyAlertName = AlertName | WorkloadAlertName | ModelAlertName | EdgeAlertName | FrontdoorAlertName;
const ALL_ALERT_NAMES: readonly AnyAlertName[] = [...ALERT_NAMES, ...WORKLOAD_ALERT_NAMES, ...MODEL_ALERT_NAMES, ...EDGE_ALERT_NAMES, ...FRONTDOOR_ALERT_NAMES];
const ALL_ALERT_DOCS = { ...ALERT_DOCS, ...WORKLOAD_ALERT_DOCS, ...MODEL_ALERT_DOCS, ...EDGE_ALERT_DOCS, ...FRONTDOOR_ALERT_DOCS };

/** What each recorded series means (a test fails when a generated rule is missing here). */
export const RECORDING_RULE_DOCS: Readonly<Record<string, string>> = {
  'agent:info:static': 'Constant 1 per monitored agent, with `component` and `team`: the list of agents the system should run; alerts join it for the `team` label.',
  'agent:up:avg': 'Share of the agent\'s scrape targets (pods) that are up.',
  'agent:invocations:rate5m': 'Invocations per second over 5m (`agent_invocations_total`).',
  'agent:errors:rate5m': 'Failed invocations per second over 5m (`outcome="error"`: through the sidecar proxy a 5xx or 429 from the agent, or the proxy\'s own failure; other 4xx are successes).',
  'agent:errors:ratio_rate5m': 'Failed / all invocations over 5m (0 when nothing failed, absent without traffic).',
  'agent:errors_by_type:rate5m': 'Failed invocations per second by `error_type` (`agent_errors_total`).',
  'agent:gen_ai_client_operation_duration_seconds:p50_5m': 'Median operation duration over 5m.',
  'agent:gen_ai_client_operation_duration_seconds:p95_5m': '95th percentile operation duration over 5m.',
  'agent:gen_ai_client_operation_duration_seconds:p99_5m': '99th percentile operation duration over 5m.',
  'agent:gen_ai_client_token_usage:rate5m': 'Tokens per second by `gen_ai_token_type` (input/output).',
  'agent:inflight_invocations:sum': 'Invocations in progress (`agent_inflight_invocations`).',
  'agent:cache_requests:rate15m': 'Sidecar cache lookups per second over 15m.',
  'agent:cache_hits:ratio_rate15m': 'Cache hits / lookups over 15m.',
  'agent_pod_container:cpu_usage:ratio_limit': 'Per pod and container (`agent`, `agent-sidecar`): CPU usage over 5m / CPU limit (cAdvisor, kube-state-metrics).',
  'agent_pod_container:memory_working_set:ratio_limit': 'Per pod and container: working set / memory limit.',
  'agent_pod_container:restarts:increase15m': 'Per pod and container: restarts in the last 15m.',
  'agent:scale_to_zero:static': 'Constant 1 per agent that KEDA scales to zero when idle (`autoscaling.scaleToZero`): AgentDown expects no target for it while nothing says it should run.',
  'agent:deployment_spec_replicas:sum': 'Replicas the agent\'s Deployment wants (`kube_deployment_spec_replicas`); 0 = scaled to zero on purpose, so AgentDown stays silent.',
  'agent:hpa_current_replicas:sum': 'Current replicas of the agent\'s HorizontalPodAutoscaler (`<agent>-hpa`, also for KEDA\'s HPA; KEDA\'s default name `keda-hpa-<agent>-scaler` matches too).',
  'agent:hpa_max_replicas:sum': 'maxReplicas of the HPA.',
  'agent:hpa_min_replicas:sum': 'minReplicas of the HPA.',
  'agent:error_ratio:threshold': 'Per-agent override of `errorRatio` (only agents that override it).',
  'agent:latency_p95_seconds:threshold': 'Per-agent p95 threshold (overrides and `slo.latencyP95Seconds`).',
  'agent:latency_p99_seconds:threshold': 'Per-agent override of `latencyP99Seconds`.',
  'agent:cpu_ratio:threshold': 'Per-agent override of `cpuRatio`.',
  'agent:memory_ratio:threshold': 'Per-agent override of `memoryRatio`.',
  'agent:restarts:threshold': 'Per-agent override of `restarts`.',
  'agent:cache_hit_ratio:threshold': 'Per-agent override of `cacheHitRatio`.',
  'agent:health:score': 'Health 0-100: -50 x share of pods down, up to -25 for errors (linear to the error threshold), -15 when p95 is over its threshold, -15/-30 for CPU above 60%/80% of the limit, -10/-25 for memory above 70%/85%.',
  'agent:slo_objective:ratio': 'The SLO objective per agent: `slo="availability"` (e.g. 0.995) and `slo="latency"` (0.95 at bucket `le`), with `slo_window`.',
  'agent:invocations:rate<w>': 'Invocations per second over each SLO window w (the burn-rate windows of the agent\'s SLO period, e.g. 30m, 1h, 2h, 6h, 1d, 3d for 30d, and the period itself), SLO agents only.',
  'agent:errors:ratio_rate<w>': 'Error ratio over each SLO window w, SLO agents only.',
  'agent:slow_invocations:ratio_rate<w>': 'Share of invocations slower than the latency objective (bucket `le`) over each window w.',
  'agent:error_budget:remaining_ratio': 'Availability error budget left over the SLO window (1 = untouched, 0 = spent, < 0 = overspent).',
  'agent:latency_budget:remaining_ratio': 'Latency error budget left over the SLO window.',
  ...WORKLOAD_RECORDING_RULE_DOCS,
  ...MODEL_RECORDING_RULE_DOCS,
  ...EDGE_RECORDING_RULE_DOCS,
  ...FRONTDOOR_RECORDING_RULE_DOCS,
};

/** The documented name of a recorded series (`agent:errors:ratio_rate1h` -> `agent:errors:ratio_rate<w>`). */
export function recordingDocKey(record: string): string {
  if (RECORDING_RULE_DOCS[record]) return record;
  return record.replace(/(rate)((\d+(ms|s|m|h|d|w|y))+)$/, '$1<w>');
}

/** One runbook page. */
export function runbookMarkdown(name: AnyAlertName): string {
  const d = ALL_ALERT_DOCS[name];
  const lines = [
    `<!-- Generated by scripts/generate-monitoring-artifacts.ts from constructs/rules/${name in MODEL_ALERT_DOCS ? 'model-catalog' : name in EDGE_ALERT_DOCS ? 'edge-catalog' : name in FRONTDOOR_ALERT_DOCS ? 'frontdoor-catalog' : name in WORKLOAD_ALERT_DOCS ? 'workload-catalog' : 'catalog'}.ts; do not edit. -->`,
    `# ${name}`,
    '',
    `**Severity:** ${d.level}${d.level === 'emergency' ? ' (pages: `page="true"`)' : ''} (label \`severity="${DEFAULT_SEVERITIES[d.level]}"\` by default) · **For:** ${d.for}${forNote(name)}`,
    '',
    `Fires when: ${d.brief}.`,
    '',
    '## Meaning',
    '',
    d.meaning,
    '',
    '## Impact',
    '',
    d.impact,
    '',
    '## Diagnosis',
    '',
    ...d.diagnosis.map((x) => (x.startsWith('PromQL:') || x.startsWith('kubectl') ? `- \`${x.replace(/^PromQL: /, '')}\`` : `- ${x}`)),
    '',
    '## Mitigation',
    '',
    ...d.mitigation.map((x) => `- ${x}`),
    '',
    '## Labels',
    '',
    'Every alert carries `agent`, `namespace`, `system`, `component`, `team` (when the agent has one), `severity`, ' +
      'and `cluster` when the stack sets one. Route on `team` and `severity` in Alertmanager.',
    '',
    `See [docs/monitoring.md](../monitoring.md) for thresholds and options.`,
    '',
  ];
  return lines.join('\n');
}

function forNote(name: AnyAlertName): string {
  if (!name.includes('BudgetBurn')) return '';
  const pairs = BURN_RATE_WINDOWS.filter((w) => w.page === !name.endsWith('Slow'));
  return ` (${pairs.map((w) => `${w.burnRate}x: ${w.for}`).join(', ')})`;
}

/** Runbook pages keyed by path under docs/runbooks/, plus an index. */
export function runbookFiles(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of ALL_ALERT_NAMES) out[`${kebabCase(name)}.md`] = runbookMarkdown(name);
  out['README.md'] = [
    '<!-- Generated by scripts/generate-monitoring-artifacts.ts; do not edit. -->',
    '# Runbooks',
    '',
    'One page per alert of `MonitoringStack`; each alert\'s `runbook_url` points here.',
    '',
    '| Alert | Severity | Fires when |',
    '| --- | --- | --- |',
    ...ALL_ALERT_NAMES.map((n) => `| [${n}](${kebabCase(n)}.md) | ${ALL_ALERT_DOCS[n].level} | ${ALL_ALERT_DOCS[n].brief} |`),
    '',
  ].join('\n');
  return out;
}

/** Markdown tables for docs/monitoring.md: alerts, thresholds, recording rules. */
export function alertTableMarkdown(): string {
  return [
    '| Alert | Level | For | Fires when | Runbook |',
    '| --- | --- | --- | --- | --- |',
    ...ALL_ALERT_NAMES.map((n) => {
      const d = ALL_ALERT_DOCS[n];
      return `| \`${n}\` | ${d.level} | ${d.for}${forNote(n)} | ${d.brief} | [${kebabCase(n)}.md](runbooks/${kebabCase(n)}.md) |`;
    }),
  ].join('\n');
}

export function thresholdTableMarkdown(): string {
  const docs: Record<string, string> = {
    errorRatio: 'AgentHighErrorRate: share of failed invocations over 5m',
    latencyP95Seconds: 'AgentHighLatency (p95), seconds; defaults to the agent\'s `slo.latencyP95Seconds`',
    latencyP99Seconds: 'AgentHighLatency (p99), seconds',
    cpuRatio: 'AgentHighCpu: share of the CPU limit',
    memoryRatio: 'AgentHighMemory: share of the memory limit',
    restarts: 'AgentRestarting: restarts within 15m',
    cacheHitRatio: 'SidecarCacheHitRateLow: fires below this hit ratio',
  };
  return [
    '| Threshold | Default | Used by |',
    '| --- | --- | --- |',
    ...Object.entries(DEFAULT_THRESHOLDS).map(([k, v]) => `| \`${k}\` | ${v} | ${docs[k]} |`),
  ].join('\n');
}

export function recordingTableMarkdown(): string {
  return ['| Recorded series | Meaning |', '| --- | --- |', ...Object.entries(RECORDING_RULE_DOCS).map(([k, v]) => `| \`${k}\` | ${v} |`)].join('\n');
}
