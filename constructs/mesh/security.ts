/**
 * The zero-trust objects of a MeshPolicy: namespace mTLS, default deny, and per agent the
 * AuthorizationPolicy, the metrics-port PeerAuthentication and the NetworkPolicy mirror.
 */
import * as kplus from 'cdk8s-plus-28';
import { AuthorizationPolicy, PeerAuthentication, PeerAuthenticationSpecMtlsMode, PeerAuthenticationSpecPortLevelMtlsMode } from '../../imports/istio-security.istio.io';
import { AgentSpec } from '../spec';
import { lazy, MeshContext } from './context';
import { agentHosts } from './egress';
import { AgentPlan, MESH_DEFAULTS, principalOf } from './options';
import { ALLOW, authorizationPolicyRules, InboundAccess, networkPolicyRules, sortKeys, uniqSorted } from './render';

/** Namespace-wide PeerAuthentication `<namespace>-mtls`. */
export function namespacePeerAuthentication(ctx: MeshContext): PeerAuthentication {
  const mode = ctx.options.mtlsMode ?? MESH_DEFAULTS.mtlsMode;
  if (mode === 'PERMISSIVE') {
    ctx.warn(`mtlsMode is PERMISSIVE: agents in namespace ${ctx.namespace} also accept plaintext, so principals are not verified for those requests; use it only while migrating workloads into the mesh`);
  }
  return new PeerAuthentication(ctx.scope, 'PeerAuthentication', {
    metadata: ctx.metadata(`${ctx.namespace}-mtls`),
    spec: { mtls: { mode: mode === 'STRICT' ? PeerAuthenticationSpecMtlsMode.STRICT : PeerAuthenticationSpecMtlsMode.PERMISSIVE } },
  });
}

/** The allow-nothing AuthorizationPolicy `default-deny`. */
export function defaultDenyAuthorization(ctx: MeshContext): AuthorizationPolicy {
  return new AuthorizationPolicy(ctx.scope, 'DefaultDeny', {
    // An ALLOW policy without rules matches nothing: every request needs an explicit allow below.
    metadata: ctx.metadata('default-deny'),
    spec: {},
  });
}

/** The NetworkPolicy `default-deny` (all ingress and egress of the namespace's pods). */
export function defaultDenyNetwork(ctx: MeshContext): kplus.k8s.KubeNetworkPolicy | undefined {
  if (ctx.options.networkPolicy === false) return undefined;
  return new kplus.k8s.KubeNetworkPolicy(ctx.scope, 'DefaultDenyNetwork', {
    metadata: ctx.metadata('default-deny'),
    spec: { podSelector: {}, policyTypes: ['Ingress', 'Egress'] },
  });
}

/** Who scrapes the metrics port, from the `prometheus` option. */
export function scrapeAccess(options: MeshContext['options']): InboundAccess['scrape'] {
  const p = options.prometheus;
  if (p === false) return undefined;
  if (p?.plaintextFrom) return { ipBlocks: p.plaintextFrom, plaintext: true };
  const namespaces = [p?.namespace ?? MESH_DEFAULTS.prometheusNamespace];
  if (p?.principals) return { principals: p.principals, plaintext: p.plaintext };
  return { namespaces, plaintext: p?.plaintext };
}

/**
 * One agent's AuthorizationPolicy, metrics PeerAuthentication and NetworkPolicy. `access` and
 * `callees` are read at synthesis: the call graph may still grow through allow().
 */
export function agentSecurity(
  ctx: MeshContext,
  plan: AgentPlan,
  access: () => InboundAccess,
  callees: () => AgentSpec[],
): { authorizationPolicy: AuthorizationPolicy; networkPolicy?: kplus.k8s.KubeNetworkPolicy } {
  const spec = plan.spec;
  const labels = { ...spec.labels };
  const trustDomain = ctx.options.trustDomain ?? MESH_DEFAULTS.trustDomain;
  const authorizationPolicy = new AuthorizationPolicy(ctx.scope, `${spec.name}-AuthorizationPolicy`, {
    metadata: ctx.metadata(`${spec.name}-allow`, labels),
    spec: {
      selector: { matchLabels: sortKeys(spec.selectorLabels) },
      action: ALLOW,
      rules: lazy(() => {
        const rules = authorizationPolicyRules(access(), trustDomain);
        return rules.length > 0 ? rules : undefined;
      }),
    },
  });

  const scrape = scrapeAccess(ctx.options);
  if (scrape?.plaintext && spec.sidecar.enabled) {
    new PeerAuthentication(ctx.scope, `${spec.name}-MetricsPeerAuthentication`, {
      metadata: ctx.metadata(`${spec.name}-metrics-plaintext`, labels),
      spec: {
        selector: { matchLabels: sortKeys(spec.selectorLabels) },
        portLevelMtls: { [String(spec.sidecar.metricsPort)]: { mode: PeerAuthenticationSpecPortLevelMtlsMode.PERMISSIVE } },
      },
    });
  }

  const np = ctx.options.networkPolicy;
  if (np === false) return { authorizationPolicy };
  const d = MESH_DEFAULTS.networkPolicy;
  const npCtx = {
    dnsNamespace: np?.dnsNamespace ?? d.dnsNamespace,
    dnsPodLabels: d.dnsPodLabels,
    istioNamespace: np?.istioNamespace ?? d.istioNamespace,
    istiodPodLabels: d.istiodPodLabels,
    externalPorts: agentHosts(ctx.options, spec).map((h) => h.port),
    externalCidrs: np?.externalCidrs ?? [...d.externalCidrs],
    externalExcept: np?.externalExcept ?? [...d.externalExcept],
  };
  const rulesOf = () => networkPolicyRules(access(), callees(), npCtx, spec.dependencies);
  const networkPolicy = new kplus.k8s.KubeNetworkPolicy(ctx.scope, `${spec.name}-NetworkPolicy`, {
    metadata: ctx.metadata(`${spec.name}-allow`, labels),
    spec: {
      podSelector: { matchLabels: sortKeys(spec.selectorLabels) },
      policyTypes: ['Ingress', 'Egress'],
      ingress: lazy(() => {
        const r = rulesOf().ingress;
        return r.length > 0 ? r : undefined;
      }),
      egress: lazy(() => rulesOf().egress),
    },
  });
  return { authorizationPolicy, networkPolicy };
}

/**
 * Inbound side of in-namespace dependencies (the agents' Redis in their own namespace): the
 * namespace's default deny covers those pods too, so each gets an AuthorizationPolicy and a
 * NetworkPolicy `dependency-<service>` admitting exactly its dependents on its port. Their pod
 * labels are unknown, so both select every pod of the namespace and are limited by the port.
 */
export function dependencyAccess(ctx: MeshContext, specs: readonly AgentSpec[]): void {
  const trustDomain = ctx.options.trustDomain ?? MESH_DEFAULTS.trustDomain;
  const agents = new Set(specs.map((s) => s.names.service));
  const byService = new Map<string, { port: Set<number>; dependents: AgentSpec[] }>();
  for (const s of specs) {
    for (const d of s.dependencies) {
      if (d.namespace !== ctx.namespace || agents.has(d.service)) continue;
      const entry = byService.get(d.service) ?? { port: new Set<number>(), dependents: [] };
      entry.port.add(d.port);
      if (!entry.dependents.includes(s)) entry.dependents.push(s);
      byService.set(d.service, entry);
    }
  }
  for (const [service, { port, dependents }] of [...byService].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const ports = [...port].sort((a, b) => a - b);
    new AuthorizationPolicy(ctx.scope, `dependency-${service}-AuthorizationPolicy`, {
      metadata: ctx.metadata(`dependency-${service}`),
      spec: {
        action: ALLOW,
        rules: [{ from: [{ source: { principals: uniqSorted(dependents.map((s) => principalOf(s, trustDomain))) } }], to: [{ operation: { ports: ports.map(String) } }] }],
      },
    });
    if (ctx.options.networkPolicy === false) continue;
    new kplus.k8s.KubeNetworkPolicy(ctx.scope, `dependency-${service}-NetworkPolicy`, {
      metadata: ctx.metadata(`dependency-${service}`),
      spec: {
        podSelector: {},
        policyTypes: ['Ingress'],
        ingress: [{
          from: dependents.map((s) => ({ podSelector: { matchLabels: sortKeys(s.selectorLabels) } })),
          ports: ports.map((p) => ({ port: kplus.k8s.IntOrString.fromNumber(p), protocol: 'TCP' })),
        }],
      },
    });
  }
}
