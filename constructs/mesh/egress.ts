/**
 * Egress objects of a MeshPolicy: a ServiceEntry per external host (the namespace's
 * `egress.hosts` and every agent's own egressHosts), and per agent a Sidecar that imports only
 * its callees, its dependencies and its hosts, REGISTRY_ONLY by default so anything else is
 * unreachable from it. The NetworkPolicy mirror (security.ts) opens the same ports at L3/L4.
 */
import { ServiceEntry, Sidecar, SidecarSpecOutboundTrafficPolicyMode } from '../../imports/istio-networking.istio.io';
import { AgentSpec } from '../spec';
import { lazy, MeshContext } from './context';
import { egressName, MESH_DEFAULTS, MeshOptions } from './options';
import { serviceEntrySpec, sortKeys, uniqSorted } from './render';

/** Sidecar egress hosts every agent imports by default (istiod, the mesh's own telemetry). */
export const DEFAULT_SIDECAR_HOSTS = ['istio-system/*'] as const;

/** Namespace-level hosts as host/port pairs. */
export function namespaceHosts(o: MeshOptions): Array<{ host: string; port: number }> {
  return (o.egress?.hosts ?? []).map((h) => ({ host: h.host, port: h.port ?? MESH_DEFAULTS.egressPort }));
}

/** External host/port pairs one agent may reach: the namespace's plus its own. */
export function agentHosts(o: MeshOptions, spec: AgentSpec): Array<{ host: string; port: number }> {
  const all = [...namespaceHosts(o), ...spec.egressHosts.map((h) => ({ host: h.host, port: h.port }))];
  return [...new Map(all.map((h) => [`${h.host}:${h.port}`, h])).values()];
}

/** ServiceEntries (one per host, every port any agent uses) and the optional namespace lock. */
export function namespaceEgress(ctx: MeshContext, specs: readonly AgentSpec[]): Record<string, ServiceEntry> {
  const ports = new Map<string, Set<number>>();
  for (const h of [...namespaceHosts(ctx.options), ...specs.flatMap((s) => agentHosts(ctx.options, s))]) {
    const set = ports.get(h.host) ?? new Set<number>();
    set.add(h.port);
    ports.set(h.host, set);
  }
  const entries: Record<string, ServiceEntry> = {};
  for (const [host, set] of ports) {
    const name = egressName(host);
    entries[host] = new ServiceEntry(ctx.scope, `${name}-ServiceEntry`, {
      metadata: ctx.metadata(name),
      spec: serviceEntrySpec(host, [...set].sort((a, b) => a - b)),
    });
  }
  if (ctx.options.egress?.registryOnly === true) {
    new Sidecar(ctx.scope, 'EgressLock', {
      metadata: ctx.metadata(`${ctx.namespace}-egress`),
      spec: { outboundTrafficPolicy: { mode: SidecarSpecOutboundTrafficPolicyMode.REGISTRY_UNDERSCORE_ONLY } },
    });
  }
  return entries;
}

/** Istio Sidecar host of a cluster Service: `<ns>/<svc>.<ns>.svc.cluster.local`. */
function serviceHost(service: string, namespace: string): string {
  return `${namespace}/${service}.${namespace}.svc.cluster.local`;
}

/** The agent's Sidecar `<agent>-sidecar`: what its proxy may reach (read at synthesis: allow() may add callees). */
export function agentSidecar(ctx: MeshContext, spec: AgentSpec, callees: () => AgentSpec[]): Sidecar {
  const o = ctx.options;
  const registryOnly = o.egress?.registryOnly !== false;
  return new Sidecar(ctx.scope, `${spec.name}-Sidecar`, {
    metadata: ctx.metadata(`${spec.name}-sidecar`, { ...spec.labels }),
    spec: {
      workloadSelector: { labels: sortKeys(spec.selectorLabels) },
      egress: [{
        hosts: lazy(() => uniqSorted([
          ...(o.egress?.sidecarHosts ?? DEFAULT_SIDECAR_HOSTS),
          ...callees().map((c) => serviceHost(c.names.service, c.namespace)),
          ...spec.dependencies.map((d) => serviceHost(d.service, d.namespace)),
          ...agentHosts(o, spec).map((h) => `${ctx.namespace}/${h.host}`),
        ])),
      }],
      outboundTrafficPolicy: registryOnly ? { mode: SidecarSpecOutboundTrafficPolicyMode.REGISTRY_UNDERSCORE_ONLY } : undefined,
    },
  });
}

/** Each host listed once. */
export function checkEgressHosts(o: MeshOptions): string[] {
  const seen = new Map<string, number>();
  const problems: string[] = [];
  (o.egress?.hosts ?? []).forEach((h, i) => {
    const prev = seen.get(h.host);
    if (prev !== undefined) problems.push(`egress.hosts[${i}]: "${h.host}" is already listed (egress.hosts[${prev}])`);
    else seen.set(h.host, i);
  });
  return problems;
}
