import { AgentPodProps, AgentResourceQuantities } from './props';
import type { AgentServicePropsInput } from './spec-schema';

/** Resource requests and limits. Each value falls back to its own default. */
export interface AgentResources {
  /** @default { cpu: '100m', memory: '256Mi', ephemeralStorage: '256Mi' } (sidecar: { cpu: '25m', memory: '128Mi', ephemeralStorage: '64Mi' }) */
  readonly requests?: AgentResourceQuantities;
  /** @default { cpu: '500m', memory: '1Gi', ephemeralStorage: '1Gi' } (sidecar: { cpu: '250m', memory: '256Mi', ephemeralStorage: '256Mi' }) */
  readonly limits?: AgentResourceQuantities;
}

/** Autoscaling: a CPU/memory HorizontalPodAutoscaler, or KEDA on in-flight agent invocations. */
export interface AgentAutoscaling {
  /**
   * What to scale on: 'resource' (CPU and memory utilization, an HPA) or 'inflight'
   * (in-flight invocations reported by the sidecar, a KEDA ScaledObject with a Prometheus trigger;
   * needs KEDA and the MonitoringStack scrape labels). @default 'resource'
   */
  readonly metric?: 'resource' | 'inflight';
  /** 'inflight' only: in-flight invocations per replica to aim for. @default 70% of maxConcurrentRequests */
  readonly targetPerReplica?: number;
  /** 'inflight' only: scale idle agents to zero (woken by the callers' Istio request rate). @default false */
  readonly scaleToZero?: boolean;
  /** 'inflight' only: in-flight value above which a scaled-to-zero agent is activated. @default 0 */
  readonly activationThreshold?: number;
  /** 'inflight' only: Prometheus URL KEDA queries. @default 'http://prometheus-operated.monitoring.svc:9090' */
  readonly prometheusAddress?: string;
  /** 'inflight' only: seconds between KEDA queries. @default 15 */
  readonly pollingIntervalSeconds?: number;
  /** Fewest replicas. @default 2 */
  readonly minReplicas?: number;
  /** Most replicas. @default 10 */
  readonly maxReplicas?: number;
  /** Target average CPU utilization, percent of requests. @default 70 */
  readonly targetCpuPercent?: number;
  /** Target average memory utilization, percent of requests. @default 80 */
  readonly targetMemoryPercent?: number;
  /**
   * Seconds of sustained low load before scaling down; long, because a scaled-down
   * replica may be holding minute-long model calls. @default 600
   */
  readonly scaleDownStabilizationSeconds?: number;
}

/** HTTP probes of the agent container. */
export interface AgentHealthCheck {
  /** Port the probes call. @default the agent `port` */
  readonly port?: number;
  /** Liveness probe path. @default '/health' */
  readonly livenessPath?: string;
  /** Readiness probe path. @default '/ready' */
  readonly readinessPath?: string;
  /** Startup probe path. @default the liveness path */
  readonly startupPath?: string;
  /** How long the agent may take to start (model downloads, warm-up) before it is restarted. @default 300 */
  readonly startupTimeoutSeconds?: number;
}

/** A value taken from a key of a Kubernetes Secret. */
export interface SecretKeyRef {
  /** Name of the Secret in the agent's namespace. */
  readonly secretName: string;
  /** Key within the Secret. */
  readonly key: string;
  /** Start the pod even when the Secret or key is missing. @default false */
  readonly optional?: boolean;
}

/** The metrics-and-cache sidecar container. */
export interface AgentSidecarOptions {
  /** Run the sidecar. @default true */
  readonly enabled?: boolean;
  /** Sidecar image. @default `ghcr.io/cdk8s-agents/agent-sidecar:<package version>` */
  readonly image?: string;
  /** Sidecar resources. @default requests 25m/128Mi, limits 250m/256Mi */
  readonly resources?: AgentResources;
  /** Most entries in the local cache. @default 10000 */
  readonly cacheMaxEntries?: number;
  /** Most bytes held by the local cache; with ~80 MiB of working memory it must fit 75% of the memory limit. @default 67108864 (64 MiB) */
  readonly cacheMaxBytes?: number;
  /** Largest single cache value. @default 1048576 (1 MiB), or cacheMaxBytes when smaller */
  readonly cacheMaxValueBytes?: number;
  /** TTL of cache entries written without `?ttl=`. @default 300 */
  readonly cacheDefaultTtlSeconds?: number;
  /**
   * Shared cache tier on Redis given as a URL without credentials (a URL with a password is
   * rejected: use `redis` with `passwordSecret`). @default none (local only)
   */
  readonly redisUrl?: string;
  /**
   * The inbound proxy, the agent's front door: the Service's `http` port targets the sidecar
   * (port 9466), which forwards to the agent on 127.0.0.1, so every invocation is counted,
   * timed, limited to `maxConcurrentRequests` (FIFO queue, then 503) and drained, with no agent
   * code. Probes go through it too. `false`: the Service targets the agent directly and only the
   * agent's own reports reach the metrics. @default true
   */
  readonly proxy?: boolean;
  /**
   * Requests the proxy lets wait, in FIFO order, once `maxConcurrentRequests` are at the agent;
   * beyond it they get `503 queue_full` with Retry-After. 0: no queue. @default 10 x maxConcurrentRequests
   */
  readonly proxyMaxQueue?: number;
  /** Longest wait for a slot before `503 queue_timeout`. @default 10 */
  readonly proxyQueueTimeoutSeconds?: number;
  /**
   * Operation names of proxied requests by path prefix (`gen_ai_operation_name`), e.g.
   * `{ '/v1/chat': 'chat', '/tools': 'execute_tool' }`; the longest prefix wins, a caller's
   * `x-agent-operation` header wins over it. @default {} (every request is `invoke_agent`)
   */
  readonly proxyRoutes?: Record<string, string>;
  /** Shared cache tier on Redis, credentials from Secrets. @default none (local only) */
  readonly redis?: AgentRedisOptions;
}

/** A Secret key holding one value. */
export interface AgentRedisSecretRef {
  /** Name of the Secret in the agent's namespace. */
  readonly secretName: string;
  /** Key in the Secret. */
  readonly key: string;
}

/**
 * The sidecar's shared cache tier. The Redis Service becomes a dependency of this agent
 * (MeshPolicy opens its egress to it), an external host an egress host.
 */
export interface AgentRedisOptions {
  /** A Service name (the agent's namespace), `<service>.<namespace>.svc`, or an external host. @default none: required unless urlSecret is set */
  readonly host?: string;
  /** @default 6379 */
  readonly port?: number;
  /** rediss:// (TLS). @default false */
  readonly tls?: boolean;
  /** Database number. @default 0 */
  readonly db?: number;
  /** ACL user. @default none (the default user) */
  readonly username?: string;
  /** Secret key holding the password (sent as SIDECAR_REDIS_PASSWORD). @default none */
  readonly passwordSecret?: AgentRedisSecretRef;
  /** Secret key holding the whole redis:// URL instead of host/port/tls/db/username/password. @default none */
  readonly urlSecret?: AgentRedisSecretRef;
  /**
   * Key prefix in Redis. By default every agent has its own (`agent-cache:<namespace>/<name>:`),
   * so agents sharing one Redis never read or clear each other's entries; give several agents the
   * same prefix to share a cache between them on purpose.
   * @default `agent-cache:<namespace>/<name>:`
   */
  readonly keyPrefix?: string;
}

/** Service level objective of one agent, read by MonitoringStack. */
export interface AgentSlo {
  /** Availability target in percent (share of invocations that succeed), e.g. 99.5. */
  readonly availability: number;
  /** 95th percentile latency objective in seconds. @default none */
  readonly latencyP95Seconds?: number;
  /** SLO window. @default '30d' */
  readonly window?: string;
}

/** A canary Deployment next to the stable one; MeshPolicy routes a weight to it. */
export interface AgentCanary {
  /** Image of the canary pods (pinned). */
  readonly image: string;
  /** `app.kubernetes.io/version` of the canary pods. @default the image tag */
  readonly version?: string;
  /** Replicas of the canary Deployment. @default 1 */
  readonly replicas?: number;
}

/** One model provider the agent calls through the sidecar's gateway (`/v1/providers/<provider>`). */
export interface AgentModelProvider {
  /** Provider name: the gateway route and the `gen_ai_provider_name` label, e.g. 'openai', 'anthropic', 'vllm'. */
  readonly provider: string;
  /** API shape, where usage is read from. @default 'anthropic' for provider 'anthropic', else 'openai' */
  readonly api?: 'openai' | 'anthropic';
  /**
   * The provider's base URL as its SDK uses it; https unless an in-cluster Service (`*.svc`).
   * @default 'https://api.openai.com/v1' for 'openai', 'https://api.anthropic.com' for 'anthropic' (required for others)
   */
  readonly baseUrl?: string;
  /** Model the agent uses, set as `<envPrefix>_MODEL`. @default none */
  readonly model?: string;
  /** API key from a Secret, set as `<envPrefix>_API_KEY` in the agent container (never in the sidecar). @default none */
  readonly apiKey?: { readonly secretName: string; readonly key: string };
  /** Response cache TTL for deterministic calls (temperature 0, or `x-sidecar-cache: force`). @default none (no cache) */
  readonly cacheTtlSeconds?: number;
  /** Prefix of the agent's env vars (`<prefix>_BASE_URL`, `_API_KEY`, `_MODEL`). @default 'OPENAI' for api openai, 'ANTHROPIC' for anthropic */
  readonly envPrefix?: string;
}

/** Model calls through the sidecar gateway: token usage, time to first token, cache and budgets with no agent code. */
export interface AgentModels {
  /** The providers (at least one). */
  readonly providers: AgentModelProvider[];
  /** Tokens per minute this agent may use; beyond it calls get 429 + Retry-After. @default unlimited */
  readonly maxTokensPerMinute?: number;
  /** Model calls per minute this agent may start. @default unlimited */
  readonly maxRequestsPerMinute?: number;
  /** Ask OpenAI-shape streams for their usage chunk (`stream_options.include_usage`) when the agent does not. @default true */
  readonly streamUsage?: boolean;
  /** Time-to-first-token objective: MonitoringStack alerts when the p95 exceeds it. @default none (no alert) */
  readonly timeToFirstTokenP95Seconds?: number;
}

/** Props of AgentService (pod settings, persistence and tools: see AgentPodProps). */
export interface AgentServiceProps extends AgentPodProps {
  /** Agent container image with a tag or digest (`:latest` and untagged images are rejected). */
  readonly image: string;
  /** Agent id: name of the Deployment, Service and ServiceAccount (DNS-1035, at most 50 characters). @default the construct id */
  readonly name?: string;
  /** Namespace. @default the chart's namespace, else 'default' */
  readonly namespace?: string;
  /** System the agent is part of (`app.kubernetes.io/part-of`). @default the namespace */
  readonly system?: string;
  /** Role of the agent in the system (`app.kubernetes.io/component`). @default 'agent' */
  readonly component?: string;
  /** Owning team, used by MonitoringStack as the `team` alert label. @default none */
  readonly team?: string;
  /** `app.kubernetes.io/version`. @default the image tag (or the digest's first 12 hex digits) */
  readonly version?: string;
  /** The agent's HTTP port, named `http`. @default 8080 */
  readonly port?: number;
  /** A fixed replica count; exclusive with `autoscaling`. @default autoscaling with its defaults */
  readonly replicas?: number;
  /** CPU/memory autoscaling. @default { minReplicas: 2, maxReplicas: 10, targetCpuPercent: 70, targetMemoryPercent: 80 } */
  readonly autoscaling?: AgentAutoscaling;
  /** Plain environment variables. @default {} */
  readonly env?: Record<string, string>;
  /** Environment variables from Secret keys (model API keys). @default {} */
  readonly secretEnv?: Record<string, SecretKeyRef>;
  /** Agent container resources. @default requests 100m/256Mi, limits 500m/1Gi */
  readonly resources?: AgentResources;
  /** Probes. @default liveness '/health', readiness '/ready', startup '/health' for up to 300 s */
  readonly healthCheck?: AgentHealthCheck;
  /** Use this existing ServiceAccount instead of creating one. @default a ServiceAccount named after the agent is created */
  readonly serviceAccountName?: string;
  /** Mount the ServiceAccount token (only agents that call the Kubernetes API need it). @default false */
  readonly automountServiceAccountToken?: boolean;
  /** Extra labels on every object. @default {} */
  readonly labels?: Record<string, string>;
  /** Extra pod annotations. @default {} */
  readonly annotations?: Record<string, string>;
  /** Seconds a terminating pod gets to finish in-flight agent calls (above the mesh's 300 s default timeout plus the drain). @default 330 */
  readonly terminationGracePeriodSeconds?: number;
  /** Seconds the preStop hook sleeps so traffic stops before SIGTERM (0 disables the hook; needs `sleep` in the image). @default 15 */
  readonly drainSeconds?: number;
  /** Concurrent requests one replica is sized for (mesh connection pools, in-flight autoscaling). @default 10 */
  readonly maxConcurrentRequests?: number;
  /** The metrics-and-cache sidecar; `false` disables it. @default enabled with its defaults */
  readonly sidecar?: boolean | AgentSidecarOptions;
  /** SLO read by MonitoringStack. @default none */
  readonly slo?: AgentSlo;
  /** A canary Deployment. @default none */
  readonly canary?: AgentCanary;
  /** Model providers called through the sidecar gateway (sets the agent's base-URL and API-key env vars). @default none */
  readonly models?: AgentModels;
}

// Keep the documented interface and the zod schema in step at compile time.
type Assert<T extends true> = T;
export type _PropsMatchSchema = Assert<AgentServiceProps extends AgentServicePropsInput ? true : false>;
// And the other way: every schema key is a documented prop, with a compatible type.
export type _SchemaMatchesProps = Assert<AgentServicePropsInput extends AgentServiceProps ? true : false>;
export type _SameKeys = Assert<[keyof AgentServiceProps] extends [keyof AgentServicePropsInput] ? ([keyof AgentServicePropsInput] extends [keyof AgentServiceProps] ? true : false) : false>;
