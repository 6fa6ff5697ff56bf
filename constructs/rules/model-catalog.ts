/**
 * Alerts and recorded series of model calls through the sidecar gateway (AgentService
 * `models`), as data: their runbooks and doc tables are generated from here like the built-in ones.
 */
import type { AlertDoc } from './catalog';

export const MODEL_ALERT_NAMES = ['AgentModelProviderErrors', 'AgentTokenBudgetNearlySpent', 'AgentTimeToFirstTokenHigh'] as const;
export type ModelAlertName = (typeof MODEL_ALERT_NAMES)[number];

/** Fixed thresholds of the model alerts (the time-to-first-token objective is per agent: `models.timeToFirstTokenP95Seconds`). */
export const MODEL_ALERT_THRESHOLDS = {
  /** AgentModelProviderErrors: share of failed provider calls over 5m. */
  providerErrorRatio: 0.1,
  /** AgentTokenBudgetNearlySpent: share of `maxTokensPerMinute` used in the last minute. */
  tokenBudgetRatio: 0.9,
} as const;

type ModelAlertDoc = Omit<AlertDoc, 'name'> & { readonly name: ModelAlertName };

const q = (name: string) => `\`${name}\``;

export const MODEL_ALERT_DOCS: Readonly<Record<ModelAlertName, ModelAlertDoc>> = {
  AgentModelProviderErrors: {
    name: 'AgentModelProviderErrors',
    level: 'critical',
    for: '5m',
    valueFormat: 'percent',
    summary: (v) => `Model calls of agent ${v.agent} fail: ${v.value}`,
    description: (v) =>
      `${v.value} of the model calls of agent ${v.agent} in namespace ${v.namespace} to provider {{ $labels.gen_ai_provider_name }} failed over the last 5 minutes (provider status, timeout, reset, TLS or unreachable).`,
    brief: `share of failed model calls through the sidecar gateway over 5m above ${MODEL_ALERT_THRESHOLDS.providerErrorRatio * 100}% per provider, with at least \`minInvocations\` calls`,
    meaning:
      `${q('agent_provider:gen_ai_call_errors:ratio_rate5m')}: calls through the sidecar gateway (${q('gen_ai_client_operation_duration_seconds')} with ${q('gen_ai_provider_name')}) that ended with an ${q('error_type')} (the provider's HTTP status, ${q('timeout')}, ${q('reset')}, ${q('tls')}, ${q('unreachable')}, ${q('stream_error')}, ${q('incomplete')}; not ${q('client_closed')}), divided by all calls to that provider.`,
    impact: 'The agent cannot get answers from its model: its own invocations fail or slow down as it retries.',
    diagnosis: [
      'PromQL: sum by (gen_ai_provider_name, error_type) (rate(gen_ai_client_operation_duration_seconds_count{agent="<agent>", gen_ai_provider_name!="", error_type!=""}[5m]))',
      'kubectl -n <namespace> logs deploy/<agent> -c agent-sidecar --since=15m | grep provider   # transport errors are logged at warn',
      'Check the provider\'s status page; 401/403 mean the API key Secret is wrong or expired, 429 the provider quota.',
    ],
    mitigation: [
      '429: lower the agent\'s concurrency or set `models.maxRequestsPerMinute` below the provider quota; let the agent send `x-sidecar-retry` for retries honoring Retry-After.',
      '401/403: rotate the Secret named in `models.providers[].apiKey` and restart the pods.',
      '`tls` / `unreachable`: check egress (ServiceEntry / NetworkPolicy for the provider host) and DNS from the pod.',
      '5xx or `timeout` at the provider: fail over to another provider or model if the agent supports it.',
    ],
  },
  AgentTokenBudgetNearlySpent: {
    name: 'AgentTokenBudgetNearlySpent',
    level: 'warning',
    for: '5m',
    valueFormat: 'percent',
    summary: (v) => `Agent ${v.agent} uses ${v.value} of its token budget`,
    description: (v) =>
      `A pod of agent ${v.agent} in namespace ${v.namespace} used ${v.value} of its models.maxTokensPerMinute in the last minute; beyond it model calls are answered 429 by the sidecar.`,
    brief: `tokens used in the last minute above ${MODEL_ALERT_THRESHOLDS.tokenBudgetRatio * 100}% of \`models.maxTokensPerMinute\` (agents with a budget)`,
    meaning:
      `${q('agent:gateway_token_budget:used_ratio')}: the busiest pod's ${q('agent_gateway_tokens_last_minute')} divided by ${q('agent_gateway_token_budget_per_minute')}. The budget is per pod (each sidecar counts its own calls).`,
    impact: 'Soon the sidecar refuses model calls with 429 + Retry-After (`agent_gateway_budget_rejections_total`): the agent slows down or fails.',
    diagnosis: [
      'PromQL: sum by (gen_ai_request_model, gen_ai_token_type) (rate(gen_ai_client_token_usage_sum{agent="<agent>", gen_ai_provider_name!=""}[5m])) * 60',
      'PromQL: rate(agent_gateway_budget_rejections_total{agent="<agent>"}[5m])',
      'Look for a loop (the same call repeated) or a prompt that grew (input tokens per call).',
    ],
    mitigation: [
      'If the load is legitimate, raise `models.maxTokensPerMinute` or add replicas (the budget is per pod).',
      'If it is a loop, roll back the agent; turn on the response cache (`cacheTtlSeconds`) for deterministic calls.',
    ],
  },
  AgentTimeToFirstTokenHigh: {
    name: 'AgentTimeToFirstTokenHigh',
    level: 'warning',
    for: '10m',
    valueFormat: 'seconds',
    summary: (v) => `Agent ${v.agent} p95 time to first token is ${v.value}`,
    description: (v) =>
      `The 95th percentile of gen_ai_client_operation_time_to_first_chunk_seconds of agent ${v.agent} in namespace ${v.namespace} is ${v.value} over the last 5 minutes, above its models.timeToFirstTokenP95Seconds.`,
    brief: 'p95 time to first chunk of streamed model calls over 5m above `models.timeToFirstTokenP95Seconds` (agents that set it)',
    meaning:
      `${q('agent:gen_ai_client_operation_time_to_first_chunk_seconds:p95_5m')}, from the sidecar gateway's histogram of streamed calls (request to first SSE event), is above the agent's objective, with at least \`minInvocations\` streamed calls in 5m.`,
    impact: 'Users wait longer before anything appears; interactive agents feel slow even when total latency is fine.',
    diagnosis: [
      'PromQL: histogram_quantile(0.95, sum by (gen_ai_provider_name, gen_ai_request_model, le) (rate(gen_ai_client_operation_time_to_first_chunk_seconds_bucket{agent="<agent>"}[5m])))',
      'Compare input tokens per call (longer prompts take longer to the first token) and the provider\'s status.',
    ],
    mitigation: [
      'Use a smaller or faster model for the interactive path; shorten prompts; enable prompt caching at the provider.',
      'If one provider region is slow, point `baseUrl` at another.',
    ],
  },
};

/** What each recorded series of the model group means. */
export const MODEL_RECORDING_RULE_DOCS: Readonly<Record<string, string>> = {
  'agent_provider:gen_ai_calls:rate5m': 'Model calls per second through the sidecar gateway, by `gen_ai_provider_name`.',
  'agent_provider:gen_ai_call_errors:rate5m': 'Failed model calls per second by provider (any `error_type` but `client_closed`).',
  'agent_provider:gen_ai_call_errors:ratio_rate5m': 'Failed / all model calls by provider over 5m.',
  'agent_model:gen_ai_client_token_usage:rate5m': 'Tokens per second through the gateway by provider, `gen_ai_request_model` and `gen_ai_token_type`.',
  'agent:gen_ai_streamed_calls:rate5m': 'Streamed model calls per second (time-to-first-chunk observations).',
  'agent:gen_ai_client_operation_time_to_first_chunk_seconds:p95_5m': '95th percentile time to first chunk of streamed model calls over 5m.',
  'agent:gateway_cache_hits:ratio_rate15m': 'Gateway response-cache hits / lookups over 15m.',
  'agent:gateway_cache_saved_tokens:rate15m': 'Tokens per second the gateway cache saved, by `gen_ai_token_type`.',
  'agent:gateway_token_budget:used_ratio': 'Busiest pod\'s tokens in the last minute / its `maxTokensPerMinute` (agents with a budget).',
};
