import { ApiObjectMetadata, Lazy } from 'cdk8s';
import * as kplus from 'cdk8s-plus-28';
import { Construct, IConstruct } from 'constructs';
import { DestinationRule, ServiceEntry, Sidecar, SidecarSpecOutboundTrafficPolicyMode, VirtualService } from '../imports/istio-networking.istio.io';
import { AuthorizationPolicy, PeerAuthentication, PeerAuthenticationSpecMtlsMode, PeerAuthenticationSpecPortLevelMtlsMode } from '../imports/istio-security.istio.io';
import { Telemetry } from '../imports/istio-telemetry.istio.io';
import { AgentService } from './agent-service';
import {
  AgentPlan,
  egressName,
  IngressPeer,
  ingressPeerSchema,
  MESH_DEFAULTS,
  MeshOptions,
  MeshOptionsInput,
  meshOptionsSchema,
  planAgents,
} from './mesh/options';
import { ALLOW, authorizationPolicyRules, destinationRuleSpec, InboundAccess, networkPolicyRules, serviceEntrySpec, sortKeys, virtualServiceSpec } from './mesh/render';
import { AgentSpec, MANAGED_BY } from './spec';
import { formatIssues, PropsValidationError } from './validation';

// One MeshPolicy per namespace per app: two would both write default-deny and the namespace mTLS policy.
const meshesByRoot = new WeakMap<IConstruct, Map<string, string>>();

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
   * Prometheus scrapes without mesh mTLS from these CIDRs: the metrics port becomes PERMISSIVE
   * (one PeerAuthentication per agent) and the scrape is allowed from these IP blocks only. @default none (mTLS scrape)
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

/** External hosts the agents may call. */
export interface MeshEgressOptions {
  /** One ServiceEntry per host (strings are hosts on port 443). */
  readonly hosts: Array<string | MeshEgressHost>;
  /**
   * Also lock the namespace's outbound traffic to the registry (a Sidecar with REGISTRY_ONLY),
   * so hosts without a ServiceEntry are unreachable. @default false (set meshConfig.outboundTrafficPolicy instead)
   */
  readonly registryOnly?: boolean;
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
  /** Declared calls `[caller, callee]`; everything else is denied. More with `allow()`. @default none */
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

/**
 * Istio traffic and zero-trust policy for a set of AgentServices: a VirtualService and a
 * DestinationRule per agent, STRICT mTLS, default-deny AuthorizationPolicies with an explicit
 * call graph, NetworkPolicies mirroring it, tracing/access logging and egress ServiceEntries.
 */
export class MeshPolicy extends Construct {
  /** The agents' namespace; every object is created there. */
  public readonly namespace: string;
  /** VirtualService `<agent>` by agent name. */
  public readonly virtualServices: Readonly<Record<string, VirtualService>> = {};
  /** DestinationRule `<agent>` by agent name. */
  public readonly destinationRules: Readonly<Record<string, DestinationRule>> = {};
  /** AuthorizationPolicy `<agent>-allow` by agent name (rules are produced at synthesis). */
  public readonly authorizationPolicies: Readonly<Record<string, AuthorizationPolicy>> = {};
  /** NetworkPolicy `<agent>-allow` by agent name; empty with `networkPolicy: false`. */
  public readonly networkPolicies: Readonly<Record<string, kplus.k8s.KubeNetworkPolicy>> = {};
  /** ServiceEntry by external host. */
  public readonly serviceEntries: Readonly<Record<string, ServiceEntry>> = {};
  /** Namespace-wide PeerAuthentication `<namespace>-mtls`. */
  public readonly peerAuthentication: PeerAuthentication;
  /** The allow-nothing AuthorizationPolicy `default-deny`. */
  public readonly defaultDeny: AuthorizationPolicy;
  /** Telemetry `<namespace>-telemetry`, unless `telemetry: false`. */
  public readonly telemetry?: Telemetry;
  /** Warnings raised at construction (also printed to stderr): PERMISSIVE mTLS, plaintext scrape, per-try timeouts that cut calls short. */
  public readonly warnings: string[] = [];

  private readonly members = new Map<AgentService, AgentPlan>();
  private readonly edgeSet = new Map<string, MeshEdge>();
  // Indexes of the call graph, so rendering stays linear in agents and edges.
  private readonly callersByCallee = new Map<string, Set<string>>();
  private readonly calleesByCaller = new Map<string, Set<string>>();
  private readonly specsByName = new Map<string, AgentSpec>();
  private sortedEdges?: MeshEdge[];
  private readonly ingressPeers = new Map<string, IngressPeer[]>();
  private readonly options: MeshOptions;
  private readonly systemLabel?: string;

  constructor(scope: Construct, id: string, props: MeshPolicyProps) {
    super(scope, id);
    const problems: string[] = [];
    const services = Array.isArray(props?.services) ? props.services : [];
    if (services.length === 0) problems.push('services: name at least one AgentService');
    services.forEach((s, i) => {
      if (!(s instanceof AgentService)) problems.push(`services[${i}]: must be an AgentService`);
    });
    const specs = services.filter((s): s is AgentService => s instanceof AgentService).map((s) => s.spec);
    const seen = new Map<string, string>();
    specs.forEach((s, i) => {
      const other = seen.get(s.name);
      if (other !== undefined) problems.push(`services[${i}]: agent "${s.name}" (${s.constructPath}) is listed twice or shares its name with ${other}`);
      seen.set(s.name, s.constructPath);
    });
    const namespaces = [...new Set(specs.map((s) => s.namespace))];
    if (namespaces.length > 1) {
      problems.push(`services: all agents must share one namespace (found ${specs.map((s) => `${s.name} in ${s.namespace}`).join(', ')})`);
    }

    const { services: _s, calls: _c, ingress: _i, ...rest } = props ?? ({} as MeshPolicyProps);
    const parsed = meshOptionsSchema.safeParse(rest);
    if (!parsed.success) problems.push(...formatIssues(parsed.error.issues));
    if (problems.length > 0) throw new PropsValidationError(this.node.path, problems);
    this.options = parsed.data!;

    const { plans, problems: planProblems, warnings } = planAgents(specs, this.options);
    const hostProblems = checkEgressHosts(this.options);
    if (planProblems.length + hostProblems.length > 0) throw new PropsValidationError(this.node.path, [...planProblems, ...hostProblems]);
    services.forEach((s, i) => {
      this.members.set(s, plans[i]);
      this.specsByName.set(s.spec.name, s.spec);
    });
    this.namespace = namespaces[0];
    this.systemLabel = new Set(specs.map((s) => s.system)).size === 1 ? specs[0].system : undefined;

    (props.calls ?? []).forEach((edge, i) => {
      if (!Array.isArray(edge) || edge.length !== 2) throw new PropsValidationError(this.node.path, [`calls[${i}]: must be a pair [caller, callee]`]);
      this.addEdges(edge[0], [edge[1]], (j) => `calls[${i}][${j}]`);
    });
    (props.ingress ?? []).forEach((rule, i) => {
      const { to, ...peer } = rule;
      this.addIngress(to, peer, `ingress[${i}]`);
    });
    claimNamespace(this.node.root, this.namespace, this.node.path);

    for (const w of warnings) this.warn(w);
    this.peerAuthentication = this.buildPeerAuthentication();
    const prom = this.options.prometheus;
    if (prom && prom.plaintextFrom) {
      this.warn(`prometheus.plaintextFrom: the sidecar metrics port accepts plaintext from ${prom.plaintextFrom.join(', ')} (IP blocks, not verified identities)`);
    }
    this.defaultDeny = new AuthorizationPolicy(this, 'DefaultDeny', {
      // An ALLOW policy without rules matches nothing: every request needs an explicit allow below.
      metadata: this.metadata('default-deny'),
      spec: {},
    });
    for (const plan of plans) this.buildAgent(plan);
    if (this.options.networkPolicy !== false) {
      new kplus.k8s.KubeNetworkPolicy(this, 'DefaultDenyNetwork', {
        metadata: this.metadata('default-deny'),
        spec: { podSelector: {}, policyTypes: ['Ingress', 'Egress'] },
      });
    }
    this.telemetry = this.buildTelemetry();
    this.buildEgress();
  }

  /**
   * Allows `caller` to call each of `callees` on their http port (AuthorizationPolicy principal
   * and NetworkPolicy pod selector). Every agent must be in this mesh.
   */
  public allow(caller: AgentService, callees: AgentService | AgentService[]): this {
    const list = Array.isArray(callees) ? callees : [callees];
    this.addEdges(caller, list, (j) => (j === 0 ? 'allow(caller)' : `allow(callees[${j - 1}])`));
    return this;
  }

  /** Allows workloads outside the mesh's agents (an ingress gateway, a frontend) to call `target`. */
  public allowIngress(target: AgentService, from: MeshIngressPeer): this {
    this.addIngress(target, from, 'allowIngress');
    return this;
  }

  /** The declared call graph, sorted. */
  public get edges(): MeshEdge[] {
    // Code-point order: byte-identical output whatever the Node/ICU build.
    this.sortedEdges ??= [...this.edgeSet.values()].sort((a, b) => compare(a.caller, b.caller) || compare(a.callee, b.callee));
    return [...this.sortedEdges];
  }

  private addEdges(caller: AgentService, callees: AgentService[], where: (index: number) => string) {
    const problems = [caller, ...callees].flatMap((s, j) => this.membershipProblem(s, where(j)));
    if (problems.length > 0) throw new PropsValidationError(this.node.path, problems);
    for (const callee of callees) {
      const edge = { caller: caller.spec.name, callee: callee.spec.name };
      this.edgeSet.set(`${edge.caller}->${edge.callee}`, edge);
      addTo(this.callersByCallee, edge.callee, edge.caller);
      addTo(this.calleesByCaller, edge.caller, edge.callee);
      this.sortedEdges = undefined;
    }
  }

  private addIngress(target: AgentService, from: MeshIngressPeer, where: string) {
    const problems = this.membershipProblem(target, `${where}.to`);
    const parsed = ingressPeerSchema.safeParse(from);
    if (!parsed.success) problems.push(...formatIssues(parsed.error.issues, [where]));
    if (problems.length > 0) throw new PropsValidationError(this.node.path, problems);
    const list = this.ingressPeers.get(target.spec.name) ?? [];
    list.push(parsed.data!);
    this.ingressPeers.set(target.spec.name, list);
  }

  private membershipProblem(s: unknown, where: string): string[] {
    if (!(s instanceof AgentService)) return [`${where}: must be an AgentService`];
    if (this.members.has(s)) return [];
    const names = [...this.members.keys()].map((m) => m.spec.name).sort().join(', ');
    return [`${where}: ${s.spec.name} (${s.spec.constructPath}) is not in this mesh's services (${names})`];
  }

  private metadata(name: string, labels: Record<string, string> = {}): ApiObjectMetadata {
    const common: Record<string, string> = { 'app.kubernetes.io/managed-by': MANAGED_BY };
    if (this.systemLabel) common['app.kubernetes.io/part-of'] = this.systemLabel;
    return { name, namespace: this.namespace, labels: sortKeys({ ...common, ...labels }) };
  }

  private buildPeerAuthentication(): PeerAuthentication {
    const mode = this.options.mtlsMode ?? MESH_DEFAULTS.mtlsMode;
    if (mode === 'PERMISSIVE') {
      this.warn(`mtlsMode is PERMISSIVE: agents in namespace ${this.namespace} also accept plaintext, so principals are not verified for those requests; use it only while migrating workloads into the mesh`);
    }
    return new PeerAuthentication(this, 'PeerAuthentication', {
      metadata: this.metadata(`${this.namespace}-mtls`),
      spec: { mtls: { mode: mode === 'STRICT' ? PeerAuthenticationSpecMtlsMode.STRICT : PeerAuthenticationSpecMtlsMode.PERMISSIVE } },
    });
  }

  private buildAgent(plan: AgentPlan) {
    const spec = plan.spec;
    const labels = { ...spec.labels };
    this.record(this.virtualServices, spec.name, new VirtualService(this, `${spec.name}-VirtualService`, {
      metadata: this.metadata(spec.name, labels),
      spec: virtualServiceSpec(plan),
    }));
    this.record(this.destinationRules, spec.name, new DestinationRule(this, `${spec.name}-DestinationRule`, {
      metadata: this.metadata(spec.name, labels),
      spec: destinationRuleSpec(plan),
    }));

    // The call graph may still grow through allow(): rules are produced at synthesis.
    const trustDomain = this.options.trustDomain ?? MESH_DEFAULTS.trustDomain;
    this.record(this.authorizationPolicies, spec.name, new AuthorizationPolicy(this, `${spec.name}-AuthorizationPolicy`, {
      metadata: this.metadata(`${spec.name}-allow`, labels),
      spec: {
        selector: { matchLabels: sortKeys(spec.selectorLabels) },
        action: ALLOW,
        rules: lazy(() => {
          const rules = authorizationPolicyRules(this.inboundAccess(plan), trustDomain);
          return rules.length > 0 ? rules : undefined;
        }),
      },
    }));

    const scrape = this.scrape();
    if (scrape?.ipBlocks && spec.sidecar.enabled) {
      new PeerAuthentication(this, `${spec.name}-MetricsPeerAuthentication`, {
        metadata: this.metadata(`${spec.name}-metrics-plaintext`, labels),
        spec: {
          selector: { matchLabels: sortKeys(spec.selectorLabels) },
          portLevelMtls: { [String(spec.sidecar.metricsPort)]: { mode: PeerAuthenticationSpecPortLevelMtlsMode.PERMISSIVE } },
        },
      });
    }

    const np = this.options.networkPolicy;
    if (np !== false) {
      const d = MESH_DEFAULTS.networkPolicy;
      const ctx = {
        dnsNamespace: np?.dnsNamespace ?? d.dnsNamespace,
        dnsPodLabels: d.dnsPodLabels,
        istioNamespace: np?.istioNamespace ?? d.istioNamespace,
        istiodPodLabels: d.istiodPodLabels,
        externalPorts: (this.options.egress?.hosts ?? []).map((h) => h.port ?? MESH_DEFAULTS.egressPort),
        externalCidrs: np?.externalCidrs ?? [...d.externalCidrs],
        externalExcept: np?.externalExcept ?? [...d.externalExcept],
      };
      const rulesOf = () => networkPolicyRules(this.inboundAccess(plan), this.calleesOf(spec.name), ctx);
      this.record(this.networkPolicies, spec.name, new kplus.k8s.KubeNetworkPolicy(this, `${spec.name}-NetworkPolicy`, {
        metadata: this.metadata(`${spec.name}-allow`, labels),
        spec: {
          podSelector: { matchLabels: sortKeys(spec.selectorLabels) },
          policyTypes: ['Ingress', 'Egress'],
          ingress: lazy(() => {
            const r = rulesOf().ingress;
            return r.length > 0 ? r : undefined;
          }),
          egress: lazy(() => rulesOf().egress),
        },
      }));
    }
  }

  private inboundAccess(plan: AgentPlan): InboundAccess {
    const name = plan.spec.name;
    const callers = sortedNames(this.callersByCallee.get(name)).map((n) => this.specOf(n));
    return { target: plan.spec, callers, ingress: this.ingressPeers.get(name) ?? [], scrape: this.scrape() };
  }

  private calleesOf(name: string) {
    return sortedNames(this.calleesByCaller.get(name)).map((n) => this.specOf(n));
  }

  private specOf(name: string) {
    const spec = this.specsByName.get(name);
    if (!spec) throw new Error(`unknown agent ${name}`);
    return spec;
  }

  private scrape(): InboundAccess['scrape'] {
    const p = this.options.prometheus;
    if (p === false) return undefined;
    if (p?.plaintextFrom) return { ipBlocks: p.plaintextFrom };
    if (p?.principals) return { principals: p.principals };
    return { namespaces: [p?.namespace ?? MESH_DEFAULTS.prometheusNamespace] };
  }

  private buildTelemetry(): Telemetry | undefined {
    const t = this.options.telemetry;
    if (t === false) return undefined;
    const tracing = t?.tracing === false ? undefined : {
      providers: [{ name: t?.tracing?.provider ?? MESH_DEFAULTS.tracing.provider }],
      randomSamplingPercentage: t?.tracing?.samplingPercentage ?? MESH_DEFAULTS.tracing.samplingPercentage,
    };
    const logging = t?.accessLogging === false ? undefined : {
      providers: [{ name: t?.accessLogging?.provider ?? MESH_DEFAULTS.accessLogging.provider }],
      filter: t?.accessLogging?.filter ? { expression: t.accessLogging.filter } : undefined,
    };
    if (!tracing && !logging) return undefined;
    return new Telemetry(this, 'Telemetry', {
      metadata: this.metadata(`${this.namespace}-telemetry`),
      spec: { tracing: tracing ? [tracing] : undefined, accessLogging: logging ? [logging] : undefined },
    });
  }

  private buildEgress() {
    const e = this.options.egress;
    if (!e) return;
    for (const h of e.hosts) {
      const name = egressName(h.host);
      this.record(this.serviceEntries, h.host, new ServiceEntry(this, `${name}-ServiceEntry`, {
        metadata: this.metadata(name),
        spec: serviceEntrySpec(h.host, h.port ?? MESH_DEFAULTS.egressPort),
      }));
    }
    if (e.registryOnly) {
      new Sidecar(this, 'EgressLock', {
        metadata: this.metadata(`${this.namespace}-egress`),
        spec: { outboundTrafficPolicy: { mode: SidecarSpecOutboundTrafficPolicyMode.REGISTRY_UNDERSCORE_ONLY } },
      });
    }
  }

  private warn(message: string) {
    this.warnings.push(message);
    this.node.addMetadata('warning', message);
    process.stderr.write(`[WARNING] ${this.node.path}: ${message}\n`);
  }

  private record<T>(map: Readonly<Record<string, T>>, key: string, value: T) {
    (map as Record<string, T>)[key] = value;
  }
}

function claimNamespace(root: IConstruct, namespace: string, path: string) {
  let map = meshesByRoot.get(root);
  if (!map) meshesByRoot.set(root, (map = new Map()));
  const other = map.get(namespace);
  if (other !== undefined) {
    throw new PropsValidationError(path, [`services: namespace "${namespace}" already has a MeshPolicy (${other}); put all its agents in one MeshPolicy`]);
  }
  map.set(namespace, path);
}

function checkEgressHosts(o: MeshOptions): string[] {
  const seen = new Map<string, number>();
  const problems: string[] = [];
  (o.egress?.hosts ?? []).forEach((h, i) => {
    const prev = seen.get(h.host);
    if (prev !== undefined) problems.push(`egress.hosts[${i}]: "${h.host}" is already listed (egress.hosts[${prev}])`);
    else seen.set(h.host, i);
  });
  return problems;
}

// A value produced at synthesis, typed as the value (cdk8s resolves Lazy anywhere in props).
function lazy<T>(produce: () => T): T {
  return Lazy.any({ produce }) as unknown as T;
}

// Keep the documented interfaces and the zod schema in step at compile time.
type Assert<T extends true> = T;
type MeshOptionProps = Omit<MeshPolicyProps, 'services' | 'calls' | 'ingress'>;
export type _MeshPropsMatchSchema = Assert<MeshOptionProps extends MeshOptionsInput ? true : false>;
export type _MeshSchemaMatchesProps = Assert<Required<MeshOptionsInput> extends Required<{ [K in keyof MeshOptionProps]: unknown }> ? true : false>;

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function addTo(index: Map<string, Set<string>>, key: string, value: string) {
  let set = index.get(key);
  if (!set) index.set(key, (set = new Set()));
  set.add(value);
}

function sortedNames(names: Set<string> | undefined): string[] {
  return names ? [...names].sort(compare) : [];
}
