/**
 * Alerts of the mesh edge (local rate limits of AgentGateway routes and MeshPolicy agents), as
 * data: their runbook and doc rows are generated from here like the built-in ones.
 */
import type { AlertDoc } from './catalog';

export const EDGE_ALERT_NAMES = ['AgentRateLimited'] as const;
export type EdgeAlertName = (typeof EDGE_ALERT_NAMES)[number];

export const EDGE_ALERT_THRESHOLDS = {
  /** AgentRateLimited: share of an agent's requests answered 429 by a mesh rate limiter over 5m. */
  rateLimitedRatio: 0.05,
  /** Fewest requests in 5m before the ratio counts (a handful of retries is no signal). */
  minRequests: 100,
} as const;

type EdgeAlertDoc = Omit<AlertDoc, 'name'> & { readonly name: EdgeAlertName };
const q = (name: string) => `\`${name}\``;

export const EDGE_ALERT_DOCS: Readonly<Record<EdgeAlertName, EdgeAlertDoc>> = {
  AgentRateLimited: {
    name: 'AgentRateLimited',
    level: 'warning',
    for: '10m',
    valueFormat: 'percent',
    summary: (v) => `Agent ${v.agent} rejects ${v.value} of its requests by rate limit`,
    description: (v) =>
      `${v.value} of the requests to agent ${v.agent} in namespace ${v.namespace} over the last 5 minutes were answered 429 by a mesh local rate limit (the AgentGateway route or the agent's own rateLimit).`,
    brief: `share of requests to the agent answered 429 by an Envoy local rate limit (response flag RL) over 5m above ${EDGE_ALERT_THRESHOLDS.rateLimitedRatio * 100}%, with at least ${EDGE_ALERT_THRESHOLDS.minRequests} requests`,
    meaning:
      `${q('istio_requests_total')} with ${q('response_flags="RL"')} (reported by the Envoy that limited the request: the ingress gateway or the agent's sidecar) divided by every request to the agent's Service as its callers report it (${q('reporter="source"')}). Each rejected request is counted once, whichever Envoy rejected it.`,
    impact: 'Clients (end users through the gateway, or other agents) get 429 and must retry or fail: one noisy client may be starving others, or the limit is below real demand.',
    diagnosis: [
      'PromQL: sum by (reporter, source_workload, source_workload_namespace) (rate(istio_requests_total{destination_service_name="<agent>", response_flags="RL"}[5m]))',
      'kubectl -n <namespace> get envoyfilter -l app.kubernetes.io/managed-by=cdk8s-agents   # the limits in force (gateway routes: in the gateway namespace)',
      'Access logs of the gateway or the agent\'s istio-proxy: response code 429 with flag RL and the `x-local-rate-limit` header.',
    ],
    mitigation: [
      'If one client floods the agent, limit it upstream or give it its own route with a lower limit.',
      'If the demand is real, raise `rateLimit` (per route or per agent) or add replicas: the buckets are per gateway pod and per agent replica.',
    ],
  },
};

/** What each recorded series of the edge group means. */
export const EDGE_RECORDING_RULE_DOCS: Readonly<Record<string, string>> = {
  'agent:mesh_requests:rate5m': 'Requests per second to the agent\'s Service as its callers report them (`istio_requests_total`, `reporter="source"`).',
  'agent:mesh_rate_limited:rate5m': 'Requests per second to the agent answered 429 by a mesh local rate limit (`response_flags="RL"`).',
  'agent:mesh_rate_limited:ratio_rate5m': 'Rate-limited / all requests to the agent over 5m.',
};
