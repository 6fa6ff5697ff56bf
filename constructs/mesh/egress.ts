/** Egress objects of a MeshPolicy: a ServiceEntry per external host and the optional REGISTRY_ONLY lock. */
import { ServiceEntry, Sidecar, SidecarSpecOutboundTrafficPolicyMode } from '../../imports/istio-networking.istio.io';
import { MeshContext } from './context';
import { egressName, MESH_DEFAULTS, MeshOptions } from './options';
import { serviceEntrySpec } from './render';

/** The namespace-level `egress.hosts`: ServiceEntries by host, and the Sidecar lock with `registryOnly`. */
export function namespaceEgress(ctx: MeshContext): Record<string, ServiceEntry> {
  const entries: Record<string, ServiceEntry> = {};
  const e = ctx.options.egress;
  if (!e) return entries;
  for (const h of e.hosts) {
    const name = egressName(h.host);
    entries[h.host] = new ServiceEntry(ctx.scope, `${name}-ServiceEntry`, {
      metadata: ctx.metadata(name),
      spec: serviceEntrySpec(h.host, h.port ?? MESH_DEFAULTS.egressPort),
    });
  }
  if (e.registryOnly) {
    new Sidecar(ctx.scope, 'EgressLock', {
      metadata: ctx.metadata(`${ctx.namespace}-egress`),
      spec: { outboundTrafficPolicy: { mode: SidecarSpecOutboundTrafficPolicyMode.REGISTRY_UNDERSCORE_ONLY } },
    });
  }
  return entries;
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
