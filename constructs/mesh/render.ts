/**
 * Pure builders of the mesh objects' specs from the normalized plan. Only types and enums
 * come from the generated bindings; nothing here creates a construct.
 */
import { k8s } from 'cdk8s-plus-28';
import {
  DestinationRuleSpec,
  DestinationRuleSpecTrafficPolicyLoadBalancer,
  DestinationRuleSpecTrafficPolicyLoadBalancerSimple,
  DestinationRuleSpecTrafficPolicyTlsMode,
  ServiceEntrySpec,
  ServiceEntrySpecLocation,
  ServiceEntrySpecResolution,
  VirtualServiceSpec,
  VirtualServiceSpecHttp,
  VirtualServiceSpecHttpFault,
  VirtualServiceSpecHttpRetries,
} from '../../imports/istio-networking.istio.io';
import {
  AuthorizationPolicySpecAction,
  AuthorizationPolicySpecRules,
} from '../../imports/istio-security.istio.io';
import { SIDECAR_PATHS } from '../../sidecar/contract';
import { AgentDependency, AgentSpec } from '../spec';
import { AgentPlan, FaultOptions, IngressPeer, ISTIO_AGENT_PORT, ISTIOD_XDS_PORT, namespaceOfPrincipal, principalOf, RetryPlan, VERSION_LABEL } from './options';

const SIMPLE: Record<string, DestinationRuleSpecTrafficPolicyLoadBalancerSimple> = {
  ROUND_ROBIN: DestinationRuleSpecTrafficPolicyLoadBalancerSimple.ROUND_UNDERSCORE_ROBIN,
  LEAST_REQUEST: DestinationRuleSpecTrafficPolicyLoadBalancerSimple.LEAST_UNDERSCORE_REQUEST,
  RANDOM: DestinationRuleSpecTrafficPolicyLoadBalancerSimple.RANDOM,
};

export function virtualServiceSpec(plan: AgentPlan): VirtualServiceSpec {
  const spec = plan.spec;
  const http: VirtualServiceSpecHttp[] = plan.routes.map((r) => ({
    name: r.name,
    // Match the http port only, so the metrics port keeps plain Service routing.
    match: [{
      port: spec.port,
      headers: r.headers ? sortKeys(r.headers) : undefined,
      uri: r.uriPrefix ? { prefix: r.uriPrefix } : undefined,
    }],
    route: r.destinations.map((d) => ({
      destination: { host: spec.host, subset: d.subset, port: { number: spec.port } },
      weight: r.destinations.length > 1 ? d.weight : undefined,
    })),
    timeout: r.timeout,
    retries: retries(r.retries),
    fault: r.fault ? fault(r.fault) : undefined,
    ...mirrorOf(plan),
  }));
  return { hosts: [spec.host], http };
}

/** Istio's mirror fields for every route of the agent: a share of requests also goes to the canary. */
export function mirrorOf(plan: AgentPlan): Pick<VirtualServiceSpecHttp, 'mirror' | 'mirrorPercentage'> {
  const m = plan.experiments.mirror;
  if (!m) return {};
  return { mirror: { host: plan.spec.host, subset: m.subset, port: { number: plan.spec.port } }, mirrorPercentage: { value: m.percentage } };
}

export function retries(r: RetryPlan): VirtualServiceSpecHttpRetries {
  return r.attempts === 0 ? { attempts: 0 } : { attempts: r.attempts, perTryTimeout: r.perTryTimeout, retryOn: r.retryOn };
}

function fault(f: FaultOptions): VirtualServiceSpecHttpFault {
  return {
    delay: f.delay ? { fixedDelay: f.delay.fixedDelay, percentage: { value: f.delay.percentage } } : undefined,
    abort: f.abort ? { httpStatus: f.abort.httpStatus, percentage: { value: f.abort.percentage } } : undefined,
  };
}

export function destinationRuleSpec(plan: AgentPlan): DestinationRuleSpec {
  const cp = plan.connectionPool;
  const od = plan.outlierDetection;
  const loadBalancer: DestinationRuleSpecTrafficPolicyLoadBalancer = 'simple' in plan.loadBalancer
    ? { simple: SIMPLE[plan.loadBalancer.simple] }
    : { consistentHash: { ...plan.loadBalancer.consistentHash } };
  const locality = plan.experiments.locality;
  const lb: DestinationRuleSpecTrafficPolicyLoadBalancer = locality
    ? { ...loadBalancer, localityLbSetting: { enabled: true, failover: locality.failover?.map((f) => ({ ...f })), failoverPriority: locality.failoverPriority ? [...locality.failoverPriority] : undefined } }
    : loadBalancer;
  return {
    host: plan.spec.host,
    trafficPolicy: {
      loadBalancer: lb,
      connectionPool: {
        tcp: { maxConnections: cp.maxConnections, connectTimeout: cp.connectTimeout },
        http: {
          // Applies to HTTP/1.1 and HTTP/2 alike: the most requests in flight to the agent.
          http2MaxRequests: cp.maxRequests,
          http1MaxPendingRequests: cp.maxPendingRequests,
          maxRetries: cp.maxRetries,
          idleTimeout: cp.idleTimeout,
        },
      },
      outlierDetection: od ? {
        consecutive5XxErrors: od.consecutive5xxErrors,
        consecutiveGatewayErrors: od.consecutiveGatewayErrors,
        interval: od.interval,
        baseEjectionTime: od.baseEjectionTime,
        maxEjectionPercent: od.maxEjectionPercent,
        minHealthPercent: od.minHealthPercent,
      } : undefined,
      tls: { mode: DestinationRuleSpecTrafficPolicyTlsMode.ISTIO_UNDERSCORE_MUTUAL },
    },
    subsets: plan.subsets.map((s) => ({ name: s.name, labels: { [VERSION_LABEL]: s.version } })),
  };
}

/** Who may reach an agent, as data: the source of truth for the AuthorizationPolicy and the NetworkPolicy. */
export interface InboundAccess {
  readonly target: AgentSpec;
  /** Agents of the mesh that call the target's http port. */
  readonly callers: readonly AgentSpec[];
  /** Other workloads (gateways, frontends) allowed to call the http port. */
  readonly ingress: readonly IngressPeer[];
  /** Prometheus scrape of the sidecar metrics port, when the agent runs the sidecar. */
  readonly scrape?: {
    readonly namespaces?: readonly string[];
    readonly principals?: readonly string[];
    readonly ipBlocks?: readonly string[];
    /** Plaintext scrape through a PERMISSIVE metrics port: no identity to match. */
    readonly plaintext?: boolean;
  };
}

export function authorizationPolicyRules(access: InboundAccess, trustDomain: string): AuthorizationPolicySpecRules[] {
  const target = access.target;
  const http = { operation: { ports: [String(target.targetPort)] } };
  const rules: AuthorizationPolicySpecRules[] = [];
  if (access.callers.length > 0) {
    const principals = uniqSorted(access.callers.map((c) => principalOf(c, trustDomain)));
    rules.push({ from: [{ source: { principals } }], to: [http] });
  }
  for (const peer of access.ingress) {
    // Separate sources: fields inside one source are ANDed, sources are ORed.
    const from = [];
    if (peer.namespaces?.length) from.push({ source: { namespaces: uniqSorted(peer.namespaces) } });
    if (peer.principals?.length) from.push({ source: { principals: uniqSorted(peer.principals) } });
    rules.push({ from, to: [http] });
  }
  if (access.scrape && target.sidecar.enabled) {
    const s = access.scrape;
    const source = s.ipBlocks ? { ipBlocks: [...s.ipBlocks] } : s.principals ? { principals: uniqSorted(s.principals) } : { namespaces: uniqSorted(s.namespaces ?? []) };
    rules.push({
      // Plaintext has no principal or namespace: only the operation (and the NetworkPolicy) can limit it.
      from: s.plaintext && !s.ipBlocks ? undefined : [{ source }],
      to: [{ operation: { ports: [String(target.sidecar.metricsPort)], methods: ['GET'], paths: [SIDECAR_PATHS.metrics] } }],
    });
  }
  return rules;
}

export const ALLOW = AuthorizationPolicySpecAction.ALLOW;

export interface NetworkPolicyContext {
  readonly dnsNamespace: string;
  readonly dnsPodLabels: Readonly<Record<string, string>>;
  readonly istioNamespace: string;
  readonly istiodPodLabels: Readonly<Record<string, string>>;
  /** Ports of external hosts (ServiceEntries); empty: no internet egress. */
  readonly externalPorts: readonly number[];
  readonly externalCidrs: readonly string[];
  readonly externalExcept: readonly string[];
}

const NS_NAME_LABEL = 'kubernetes.io/metadata.name';
const tcp = (port: number): k8s.NetworkPolicyPort => ({ port: intOrString(port), protocol: 'TCP' });

/** The same graph for clusters or pods where the mesh is bypassed (plain Kubernetes NetworkPolicy). */
export function networkPolicyRules(
  access: InboundAccess,
  callees: readonly AgentSpec[],
  ctx: NetworkPolicyContext,
  dependencies: readonly AgentDependency[] = [],
): { ingress: k8s.NetworkPolicyIngressRule[]; egress: k8s.NetworkPolicyEgressRule[] } {
  const target = access.target;
  const ingress: k8s.NetworkPolicyIngressRule[] = [];
  if (access.callers.length > 0) {
    ingress.push({ from: access.callers.map((c) => ({ podSelector: { matchLabels: sortKeys(c.selectorLabels) } })), ports: [tcp(target.targetPort)] });
  }
  for (const peer of access.ingress) {
    const namespaces = uniqSorted([...(peer.namespaces ?? []), ...(peer.principals ?? []).map(namespaceOfPrincipal)]);
    ingress.push({ from: namespaces.map(nsPeer), ports: [tcp(target.targetPort)] });
  }
  if (access.scrape && target.sidecar.enabled) {
    const s = access.scrape;
    const from = s.ipBlocks
      ? s.ipBlocks.map((cidr) => ({ ipBlock: { cidr } }))
      : uniqSorted([...(s.namespaces ?? []), ...(s.principals ?? []).map(namespaceOfPrincipal)]).map(nsPeer);
    // 15020: the sidecar's merged metrics endpoint, used when Istio rewrites the prometheus.io annotations.
    ingress.push({ from, ports: [tcp(target.sidecar.metricsPort), tcp(ISTIO_AGENT_PORT)] });
  }

  const egress: k8s.NetworkPolicyEgressRule[] = [
    {
      to: [{ namespaceSelector: { matchLabels: { [NS_NAME_LABEL]: ctx.dnsNamespace } }, podSelector: { matchLabels: sortKeys(ctx.dnsPodLabels) } }],
      ports: [{ port: intOrString(53), protocol: 'UDP' }, { port: intOrString(53), protocol: 'TCP' }],
    },
    {
      to: [{ namespaceSelector: { matchLabels: { [NS_NAME_LABEL]: ctx.istioNamespace } }, podSelector: { matchLabels: sortKeys(ctx.istiodPodLabels) } }],
      ports: [tcp(ISTIOD_XDS_PORT)],
    },
  ];
  for (const callee of callees) {
    egress.push({ to: [{ podSelector: { matchLabels: sortKeys(callee.selectorLabels) } }], ports: [tcp(callee.targetPort)] });
  }
  // The dependency's pod labels are unknown: any pod of its namespace, on its port only.
  for (const d of dependencies) {
    const peer = d.namespace === target.namespace ? { podSelector: {} } : nsPeer(d.namespace);
    egress.push({ to: [peer], ports: [tcp(d.port)] });
  }
  if (ctx.externalPorts.length > 0) {
    egress.push({
      to: ctx.externalCidrs.map((cidr) => ({ ipBlock: { cidr, except: ctx.externalExcept.length ? [...ctx.externalExcept] : undefined } })),
      ports: uniqSorted(ctx.externalPorts.map(String)).map((p) => tcp(Number(p))),
    });
  }
  return { ingress, egress };
}

function nsPeer(ns: string): k8s.NetworkPolicyPeer {
  return { namespaceSelector: { matchLabels: { [NS_NAME_LABEL]: ns } } };
}

export function serviceEntrySpec(host: string, ports: readonly number[]): ServiceEntrySpec {
  return {
    hosts: [host],
    location: ServiceEntrySpecLocation.MESH_UNDERSCORE_EXTERNAL,
    resolution: ServiceEntrySpecResolution.DNS,
    // TLS: the agent speaks HTTPS itself; the sidecar routes on SNI.
    ports: ports.map((port) => ({ number: port, name: `tls-${port}`, protocol: 'TLS' })),
    // Visible to this namespace only: other teams' egress stays theirs to declare.
    exportTo: ['.'],
  };
}

function intOrString(n: number): k8s.IntOrString {
  return k8s.IntOrString.fromNumber(n);
}

export function uniqSorted(values: readonly string[]): string[] {
  return [...new Set(values)].sort();
}

export function sortKeys<T>(o: Readonly<Record<string, T>>): Record<string, T> {
  return Object.fromEntries(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}
