import { ApiObjectMetadata } from 'cdk8s';
import * as kplus from 'cdk8s-plus-28';
import { Construct, IConstruct } from 'constructs';
import { DestinationRule, EnvoyFilter, ServiceEntry, Sidecar, VirtualService } from '../imports/istio-networking.istio.io';
import { AuthorizationPolicy, PeerAuthentication } from '../imports/istio-security.istio.io';
import { Telemetry } from '../imports/istio-telemetry.istio.io';
import { AgentService } from './agent-service';
import { agentRateLimitSpec } from './edge/envoy-filters';
import { MeshContext } from './mesh/context';
import { agentSidecar, checkEgressHosts, namespaceEgress } from './mesh/egress';
import {
  AgentPlan,
  IngressPeer,
  ingressPeerSchema,
  MESH_DEFAULTS,
  MeshOptions,
  MeshOptionsInput,
  meshOptionsSchema,
  planAgents,
} from './mesh/options';
import { MeshEdge, MeshIngressPeer, MeshPolicyProps } from './mesh/props';
import { destinationRuleSpec, InboundAccess, sortKeys, virtualServiceSpec } from './mesh/render';
import { agentToolEdges } from './mesh/tool-edges';
import { agentSecurity, defaultDenyAuthorization, defaultDenyNetwork, dependencyAccess, namespacePeerAuthentication, scrapeAccess } from './mesh/security';
import { AgentSpec, MANAGED_BY } from './spec';
import { formatIssues, PropsValidationError } from './validation';

export * from './mesh/props';

// One MeshPolicy per namespace per app: two would both write default-deny and the namespace mTLS policy.
const meshesByRoot = new WeakMap<IConstruct, Map<string, string>>();

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
  /** Sidecar `<agent>-sidecar` by agent name: the agent's egress (callees, dependencies, hosts), REGISTRY_ONLY by default. */
  public readonly sidecars: Readonly<Record<string, Sidecar>> = {};
  /** Namespace-wide PeerAuthentication `<namespace>-mtls`. */
  public readonly peerAuthentication: PeerAuthentication;
  /** The allow-nothing AuthorizationPolicy `default-deny`. */
  public readonly defaultDeny: AuthorizationPolicy;
  /** Telemetry `<namespace>-telemetry`, unless `telemetry: false`. */
  public readonly telemetry?: Telemetry;
  /** Warnings raised at construction (also printed to stderr): PERMISSIVE mTLS, plaintext scrape, per-try timeouts that cut calls short. */
  public readonly warnings: string[] = [];
  /** EnvoyFilter `<agent>-ratelimit` by agent name, for agents with a `rateLimit`. */
  public readonly rateLimits: Readonly<Record<string, EnvoyFilter>> = {};

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
    // `agent` tools are calls too: standalone users need not repeat them in `calls`.
    const toolEdges = agentToolEdges(specs, this.namespace);
    if (toolEdges.problems.length > 0) throw new PropsValidationError(this.node.path, toolEdges.problems);
    const byName = new Map(services.map((s) => [s.spec.name, s]));
    for (const [caller, callee] of toolEdges.edges) this.addEdges(byName.get(caller)!, [byName.get(callee)!], () => 'tools');
    (props.ingress ?? []).forEach((rule, i) => {
      const { to, ...peer } = rule;
      this.addIngress(to, peer, `ingress[${i}]`);
    });
    claimNamespace(this.node.root, this.namespace, this.node.path);

    for (const w of warnings) this.warn(w);
    const ctx = this.context();
    this.peerAuthentication = namespacePeerAuthentication(ctx);
    const prom = this.options.prometheus;
    if (prom && prom.plaintextFrom) {
      this.warn(`prometheus.plaintextFrom: the sidecar metrics port accepts plaintext from ${prom.plaintextFrom.join(', ')} (IP blocks, not verified identities)`);
    } else if (prom && prom.plaintext) {
      this.warn(`prometheus.plaintext: the sidecar metrics port accepts plaintext GET /metrics; only the NetworkPolicy limits it to namespace ${prom.namespace ?? MESH_DEFAULTS.prometheusNamespace} (enforced only by a CNI with NetworkPolicy support)`);
    }
    this.defaultDeny = defaultDenyAuthorization(ctx);
    for (const plan of plans) this.buildAgent(ctx, plan);
    dependencyAccess(ctx, specs);
    defaultDenyNetwork(ctx);
    this.telemetry = this.buildTelemetry();
    Object.assign(this.serviceEntries, namespaceEgress(ctx, specs));
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

  /** The normalized traffic plan of an agent of this mesh (routes, subsets, mirror): AgentGateway routes follow it. */
  public planOf(service: AgentService): AgentPlan | undefined {
    return this.members.get(service);
  }

  /** Trust domain of the mesh's principals. */
  public get trustDomain(): string {
    return this.options.trustDomain ?? MESH_DEFAULTS.trustDomain;
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

  private context(): MeshContext {
    return {
      scope: this,
      namespace: this.namespace,
      options: this.options,
      metadata: (name, labels) => this.metadata(name, labels),
      warn: (message) => this.warn(message),
    };
  }

  private buildAgent(ctx: MeshContext, plan: AgentPlan) {
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
    const { authorizationPolicy, networkPolicy } = agentSecurity(ctx, plan, () => this.inboundAccess(plan), () => this.calleesOf(spec.name));
    this.record(this.authorizationPolicies, spec.name, authorizationPolicy);
    const bucket = plan.experiments.rateLimit;
    if (bucket) {
      this.record(this.rateLimits, spec.name, new EnvoyFilter(this, `${spec.name}-RateLimit`, {
        metadata: this.metadata(`${spec.name}-ratelimit`, labels),
        spec: agentRateLimitSpec(spec.selectorLabels, spec.targetPort, bucket),
      }));
    }
    if (networkPolicy) this.record(this.networkPolicies, spec.name, networkPolicy);
    this.record(this.sidecars, spec.name, agentSidecar(ctx, spec, () => this.calleesOf(spec.name)));
  }

  private inboundAccess(plan: AgentPlan): InboundAccess {
    const name = plan.spec.name;
    const callers = sortedNames(this.callersByCallee.get(name)).map((n) => this.specOf(n));
    return { target: plan.spec, callers, ingress: this.ingressPeers.get(name) ?? [], scrape: scrapeAccess(this.options) };
  }

  private calleesOf(name: string) {
    return sortedNames(this.calleesByCaller.get(name)).map((n) => this.specOf(n));
  }

  private specOf(name: string) {
    const spec = this.specsByName.get(name);
    if (!spec) throw new Error(`unknown agent ${name}`);
    return spec;
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
