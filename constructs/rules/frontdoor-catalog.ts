/**
 * Alerts of the sidecar's inbound proxy (the agent's front door), as data: their runbook and doc
 * rows are generated from here like the built-in ones.
 */
import type { AlertDoc } from './catalog';

export const FRONTDOOR_ALERT_NAMES = ['AgentOverloaded'] as const;
export type FrontdoorAlertName = (typeof FRONTDOOR_ALERT_NAMES)[number];

export const FRONTDOOR_ALERT_THRESHOLDS = {
  /** AgentOverloaded: share of an agent's invocations its proxies turned away (queue full or queue timeout) over 5m. */
  shedRatio: 0.05,
} as const;

type FrontdoorAlertDoc = Omit<AlertDoc, 'name'> & { readonly name: FrontdoorAlertName };
const q = (name: string) => `\`${name}\``;

export const FRONTDOOR_ALERT_DOCS: Readonly<Record<FrontdoorAlertName, FrontdoorAlertDoc>> = {
  AgentOverloaded: {
    name: 'AgentOverloaded',
    level: 'warning',
    for: '10m',
    valueFormat: 'percent',
    summary: (v) => `Agent ${v.agent} turns away ${v.value} of its invocations at its concurrency limit`,
    description: (v) =>
      `The sidecar proxies of agent ${v.agent} in namespace ${v.namespace} answered ${v.value} of the invocations of the last 5 minutes with 503 themselves: every slot of maxConcurrentRequests was busy and the queue was full or the wait timed out.`,
    brief: `share of invocations the sidecar's inbound proxy answered 503 itself (queue full or queue timeout) over 5m above ${FRONTDOOR_ALERT_THRESHOLDS.shedRatio * 100}%, with at least \`minInvocations\` calls`,
    meaning:
      `${q('agent:proxy_shed:ratio_rate5m')}: requests the inbound proxy refused at the agent's concurrency limit (${q('agent_proxy_rejected_requests_total{reason=~"queue_full|queue_timeout"}')}) / all invocations. ` +
      `Every pod serves at most ${q('maxConcurrentRequests')} requests at once; more wait in a FIFO queue (${q('SIDECAR_MAX_QUEUE')}, ${q('SIDECAR_QUEUE_TIMEOUT_MS')}) and beyond it get 503 with Retry-After. ` +
      `These calls also count as errors (${q('error_type="queue_full"')} / ${q('"queue_timeout"')}), so AgentHighErrorRate and the error budget see them; this alert says why.`,
    impact: 'Callers get 503 and retry or fail: the agent has less capacity than its demand, or its calls got slower so each slot is held longer.',
    diagnosis: [
      'PromQL: sum by (pod, reason) (rate(agent_proxy_rejected_requests_total{agent="<agent>"}[5m]))   # which pods, queue full or timeout',
      'PromQL: agent:inflight_invocations:sum{agent="<agent>"} and agent_proxy_queued_requests{agent="<agent>"}   # slots busy, queue length',
      'PromQL: agent:gen_ai_client_operation_duration_seconds:p95_5m{agent="<agent>"}   # did the calls get slower?',
      'kubectl -n <namespace> get hpa,scaledobject -l app.kubernetes.io/name=<agent>   # at maxReplicas? (see AgentNotScaling)',
    ],
    mitigation: [
      'Add replicas: raise `autoscaling.maxReplicas`, or scale on in-flight calls (`autoscaling.metric: inflight`) so the autoscaler sees the queue before it overflows.',
      'If one pod can safely do more at once, raise `maxConcurrentRequests` (and its CPU and memory); if the calls got slower, look at the model provider (time to first token) and the agent\'s own dependencies.',
    ],
  },
};

/** What each recorded series of the front-door group means. */
export const FRONTDOOR_RECORDING_RULE_DOCS: Readonly<Record<string, string>> = {
  'agent:proxy_shed:rate5m': 'Invocations per second the inbound proxy answered 503 itself at the concurrency limit (`agent_proxy_rejected_requests_total`, `reason` queue_full or queue_timeout).',
  'agent:proxy_shed:ratio_rate5m': 'Shed / all invocations over 5m (0 when nothing was shed, absent without traffic).',
  'agent:agent_proxy_time_to_first_byte_seconds:p95_5m': '95th percentile of the time from a request\'s arrival at the proxy to the agent\'s response headers (`agent_proxy_time_to_first_byte_seconds`), over 5m.',
};
