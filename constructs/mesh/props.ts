/**
 * The documented props of MeshPolicy (its zod schema is in ./options; a compile-time check in
 * mesh-policy.ts keeps the two in step).
 */
import type { AgentService } from '../agent-service';

/** The reference design's load-balancing strategies. */
export type LoadBalancerStrategy = 'round_robin' | 'least_loaded' | 'weighted' | 'random';

/** Retry policy of a route (Istio `HTTPRetry`). */
export interface MeshRetries {
  /** Attempts after the first try; 0 disables retries. @default 2 */
  readonly attempts?: number;
  /**
   * Timeout of each try; must not exceed the route timeout. A shorter one only helps when `retryOn`
   * retries timed-out tries (5xx, gateway-error, reset or 504); a warning says so otherwise.
   * @default the route timeout
   */
  readonly perTryTimeout?: string;
  /**
   * Envoy retry conditions, comma-separated, or HTTP status codes. The default only retries requests
   * that never reached the agent or were refused, so a retry cannot repeat a call's side effects.
   * @default 'connect-failure,refused-stream,unavailable,cancelled,503'
   */
  readonly retryOn?: string;
}

/** Fault injection for chaos tests. Each part applies to a percentage of requests. */
export interface MeshFault {
  /** Delay a share of requests. @default no delay */
  readonly delay?: { readonly fixedDelay: string; readonly percentage: number };
  /** Fail a share of requests with an HTTP status. @default no abort */
  readonly abort?: { readonly httpStatus: number; readonly percentage: number };
}

/** Header match: a string is an exact match. */
export type MeshHeaderMatch = string | { readonly exact?: string; readonly prefix?: string; readonly regex?: string };

/** An extra route, tried before the agent's default route. */
export interface MeshRoute {
  /** Route name (DNS label). @default `<agent>-route-<index>` */
  readonly name?: string;
  /** Request headers to match (lower-case names); all must match. @default none */
  readonly headers?: Record<string, MeshHeaderMatch>;
  /** URI prefix to match. @default none (headers only) */
  readonly uriPrefix?: string;
  /** Send matching requests to one subset (`stable` or `canary`) instead of the agent's split. @default the agent's split */
  readonly subset?: 'stable' | 'canary';
  /** Route timeout. @default the agent's timeout */
  readonly timeout?: string;
  /** Retries; `false` disables them. @default the agent's retries */
  readonly retries?: false | MeshRetries;
  /** Fault injection. @default the agent's fault */
  readonly fault?: MeshFault;
}

/** Load balancing: a strategy name, or `weighted` with weights per version. */
export type MeshLoadBalancer = LoadBalancerStrategy | {
  /** Strategy: round_robin -> ROUND_ROBIN, least_loaded -> LEAST_REQUEST, random -> RANDOM, weighted -> subset weights + LEAST_REQUEST. */
  readonly strategy: LoadBalancerStrategy;
  /** Weight per `app.kubernetes.io/version` (stable and canary versions); must sum to 100. Only with `weighted`. */
  readonly weights?: Record<string, number>;
};

/** Connection pool limits of one agent (Istio applies them per calling sidecar). */
export interface MeshConnectionPool {
  /** Most TCP connections. @default maxConcurrentRequests x (max replicas + canary replicas) */
  readonly maxConnections?: number;
  /** Most requests in flight. @default maxConcurrentRequests x (max replicas + canary replicas) */
  readonly maxRequests?: number;
  /** Most requests queued waiting for a connection. @default maxConcurrentRequests */
  readonly maxPendingRequests?: number;
  /** Most retries outstanding at once. @default Istio's (unlimited) */
  readonly maxRetries?: number;
  /** TCP connect timeout. @default Istio's (10s) */
  readonly connectTimeout?: string;
  /** Idle timeout of pooled connections. @default Istio's (1h) */
  readonly idleTimeout?: string;
}

/** Ejection of unhealthy replicas. */
export interface MeshOutlierDetection {
  /** Consecutive 5xx responses before ejection. @default 5 (unset when only consecutiveGatewayErrors is given) */
  readonly consecutive5xxErrors?: number;
  /** Consecutive 502/503/504 before ejection. @default unset */
  readonly consecutiveGatewayErrors?: number;
  /** Time between ejection sweeps. @default '30s' */
  readonly interval?: string;
  /** Minimum ejection duration. @default '30s' */
  readonly baseEjectionTime?: string;
  /** Most replicas ejected at once, percent. @default 50 */
  readonly maxEjectionPercent?: number;
  /** Outlier detection pauses below this share of healthy replicas, percent. @default 30 */
  readonly minHealthPercent?: number;
}

/** Traffic options of one agent, keyed by agent name in `MeshPolicyProps.agents`. */
export interface MeshAgentOptions {
  /** Route timeout (whole call, retries included). @default '300s' */
  readonly timeout?: string;
  /** Retries; `false` disables them. @default { attempts: 2, perTryTimeout: <the timeout>, retryOn: 'connect-failure,refused-stream,unavailable,cancelled,503' } */
  readonly retries?: false | MeshRetries;
  /** Extra routes matched on headers and URI prefix, before the default route. @default none */
  readonly routes?: MeshRoute[];
  /**
   * Canary release: `weight` percent to the canary subset, the rest to stable. The version, when
   * given, must equal the AgentService's canary version. @default all traffic to stable
   */
  readonly canary?: { readonly version?: string; readonly weight: number };
  /** Load-balancing strategy. @default 'least_loaded' */
  readonly loadBalancer?: MeshLoadBalancer;
  /** Consistent-hash session affinity on this request header (conversational agents). @default none */
  readonly sessionAffinityHeader?: string;
  /** Connection pool limits. @default derived from the agent's maxConcurrentRequests and replicas */
  readonly connectionPool?: MeshConnectionPool;
  /** Outlier detection; `false` disables it. @default { consecutive5xxErrors: 5, interval: '30s', baseEjectionTime: '30s', maxEjectionPercent: 50, minHealthPercent: 30 } */
  readonly outlierDetection?: false | MeshOutlierDetection;
  /** Fault injection on every route of the agent. @default none */
  readonly fault?: MeshFault;
  /**
   * Mirror (shadow) a share of every route's requests to the canary subset; responses from the canary
   * are discarded, but its model calls, tool calls and writes are real. Needs a canary on the AgentService.
   * @default no mirroring
   */
  readonly mirror?: { readonly percentage: number };
  /**
   * Session affinity by consistent hashing on a header, a cookie (Envoy sets it when absent) or the
   * client's IP; replaces the load-balancing strategy. @default none (see also sessionAffinityHeader)
   */
  readonly sessionAffinity?: MeshSessionAffinity;
  /** Locality-aware failover between regions/zones (needs outlier detection). @default Istio's locality-weighted balancing */
  readonly locality?: MeshLocality;
  /** Local rate limit of each replica's inbound traffic (429 beyond it). @default none */
  readonly rateLimit?: MeshRateLimit;
}

/** Session affinity: exactly one of `header`, `cookie`, `sourceIp`. */
export interface MeshSessionAffinity {
  /** Hash on this request header (lower-case). @default none */
  readonly header?: string;
  /** Hash on this cookie; Envoy issues it with `ttl` when a request has none. @default none */
  readonly cookie?: { readonly name: string; readonly ttl: string; readonly path?: string };
  /** Hash on the client's source IP (behind a gateway: the gateway's IP, so prefer a header). @default none */
  readonly sourceIp?: true;
}

/** Locality load balancing (Istio `localityLbSetting`). */
export interface MeshLocality {
  /** Where traffic of a region goes when its endpoints are unhealthy, e.g. `{ from: 'us-east1', to: 'us-west1' }`. @default none */
  readonly failover?: Array<{ readonly from: string; readonly to: string }>;
  /** Ordered node labels to prefer endpoints that share them, e.g. `['topology.kubernetes.io/region']`. @default none */
  readonly failoverPriority?: string[];
}

/** A local (per-replica) token bucket; exactly one of `requestsPerSecond`, `requestsPerMinute`. */
export interface MeshRateLimit {
  /** Tokens added each second. @default none */
  readonly requestsPerSecond?: number;
  /** Tokens added each minute. @default none */
  readonly requestsPerMinute?: number;
  /** Bucket size (the burst allowed). @default one interval's tokens */
  readonly burst?: number;
}

/** Workloads outside the mesh's agents that may call an agent (ingress gateway, frontend). */
export interface MeshIngressPeer {
  /** Namespaces whose workloads may call (any service account). @default none */
  readonly namespaces?: string[];
  /** Principals (`<trust-domain>/ns/<ns>/sa/<sa>`) that may call. @default none */
  readonly principals?: string[];
}

/** An ingress permission declared in props. */
export interface MeshIngress extends MeshIngressPeer {
  /** The agent that may be called. */
  readonly to: AgentService;
}

/** Who scrapes the sidecar metrics port. */
export interface MeshPrometheusOptions {
  /** Namespace of Prometheus (any service account in it). @default 'monitoring' */
  readonly namespace?: string;
  /** Prometheus principals instead of the whole namespace. @default none */
  readonly principals?: string[];
  /**
   * Prometheus scrapes without mesh mTLS (it runs outside the mesh and has no Istio certificate):
   * the metrics port becomes PERMISSIVE (one PeerAuthentication per agent), the AuthorizationPolicy
   * allows only `GET /metrics` on it from any client (plaintext carries no identity to check), and
   * the NetworkPolicy admits only the Prometheus namespace on it.
   * @default false (mTLS scrape: a Prometheus with a sidecar, or with Istio certificates, see MonitoringStack `meshTls`)
   */
  readonly plaintext?: boolean;
  /**
   * Like `plaintext`, but the scrape is allowed from these CIDRs only (AuthorizationPolicy ipBlocks
   * and NetworkPolicy ipBlock instead of the namespace). @default none
   */
  readonly plaintextFrom?: string[];
}

/** Tracing and access logging for the agents' namespace. */
export interface MeshTelemetryOptions {
  /** Tracing; `false` disables it. @default { provider: 'otel-tracing', samplingPercentage: 10 } */
  readonly tracing?: false | {
    /** Tracing provider name from meshConfig.extensionProviders. @default 'otel-tracing' */
    readonly provider?: string;
    /** Percent of requests traced, 0-100. @default 10 */
    readonly samplingPercentage?: number;
  };
  /** Access logging; `false` disables it. @default { provider: 'envoy' } */
  readonly accessLogging?: false | {
    /** Access log provider. @default 'envoy' (Istio's built-in stdout provider) */
    readonly provider?: string;
    /** CEL filter, e.g. 'response.code >= 400'. @default none (log every request) */
    readonly filter?: string;
  };
}

/** An external host the agents call (a model provider API). */
export interface MeshEgressHost {
  /** Fully qualified host name, e.g. 'api.openai.com'. */
  readonly host: string;
  /** TLS port. @default 443 */
  readonly port?: number;
}

/**
 * External hosts every agent of the namespace may call. Each agent also reaches its own hosts
 * (AgentSpec.egressHosts: model providers, remote tools) and in-cluster dependencies (its Redis):
 * its Sidecar `<agent>-sidecar` imports exactly its callees, dependencies and hosts.
 */
export interface MeshEgressOptions {
  /** One ServiceEntry per host (strings are hosts on port 443), visible to every agent. @default none */
  readonly hosts?: Array<string | MeshEgressHost>;
  /**
   * REGISTRY_ONLY outbound traffic. By default each agent's Sidecar sends hosts outside its own
   * list to the BlackHoleCluster; `true` also locks the namespace's other pods (a namespace
   * Sidecar `<namespace>-egress`); `false` leaves unknown hosts to meshConfig.outboundTrafficPolicy
   * (Istio's default ALLOW_ANY lets them through).
   * @default per-agent REGISTRY_ONLY, no namespace lock
   */
  readonly registryOnly?: boolean;
  /**
   * Hosts every agent's Sidecar imports besides its own (`<namespace>/<host>`, Istio Sidecar
   * syntax): the control plane and telemetry backends the proxy itself talks to.
   * @default ['istio-system/*']
   */
  readonly sidecarHosts?: string[];
}

/** NetworkPolicy mirror of the call graph. */
export interface MeshNetworkPolicyOptions {
  /** Namespace of kube-dns (egress on port 53). @default 'kube-system' */
  readonly dnsNamespace?: string;
  /** Namespace of istiod (egress on port 15012). @default 'istio-system' */
  readonly istioNamespace?: string;
  /** Destinations of external-host egress (a NetworkPolicy cannot match host names). @default ['0.0.0.0/0'] */
  readonly externalCidrs?: string[];
  /** Ranges excluded from external egress. @default private and link-local ranges */
  readonly externalExcept?: string[];
}

/** Props of MeshPolicy. */
export interface MeshPolicyProps {
  /** The agents in the mesh; all in one namespace. */
  readonly services: AgentService[];
  /** Declared calls `[caller, callee]`; everything else is denied. More with `allow()`. Each `agent` tool of a service is an edge already. @default none */
  readonly calls?: Array<[AgentService, AgentService]>;
  /** Callers from outside the mesh's agents. More with `allowIngress()`. @default none */
  readonly ingress?: MeshIngress[];
  /** Traffic options per agent name. @default the defaults of MeshAgentOptions */
  readonly agents?: Record<string, MeshAgentOptions>;
  /** Namespace mTLS mode; PERMISSIVE is for migrations only and logs a warning. @default 'STRICT' */
  readonly mtlsMode?: 'STRICT' | 'PERMISSIVE';
  /** Trust domain of principals. @default 'cluster.local' */
  readonly trustDomain?: string;
  /** Prometheus scrape of the sidecar metrics port; `false`: no scrape allowed. @default { namespace: 'monitoring' } */
  readonly prometheus?: false | MeshPrometheusOptions;
  /** Telemetry resource; `false`: none. @default tracing 10% to 'otel-tracing', access logs to 'envoy' */
  readonly telemetry?: false | MeshTelemetryOptions;
  /** External hosts (ServiceEntries). @default none */
  readonly egress?: MeshEgressOptions;
  /** NetworkPolicies mirroring the graph; `false`: none. @default enabled */
  readonly networkPolicy?: false | MeshNetworkPolicyOptions;
}

/** One allowed call. */
export interface MeshEdge {
  readonly caller: string;
  readonly callee: string;
}
