/**
 * The contract between the agent sidecar and the constructs that deploy and monitor it:
 * ports, HTTP paths, metric and label names, histogram buckets.
 *
 * This module has no dependencies on purpose: the sidecar image carries it without cdk8s,
 * and the constructs (AgentService, MonitoringStack, MeshPolicy) import it so that the
 * manifests, the alerts and the running process cannot disagree on a name or a port.
 */

/** Port of the sidecar's read-only listener (pod IP): /metrics, /healthz, /readyz. */
export const SIDECAR_METRICS_PORT = 9464;
/** Port of the sidecar's API listener (127.0.0.1 only): executions, stats, cache. */
export const SIDECAR_API_PORT = 9465;
/** Default bind address of the API listener: loopback, so only containers of the same pod reach it. */
export const SIDECAR_API_HOST = '127.0.0.1';
/**
 * Port of the sidecar's inbound proxy (all interfaces): the agent's front door. The Service's
 * `http` port targets it; it forwards to the agent on 127.0.0.1 (SIDECAR_UPSTREAM).
 */
export const SIDECAR_PROXY_PORT = 9466;
/** Default upstream of the inbound proxy: the agent container, over the pod's loopback. */
export const SIDECAR_DEFAULT_UPSTREAM = 'http://127.0.0.1:8080';
/** Request header a caller may set to name the operation of a proxied request (gen_ai_operation_name). */
export const PROXY_OPERATION_HEADER = 'x-agent-operation';
/** Operation name of a proxied request without a header or matching route (OpenTelemetry GenAI). */
export const PROXY_DEFAULT_OPERATION = 'invoke_agent';
/** Name of the sidecar container in every agent pod. */
export const SIDECAR_CONTAINER_NAME = 'agent-sidecar';
/** Image repository of the sidecar (built from sidecar/Dockerfile). */
export const SIDECAR_IMAGE_REPOSITORY = 'ghcr.io/cdk8s-agents/agent-sidecar';
/** Version of the sidecar image that this package release deploys by default. */
export const SIDECAR_VERSION = '0.1.0';

/** HTTP paths served by the sidecar. */
export const SIDECAR_PATHS = {
  metrics: '/metrics',
  healthz: '/healthz',
  readyz: '/readyz',
  executions: '/v1/executions',
  inflight: '/v1/inflight',
  stats: '/v1/stats',
  cache: '/v1/cache',
  cacheStats: '/v1/cache/stats',
  /** Model-provider gateway: /v1/providers/NAME/<path> is forwarded to the provider's URL/<path>. */
  providers: '/v1/providers',
} as const;

/** Environment variables the sidecar reads (each also has a command-line flag). */
export const SIDECAR_ENV = {
  metricsPort: 'SIDECAR_METRICS_PORT',
  metricsHost: 'SIDECAR_METRICS_HOST',
  apiPort: 'SIDECAR_API_PORT',
  apiHost: 'SIDECAR_API_HOST',
  agentName: 'SIDECAR_AGENT_NAME',
  cacheMaxEntries: 'SIDECAR_CACHE_MAX_ENTRIES',
  cacheMaxBytes: 'SIDECAR_CACHE_MAX_BYTES',
  cacheDefaultTtlSeconds: 'SIDECAR_CACHE_DEFAULT_TTL_SECONDS',
  cacheMaxTtlSeconds: 'SIDECAR_CACHE_MAX_TTL_SECONDS',
  redisUrl: 'SIDECAR_REDIS_URL',
  logLevel: 'SIDECAR_LOG_LEVEL',
  cacheMaxValueBytes: 'SIDECAR_CACHE_MAX_VALUE_BYTES',
  cachePurgeIntervalSeconds: 'SIDECAR_CACHE_PURGE_INTERVAL_SECONDS',
  redisKeyPrefix: 'SIDECAR_REDIS_KEY_PREFIX',
  redisTimeoutMs: 'SIDECAR_REDIS_TIMEOUT_MS',
  redisPassword: 'SIDECAR_REDIS_PASSWORD',
  redisMaxInflightBytes: 'SIDECAR_REDIS_MAX_INFLIGHT_BYTES',
  redisMaxInflightCommands: 'SIDECAR_REDIS_MAX_INFLIGHT_COMMANDS',
  redisHealthIntervalMs: 'SIDECAR_REDIS_HEALTH_INTERVAL_MS',
  maxBodyBytes: 'SIDECAR_MAX_BODY_BYTES',
  maxBatchSize: 'SIDECAR_MAX_BATCH_SIZE',
  maxLabelValues: 'SIDECAR_MAX_LABEL_VALUES',
  maxSeries: 'SIDECAR_MAX_SERIES',
  maxLabelBytes: 'SIDECAR_MAX_LABEL_BYTES',
  requestTimeoutMs: 'SIDECAR_REQUEST_TIMEOUT_MS',
  maxConnections: 'SIDECAR_MAX_CONNECTIONS',
  shutdownDelayMs: 'SIDECAR_SHUTDOWN_DELAY_MS',
  shutdownGraceMs: 'SIDECAR_SHUTDOWN_GRACE_MS',
  exitWithParent: 'SIDECAR_EXIT_WITH_PARENT',
  processMetrics: 'SIDECAR_PROCESS_METRICS',
  providers: 'SIDECAR_PROVIDERS',
  providerApis: 'SIDECAR_PROVIDER_APIS',
  providerCache: 'SIDECAR_PROVIDER_CACHE',
  providerTimeoutMs: 'SIDECAR_PROVIDER_TIMEOUT_MS',
  providerStreamUsage: 'SIDECAR_PROVIDER_STREAM_USAGE',
  providerMaxBodyBytes: 'SIDECAR_PROVIDER_MAX_BODY_BYTES',
  maxTokensPerMinute: 'SIDECAR_MAX_TOKENS_PER_MINUTE',
  maxRequestsPerMinute: 'SIDECAR_MAX_REQUESTS_PER_MINUTE',
  proxy: 'SIDECAR_PROXY',
  proxyHost: 'SIDECAR_PROXY_HOST',
  proxyPort: 'SIDECAR_PROXY_PORT',
  upstream: 'SIDECAR_UPSTREAM',
  upstreamReadyPath: 'SIDECAR_UPSTREAM_READY_PATH',
  upstreamReadyIntervalMs: 'SIDECAR_UPSTREAM_READY_INTERVAL_MS',
  upstreamTimeoutMs: 'SIDECAR_UPSTREAM_TIMEOUT_MS',
  upstreamMaxSockets: 'SIDECAR_UPSTREAM_MAX_SOCKETS',
  maxConcurrency: 'SIDECAR_MAX_CONCURRENCY',
  maxQueue: 'SIDECAR_MAX_QUEUE',
  queueTimeoutMs: 'SIDECAR_QUEUE_TIMEOUT_MS',
  proxyRoutes: 'SIDECAR_PROXY_ROUTES',
  proxyUnmeasuredPaths: 'SIDECAR_PROXY_UNMEASURED_PATHS',
} as const;

/**
 * Request headers of the model-provider gateway (never forwarded to the provider).
 * - cache: `bypass` (never read or write the cache), `force` (cache even a non-deterministic request)
 * - retry: how many times to retry a provider 429/5xx or connection failure (0-5), honoring Retry-After
 */
export const GATEWAY_HEADERS = {
  cache: 'x-sidecar-cache',
  retry: 'x-sidecar-retry',
} as const;

/** API shapes the gateway understands: where usage is in JSON and SSE responses. */
export type ProviderApi = 'openai' | 'anthropic';

/** Environment variable the agent container gets: base URL of the sidecar API. */
export const AGENT_SIDECAR_URL_ENV = 'AGENT_SIDECAR_URL';

/**
 * Metric names exported by the sidecar. GenAI names follow the OpenTelemetry semantic
 * conventions (gen_ai.client.operation.duration, gen_ai.client.token.usage) as the
 * OpenTelemetry Prometheus exporter spells them.
 */
export const METRICS = {
  /** Histogram, seconds: duration of one agent operation (OTel gen_ai.client.operation.duration). */
  operationDuration: 'gen_ai_client_operation_duration_seconds',
  /** Histogram, tokens: tokens used per operation, by gen_ai_token_type (OTel gen_ai.client.token.usage). */
  tokenUsage: 'gen_ai_client_token_usage',
  /**
   * Counter: agent invocations by outcome (success|error). Through the inbound proxy: a 5xx or a
   * 429 from the agent and every proxy-generated failure is an error; any other 4xx is a success
   * (the caller's fault, as in OpenTelemetry HTTP server semantics).
   */
  invocations: 'agent_invocations_total',
  /**
   * Counter: failed invocations by error_type. Through the inbound proxy: `5xx`, `429`, or the
   * proxy's own code (queue_full, queue_timeout, upstream_*, client_closed).
   */
  errors: 'agent_errors_total',
  /** Gauge: invocations currently in flight (reported by the agent through the sidecar API). */
  inflight: 'agent_inflight_invocations',
  /** Counter: cache lookups by result (hit|miss) and tier (local|redis). */
  cacheRequests: 'agent_cache_requests_total',
  /** Counter: entries evicted from the local cache by reason (capacity|ttl). */
  cacheEvictions: 'agent_cache_evictions_total',
  /** Gauge: entries in the local cache. */
  cacheEntries: 'agent_cache_entries',
  /** Gauge: bytes held by the local cache. */
  cacheBytes: 'agent_cache_bytes',
  /** Gauge: 1 when the shared Redis tier is configured and reachable, 0 otherwise. */
  cacheRedisUp: 'agent_cache_redis_up',
  /** Counter: records refused or folded because a label cap was reached. */
  cardinalityFolded: 'agent_sidecar_label_values_folded_total',
  /** Counter: operations on the shared Redis tier that failed or timed out, by operation. */
  cacheRedisErrors: 'agent_cache_redis_errors_total',
  /** Counter: Redis commands not sent because the in-flight budget was full, by operation. */
  cacheRedisDropped: 'agent_cache_redis_dropped_total',
  /** Gauge: bytes of Redis commands sent and not yet answered. */
  cacheRedisInflightBytes: 'agent_cache_redis_inflight_bytes',
  /** Counter: execution records accepted by the sidecar API. */
  recordsAccepted: 'agent_sidecar_records_total',
  /** Counter: API requests rejected by the sidecar, by reason (bad_json, invalid, too_large, ...). */
  requestsRejected: 'agent_sidecar_rejected_requests_total',
  /** Gauge (always 1): sidecar build information, labelled version. */
  info: 'agent_sidecar_info',
  /** Histogram, seconds: streamed model calls, request to first chunk (OTel gen_ai.client.operation.time_to_first_chunk). */
  timeToFirstChunk: 'gen_ai_client_operation_time_to_first_chunk_seconds',
  /** Histogram, seconds: streamed model calls, time between chunks after the first (OTel gen_ai.client.operation.time_per_output_chunk). */
  timePerOutputChunk: 'gen_ai_client_operation_time_per_output_chunk_seconds',
  /** Counter: gateway response-cache lookups by provider and result (hit|miss). */
  gatewayCacheRequests: 'agent_gateway_cache_requests_total',
  /** Counter: tokens not spent thanks to gateway cache hits, by provider and gen_ai_token_type. */
  gatewayCacheSavedTokens: 'agent_gateway_cache_saved_tokens_total',
  /** Counter: model calls answered 429 by the gateway's own budget, by budget (tokens|requests). */
  gatewayBudgetRejections: 'agent_gateway_budget_rejections_total',
  /** Gauge: tokens (input + output) used through the gateway in the last 60 s. */
  gatewayTokensLastMinute: 'agent_gateway_tokens_last_minute',
  /** Gauge: the configured token budget per minute (absent when unlimited). */
  gatewayTokenBudget: 'agent_gateway_token_budget_per_minute',
  /** Counter: provider calls retried on the caller's request, by provider and reason. */
  gatewayRetries: 'agent_gateway_retries_total',
  /** Counter: provider responses without readable usage, by provider and reason. */
  gatewayUsageMissing: 'agent_gateway_usage_missing_total',
  /** Histogram, seconds: inbound proxy, time from request arrival to the agent's response headers. */
  proxyTimeToFirstByte: 'agent_proxy_time_to_first_byte_seconds',
  /** Counter, bytes: request bodies (and websocket bytes client to agent) forwarded by the inbound proxy, as they flow. */
  proxyRequestBytes: 'agent_proxy_request_bytes_total',
  /** Counter, bytes: response bodies (and websocket bytes agent to client) forwarded by the inbound proxy, as they flow. */
  proxyResponseBytes: 'agent_proxy_response_bytes_total',
  /**
   * Counter: responses the inbound proxy's clients got, by status_class (1xx..5xx): the agent's and
   * the ones the proxy generated itself (503 queue full, 502/504 upstream failures, 400/431 refused
   * requests). A 101 websocket tunnel is 1xx; a client that left before any response is not counted.
   */
  proxyResponses: 'agent_proxy_responses_total',
  /** Counter: proxied requests answered by the proxy itself, by reason (queue_full, queue_timeout, upstream_*). */
  proxyRejected: 'agent_proxy_rejected_requests_total',
  /** Gauge: proxied requests waiting for a concurrency slot. */
  proxyQueued: 'agent_proxy_queued_requests',
  /** Gauge: the concurrency limit of the inbound proxy (0: none). */
  proxyConcurrencyLimit: 'agent_proxy_concurrency_limit',
  /** Gauge: sockets from the proxy to the agent, by state (active|idle). */
  proxyUpstreamSockets: 'agent_proxy_upstream_sockets',
  /** Gauge: 1 while the agent's readiness path answers 2xx/3xx (always 1 without a path). */
  proxyUpstreamReady: 'agent_proxy_upstream_ready',
} as const;

/** Label names on sidecar metrics (OTel attribute names with dots as underscores). */
export const LABELS = {
  agentName: 'gen_ai_agent_name',
  operationName: 'gen_ai_operation_name',
  requestModel: 'gen_ai_request_model',
  tokenType: 'gen_ai_token_type',
  errorType: 'error_type',
  outcome: 'outcome',
  cacheResult: 'result',
  cacheTier: 'tier',
  /** On agent_cache_evictions_total (capacity|ttl) and agent_sidecar_rejected_requests_total. */
  reason: 'reason',
  /** On agent_sidecar_label_values_folded_total: the label whose cap was reached. */
  foldedLabel: 'label',
  /** On agent_cache_redis_errors_total: get|set|delete. */
  redisOperation: 'operation',
  /** On agent_sidecar_info. */
  version: 'version',
  /** Gateway metrics: the provider name given to --provider (OTel gen_ai.provider.name). */
  providerName: 'gen_ai_provider_name',
  /** Gateway metrics: the model named in the provider's response (OTel gen_ai.response.model). */
  responseModel: 'gen_ai_response_model',
  /** On agent_gateway_budget_rejections_total: tokens|requests. */
  budget: 'budget',
  /** On agent_proxy_upstream_sockets: active|idle. */
  socketState: 'state',
  /** On agent_proxy_responses_total: 1xx|2xx|3xx|4xx|5xx. */
  statusClass: 'status_class',
} as const;

/**
 * Labels the scrape configuration puts on every series from an agent pod
 * (relabelled from the pod's app.kubernetes.io/* labels and its namespace).
 */
export const TARGET_LABELS = {
  agent: 'agent',
  component: 'component',
  system: 'system',
  namespace: 'namespace',
  pod: 'pod',
} as const;

/** Value a label takes when its cap of distinct values is reached. */
export const FOLDED_LABEL_VALUE = 'other';

/**
 * Duration buckets in seconds: the OpenTelemetry GenAI advisory boundaries
 * (0.01 s doubling to 81.92 s) extended to cover agent calls of up to ~5 minutes.
 */
export const DURATION_BUCKETS_SECONDS: readonly number[] = [
  0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92, 163.84, 327.68,
];

/** Time-to-first-byte buckets in seconds: a proxied agent may answer in a millisecond or stream after minutes. */
export const TTFB_BUCKETS_SECONDS: readonly number[] = [
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300,
];

/** Token usage buckets: the OpenTelemetry GenAI advisory boundaries for gen_ai.client.token.usage. */
export const TOKEN_BUCKETS: readonly number[] = [
  1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864,
];

/** Time to first chunk buckets (s): the OpenTelemetry GenAI advisory boundaries for time to first token. */
export const TTFC_BUCKETS_SECONDS: readonly number[] = [
  0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 30,
];

/** Time per output chunk buckets (s): the OpenTelemetry GenAI advisory boundaries, with finer low ones. */
export const CHUNK_BUCKETS_SECONDS: readonly number[] = [
  0.001, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1, 2.5,
];

/**
 * One agent execution as the agent sends it to POST /v1/executions (alone or in a JSON array).
 * Label values are capped by the sidecar; never put request or conversation ids in them.
 */
export interface ExecutionInput {
  /** gen_ai_agent_name; defaults to the client's agent, then to the sidecar's SIDECAR_AGENT_NAME. */
  agent?: string;
  /** gen_ai_operation_name, e.g. chat, plan, tool_call. */
  operation: string;
  durationMs: number;
  success: boolean;
  /** Low-cardinality error type (exception name or `timeout`); ignored on success. */
  errorType?: string;
  /** gen_ai_request_model. */
  model?: string;
  inputTokens?: number;
  outputTokens?: number;
}
