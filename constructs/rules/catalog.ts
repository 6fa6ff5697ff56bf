/**
 * The built-in alerts as data: level, `for:`, annotation templates and the runbook text.
 * The rules, the promtool unit tests, docs/runbooks/*.md and docs/monitoring.md are all
 * generated from this one table, so a runbook link cannot 404 and a doc cannot drift.
 */
import { AlertName } from './options';
import { SeverityLevel } from './types';

/** How an alert's value is printed in its description. */
export type ValueFormat = 'percent' | 'seconds' | 'count';

/** Placeholders of the annotation templates: Go template snippets in rules, concrete values in tests. */
export interface TemplateVars {
  readonly agent: string;
  readonly namespace: string;
  readonly pod: string;
  readonly container: string;
  readonly value: string;
}

/** Per-rule parameters an alert's text may mention. */
export interface RuleParams {
  readonly for: string;
  readonly quantile?: string;
  readonly burnRate?: string;
  readonly longWindow?: string;
  readonly shortWindow?: string;
}

export interface AlertDoc {
  readonly name: AlertName;
  readonly level: SeverityLevel;
  readonly for: string;
  readonly valueFormat: ValueFormat;
  readonly summary: (v: TemplateVars, p: RuleParams) => string;
  readonly description: (v: TemplateVars, p: RuleParams) => string;
  /** One line for the docs table. */
  readonly brief: string;
  readonly meaning: string;
  readonly impact: string;
  readonly diagnosis: readonly string[];
  readonly mitigation: readonly string[];
}

/** Go template of the value, per format (what Prometheus renders). */
export function goValue(fmt: ValueFormat): string {
  switch (fmt) {
    case 'percent':
      return '{{ $value | humanizePercentage }}';
    case 'seconds':
      return '{{ $value | printf "%.2f" }}s';
    case 'count':
      return '{{ $value | printf "%.0f" }}';
  }
}

/** The value as Prometheus renders `goValue(fmt)` (for expected annotations in unit tests). */
export function renderValue(fmt: ValueFormat, v: number): string {
  switch (fmt) {
    case 'percent':
      // humanizePercentage is fmt.Sprintf("%.4g%%", v*100); exact for the magnitudes used here.
      return `${Number((v * 100).toPrecision(4))}%`;
    case 'seconds':
      return `${v.toFixed(2)}s`;
    case 'count':
      return v.toFixed(0);
  }
}

export const GO_VARS = (fmt: ValueFormat): TemplateVars => ({
  agent: '{{ $labels.agent }}',
  namespace: '{{ $labels.namespace }}',
  pod: '{{ $labels.pod }}',
  container: '{{ $labels.container }}',
  value: goValue(fmt),
});

const q = (name: string) => `\`${name}\``;

export const ALERT_DOCS: Readonly<Record<AlertName, AlertDoc>> = {
  AgentDown: {
    name: 'AgentDown',
    level: 'critical',
    for: '1m',
    valueFormat: 'count',
    summary: (v) => `Agent ${v.agent} is down`,
    description: (v, p) =>
      `No metrics target of agent ${v.agent} in namespace ${v.namespace} has been up for ${p.for}: no pod is running, or the sidecar's metrics endpoint is unreachable.`,
    brief: 'no scrape target of the agent is up (`up == 0` for every pod, or no pod at all), unless it is scaled to zero on purpose',
    meaning:
      `Prometheus has no successful scrape of any pod of the agent: every target of the scrape job reports ${q('up == 0')}, or the agent has no target at all (Deployment deleted, pods not scheduled, Service without endpoints). ` +
      `An agent scaled to zero on purpose does not fire it: its Deployment wants 0 replicas (${q('kube_deployment_spec_replicas == 0')}, kube-state-metrics), or it scales to zero with KEDA (${q('autoscaling.scaleToZero')}) and has no target at all while nothing says it should run. ` +
      `Once KEDA wakes it (desired replicas above 0), or a target exists but is down, it fires again.`,
    impact: 'Callers of the agent fail or time out, and every other alert of the agent is blind, since they read the sidecar metrics.',
    diagnosis: [
      'kubectl -n <namespace> get deploy,pods -l app.kubernetes.io/name=<agent>',
      'kubectl -n <namespace> describe pod <pod>   # events: scheduling, image pulls, probes',
      'kubectl -n <namespace> logs <pod> -c agent-sidecar --tail=100',
      'PromQL: up{job="<system>-agents", agent="<agent>"}  (and the target page of Prometheus for the scrape error)',
    ],
    mitigation: [
      'If pods are crash-looping, see [AgentRestarting](agent-restarting.md) and roll back the last change (`kubectl rollout undo deploy/<agent>`).',
      'If pods run but the target is down, check that the Service has a port named `metrics` and that a NetworkPolicy lets Prometheus reach port 9464.',
      'If there are no pods, check the Deployment replicas, the HorizontalPodAutoscaler (or KEDA ScaledObject: `kubectl -n <namespace> describe scaledobject <agent>-scaler`) and quota/scheduling events.',
    ],
  },
  AgentHighErrorRate: {
    name: 'AgentHighErrorRate',
    level: 'critical',
    for: '5m',
    valueFormat: 'percent',
    summary: (v) => `Agent ${v.agent} fails ${v.value} of its invocations`,
    description: (v) =>
      `${v.value} of the invocations of agent ${v.agent} in namespace ${v.namespace} failed over the last 5 minutes (outcome="error").`,
    brief: 'share of failed invocations over 5m above `errorRatio` (default 5%), with at least `minInvocations` calls',
    meaning:
      `The ratio ${q('agent:errors:ratio_rate5m')} (failed / all invocations reported by the sidecar) is above the agent's ${q('errorRatio')} threshold, and the agent served at least ${q('minInvocations')} invocations in the window, so a single failed call out of two does not fire it. Through the sidecar's front door an invocation fails when the agent answers 5xx or 429 or the proxy answers for it (${q('upstream_*')}, ${q('queue_*')}, ${q('client_closed')}); any other 4xx is the caller's fault and counts as a success.`,
    impact: 'Users of the agent get errors; agents that call it retry, which adds load and cost.',
    diagnosis: [
      'PromQL: topk(5, agent:errors_by_type:rate5m{agent="<agent>"})  # which error_type dominates',
      '`error_type`: `5xx` the agent failed; `429` the agent shed calls or its model quota ran out; `queue_full`/`queue_timeout` the sidecar\'s concurrency limit (`maxConcurrentRequests`) was reached; `upstream_*` the agent was unreachable, slow or broke the connection; `client_closed` callers gave up.',
      'kubectl -n <namespace> logs deploy/<agent> -c agent --since=15m',
      'Check the model provider status and the agent\'s secret (API key) if errors are auth or rate-limit errors.',
    ],
    mitigation: [
      'Roll back a recent deploy (`kubectl rollout undo deploy/<agent>`), or shift traffic away from the canary.',
      'For provider rate limits, lower concurrency (`maxConcurrentRequests`) or raise the provider quota.',
    ],
  },
  AgentHighLatency: {
    name: 'AgentHighLatency',
    level: 'warning',
    for: '10m',
    valueFormat: 'seconds',
    summary: (v, p) => `Agent ${v.agent} p${pct(p.quantile)} latency is ${v.value}`,
    description: (v, p) =>
      `The ${pct(p.quantile)}th percentile of gen_ai_client_operation_duration_seconds of agent ${v.agent} in namespace ${v.namespace} is ${v.value} over the last 5 minutes.`,
    brief: 'p95 (or p99) operation duration over 5m above `latencyP95Seconds` (default: the SLO, else 60 s) or `latencyP99Seconds` (120 s)',
    meaning:
      `The recorded quantile ${q('agent:gen_ai_client_operation_duration_seconds:p95_5m')} (or ${q('p99_5m')}), computed from the sidecar's histogram with the OpenTelemetry GenAI bucket boundaries, is above the agent's threshold for 10 minutes, with enough traffic to be meaningful.`,
    impact: 'Slow answers; callers may hit their own timeouts and retry.',
    diagnosis: [
      'PromQL: agent:gen_ai_client_operation_duration_seconds:p50_5m{agent="<agent>"} vs p95/p99 (is everything slow or only the tail?)',
      'PromQL: agent_inflight_invocations{agent="<agent>"}  # queueing behind the concurrency limit?',
      'Check model provider latency and the agent\'s CPU throttling ([AgentHighCpu](agent-high-cpu.md)).',
    ],
    mitigation: [
      'Scale out (raise `autoscaling.minReplicas`) if in-flight invocations sit at `maxConcurrentRequests`.',
      'Use a faster model or a cache for repeated prompts; raise the threshold if the new latency is expected.',
    ],
  },
  AgentHighCpu: {
    name: 'AgentHighCpu',
    level: 'warning',
    for: '15m',
    valueFormat: 'percent',
    summary: (v) => `Agent ${v.agent} container ${v.container} uses ${v.value} of its CPU limit`,
    description: (v) =>
      `Container ${v.container} of pod ${v.pod} (agent ${v.agent}, namespace ${v.namespace}) has used ${v.value} of its CPU limit for 15 minutes and is being throttled.`,
    brief: 'container CPU usage (cAdvisor) above `cpuRatio` (default 90%) of its limit (kube-state-metrics)',
    meaning:
      `${q('rate(container_cpu_usage_seconds_total[5m])')} divided by ${q('kube_pod_container_resource_limits{resource="cpu"}')} for the ${q('agent')} or ${q('agent-sidecar')} container is above the threshold. Needs cAdvisor and kube-state-metrics (kube-prometheus-stack scrapes both).`,
    impact: 'CFS throttling: every request gets slower, probes may time out and restart the pod.',
    diagnosis: [
      'PromQL: agent_pod_container:cpu_usage:ratio_limit{agent="<agent>"}',
      'kubectl -n <namespace> top pod -l app.kubernetes.io/name=<agent> --containers',
    ],
    mitigation: [
      'Raise `resources.limits.cpu` (or the sidecar\'s), or scale out with a lower `targetCpuPercent`.',
    ],
  },
  AgentHighMemory: {
    name: 'AgentHighMemory',
    level: 'warning',
    for: '15m',
    valueFormat: 'percent',
    summary: (v) => `Agent ${v.agent} container ${v.container} uses ${v.value} of its memory limit`,
    description: (v) =>
      `Container ${v.container} of pod ${v.pod} (agent ${v.agent}, namespace ${v.namespace}) has used ${v.value} of its memory limit for 15 minutes; it will be OOM-killed if it grows.`,
    brief: 'container working set above `memoryRatio` (default 90%) of its memory limit',
    meaning:
      `${q('container_memory_working_set_bytes')} divided by ${q('kube_pod_container_resource_limits{resource="memory"}')} is above the threshold for the ${q('agent')} or ${q('agent-sidecar')} container.`,
    impact: 'An OOM kill drops every in-flight invocation of the pod.',
    diagnosis: [
      'PromQL: agent_pod_container:memory_working_set:ratio_limit{agent="<agent>"}',
      'For the sidecar: agent_cache_bytes{agent="<agent>"} (the local cache is bounded by cacheMaxBytes).',
    ],
    mitigation: [
      'Raise `resources.limits.memory`; for the sidecar lower `cacheMaxBytes` or raise its limit.',
      'Look for a leak if usage grows steadily after each deploy.',
    ],
  },
  AgentRestarting: {
    name: 'AgentRestarting',
    level: 'warning',
    for: '5m',
    valueFormat: 'count',
    summary: (v) => `Agent ${v.agent} container ${v.container} restarted ${v.value} times`,
    description: (v) =>
      `Container ${v.container} of pod ${v.pod} (agent ${v.agent}, namespace ${v.namespace}) restarted ${v.value} times in the last 15 minutes.`,
    brief: 'at least `restarts` (default 3) container restarts within 15m (kube-state-metrics)',
    meaning: `${q('increase(kube_pod_container_status_restarts_total[15m])')} reached the threshold: the container crashes, is OOM-killed, or fails its liveness probe.`,
    impact: 'In-flight invocations of the pod are lost at each restart; capacity drops.',
    diagnosis: [
      'kubectl -n <namespace> describe pod <pod>   # Last State: reason (OOMKilled, Error) and exit code',
      'kubectl -n <namespace> logs <pod> -c <container> --previous',
    ],
    mitigation: [
      'OOMKilled: see [AgentHighMemory](agent-high-memory.md). Liveness failures under load: raise probe timeouts or capacity.',
      'A bad release: `kubectl rollout undo deploy/<agent>`.',
    ],
  },
  AgentNotScaling: {
    name: 'AgentNotScaling',
    level: 'warning',
    for: '30m',
    valueFormat: 'count',
    summary: (v) => `Agent ${v.agent} has been at its maximum replicas for a long time`,
    description: (v) =>
      `The HorizontalPodAutoscaler of agent ${v.agent} in namespace ${v.namespace} has run at its maximum of ${v.value} replicas for 30 minutes and cannot add capacity.`,
    brief: 'HPA (or KEDA\'s HPA) current replicas at `maxReplicas` for 30m (kube-state-metrics), when max > min',
    meaning:
      `${q('kube_horizontalpodautoscaler_status_current_replicas')} has been equal to ${q('kube_horizontalpodautoscaler_spec_max_replicas')} (and max > min) for 30 minutes. ` +
      `For KEDA-scaled agents (${q("autoscaling.metric: 'inflight'")}) this is the HPA KEDA manages: AgentService names it ${q('<agent>-hpa')} (the ScaledObject's ${q('advanced.horizontalPodAutoscalerConfig.name')}); KEDA's default name ${q('keda-hpa-<agent>-scaler')} is matched too.`,
    impact: 'No headroom: more load turns into queueing, latency and errors.',
    diagnosis: [
      'kubectl -n <namespace> describe hpa <agent>-hpa',
      'PromQL: agent:invocations:rate5m{agent="<agent>"} and agent_pod_container:cpu_usage:ratio_limit{agent="<agent>"}',
    ],
    mitigation: [
      'Raise `autoscaling.maxReplicas` (check quota and model provider limits first).',
      'If CPU is not the bottleneck (agents mostly wait on models), scale on in-flight invocations instead.',
    ],
  },
  SidecarCacheHitRateLow: {
    name: 'SidecarCacheHitRateLow',
    level: 'info',
    for: '30m',
    valueFormat: 'percent',
    summary: (v) => `Agent ${v.agent} cache hit ratio is ${v.value}`,
    description: (v) =>
      `Only ${v.value} of the sidecar cache lookups of agent ${v.agent} in namespace ${v.namespace} were hits over the last 15 minutes.`,
    brief: 'sidecar cache hit ratio over 15m below `cacheHitRatio` (default 20%), with at least `minInvocations` lookups',
    meaning: `${q('agent:cache_hits:ratio_rate15m')} (hits / lookups of ${q('agent_cache_requests_total')}) is below the threshold.`,
    impact: 'Repeated prompts go to the model again: more cost and latency. Informational.',
    diagnosis: [
      'PromQL: agent_cache_entries{agent="<agent>"}, rate(agent_cache_evictions_total{agent="<agent>"}[5m]) by (reason)',
      'Capacity evictions mean the cache is too small; TTL evictions mean entries expire before reuse.',
    ],
    mitigation: [
      'Raise `cacheMaxEntries`/`cacheMaxBytes` or `cacheDefaultTtlSeconds`; share the cache across replicas with `sidecar.redis`.',
      'If the workload has no repeats, disable the alert (`disabledAlerts`) or lower `cacheHitRatio` for the agent.',
    ],
  },
  AgentErrorBudgetBurn: {
    name: 'AgentErrorBudgetBurn',
    level: 'emergency',
    for: '2m',
    valueFormat: 'percent',
    summary: (v, p) => `Agent ${v.agent} is burning its error budget ${p.burnRate}x too fast`,
    description: (v, p) =>
      `${v.value} of the invocations of agent ${v.agent} in namespace ${v.namespace} failed over the last ${p.longWindow} (and still over the last ${p.shortWindow}): ${p.burnRate} times the rate its availability SLO allows.`,
    brief: 'availability SLO burn rate 14.4x over 1h and 5m, or 6x over 6h and 30m (pages; windows for a 30d SLO, scaled to `slo.window`)',
    meaning:
      'Multi-window, multi-burn-rate alert (Google SRE workbook, as sloth and pyrra generate it): the error ratio over a long and a short window are both above burn rate x (1 - objective). At 14.4x, 2% of a 30-day budget is gone in 1 hour; at 6x, 5% in 6 hours. ' +
      'For another `slo.window` the windows and `for:` scale by window / 30d (a 7d SLO: 14m/1m and 1h24m/7m), so each alert still means the same share of the budget spent; the alert\'s `long_window` and `short_window` labels say which.',
    impact: 'The agent will exhaust its error budget within days at this rate; users see failures now.',
    diagnosis: [
      'PromQL: agent:errors:ratio_rate5m{agent="<agent>"}, agent:error_budget:remaining_ratio{agent="<agent>"}',
      'Then follow [AgentHighErrorRate](agent-high-error-rate.md).',
    ],
    mitigation: [
      'Stop the bleeding first: roll back, shift traffic off the canary, or fail over to another model provider.',
    ],
  },
  AgentErrorBudgetBurnSlow: {
    name: 'AgentErrorBudgetBurnSlow',
    level: 'warning',
    for: '1h',
    valueFormat: 'percent',
    summary: (v, p) => `Agent ${v.agent} is slowly burning its error budget (${p.burnRate}x)`,
    description: (v, p) =>
      `${v.value} of the invocations of agent ${v.agent} in namespace ${v.namespace} failed over the last ${p.longWindow} (and over the last ${p.shortWindow}): ${p.burnRate} times the rate its availability SLO allows.`,
    brief: 'availability SLO burn rate 3x over 1d and 2h, or 1x over 3d and 6h (tickets; windows scaled to `slo.window`)',
    meaning:
      'The slow pair of the multi-window, multi-burn-rate alerts: at 3x, 10% of a 30-day budget is gone in a day; at 1x the budget lasts exactly the window. A ticket, not a page.',
    impact: 'The SLO will be missed this window unless the error rate comes down.',
    diagnosis: ['PromQL: agent:error_budget:remaining_ratio{agent="<agent>"} and agent:errors_by_type:rate5m{agent="<agent>"}'],
    mitigation: ['Plan a fix for the dominant error type; consider freezing risky releases until the budget recovers.'],
  },
  AgentLatencyBudgetBurn: {
    name: 'AgentLatencyBudgetBurn',
    level: 'emergency',
    for: '2m',
    valueFormat: 'percent',
    summary: (v, p) => `Agent ${v.agent} is burning its latency budget ${p.burnRate}x too fast`,
    description: (v, p) =>
      `${v.value} of the invocations of agent ${v.agent} in namespace ${v.namespace} were slower than its latency objective over the last ${p.longWindow} (and the last ${p.shortWindow}): ${p.burnRate} times what a p95 objective allows.`,
    brief: 'latency SLO (share of calls slower than `latencyP95Seconds`, objective 95%) burning 14.4x over 1h/5m or 6x over 6h/30m (pages; windows scaled to `slo.window`)',
    meaning:
      'A p95 latency objective means at most 5% of invocations may be slower than the objective. The share of slow invocations is read from the histogram bucket at the objective (rounded up to the next OpenTelemetry bucket boundary), over a long and a short window.',
    impact: 'Most users see slow answers now.',
    diagnosis: ['Follow [AgentHighLatency](agent-high-latency.md).'],
    mitigation: ['Scale out, shed load, or switch to a faster model; roll back a release that made calls slower.'],
  },
  AgentLatencyBudgetBurnSlow: {
    name: 'AgentLatencyBudgetBurnSlow',
    level: 'warning',
    for: '1h',
    valueFormat: 'percent',
    summary: (v, p) => `Agent ${v.agent} is slowly burning its latency budget (${p.burnRate}x)`,
    description: (v, p) =>
      `${v.value} of the invocations of agent ${v.agent} in namespace ${v.namespace} were slower than its latency objective over the last ${p.longWindow} (and the last ${p.shortWindow}): ${p.burnRate} times what a p95 objective allows.`,
    brief: 'latency SLO burning 3x over 1d/2h or 1x over 3d/6h (tickets; windows scaled to `slo.window`)',
    meaning: 'The slow pair of the latency burn-rate alerts; a ticket, not a page.',
    impact: 'The latency objective will be missed this window unless latency comes down.',
    diagnosis: ['PromQL: agent:latency_budget:remaining_ratio{agent="<agent>"}, agent:gen_ai_client_operation_duration_seconds:p95_5m{agent="<agent>"}'],
    mitigation: ['Plan capacity or model changes; revisit the objective if the workload changed.'],
  },
};

function pct(quantile?: string): string {
  return quantile ? String(Math.round(Number(quantile) * 100)) : '95';
}
