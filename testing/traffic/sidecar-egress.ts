/**
 * What a sidecar client can reach: the host must be in its registry view (Kubernetes Services
 * and ServiceEntries exported to its namespace, narrowed by the Sidecar resource's egress hosts).
 * A host outside the view goes to the BlackHoleCluster under REGISTRY_ONLY, or leaves through the
 * PassthroughCluster (plaintext, no mTLS) under ALLOW_ANY.
 */
import { istioMatch, selectorMatches } from './match';
import { ObjectIndex, refOf } from './objects';
import type { Peer } from './peer';
import type { TrafficStep } from './types';

type Json = Record<string, any>;

/** The Sidecar resource that configures a workload: its own (workloadSelector), else the namespace's, else the root namespace's. */
export function sidecarFor(index: ObjectIndex, client: Peer, rootNamespace: string): Json | undefined {
  if (!client.namespace) return undefined;
  const inNs = index.of('Sidecar', client.namespace);
  return inNs.find((s) => s.spec?.workloadSelector && selectorMatches({ matchLabels: s.spec.workloadSelector.labels }, client.labels as Record<string, string>))
    ?? inNs.find((s) => !s.spec?.workloadSelector)
    ?? index.of('Sidecar', rootNamespace).find((s) => !s.spec?.workloadSelector);
}

function exported(exportTo: string[] | undefined, ownNamespace: string, clientNamespace: string): boolean {
  if (!exportTo || exportTo.length === 0) return true;
  return exportTo.some((e) => e === '*' || (e === '.' ? ownNamespace === clientNamespace : e === clientNamespace));
}

/** Whether the Sidecar's egress hosts (`<ns>/<host>`) import a host of a namespace. */
function imported(sidecar: Json | undefined, clientNamespace: string, hostNamespace: string, host: string): boolean {
  const listeners = sidecar?.spec?.egress as Json[] | undefined;
  if (!listeners || listeners.length === 0) return true;
  return listeners.some((l) => ((l.hosts ?? []) as string[]).some((h) => {
    const [ns, name] = h.includes('/') ? h.split('/', 2) : ['*', h];
    const nsOk = ns === '*' || (ns === '.' ? hostNamespace === clientNamespace : ns !== '~' && ns === hostNamespace);
    return nsOk && istioMatch(name, host);
  }));
}

export interface Target {
  /** The host the client dials. */
  readonly host: string;
  readonly port: number;
  /** For a Kubernetes Service: its namespace and exportTo. */
  readonly service?: { readonly namespace: string; readonly exportTo?: string[]; readonly ref: string };
}

export function sidecarEgressStep(index: ObjectIndex, client: Peer, target: Target, rootNamespace: string, meshDefault: 'ALLOW_ANY' | 'REGISTRY_ONLY'): { step: TrafficStep; passthrough: boolean } {
  if (client.mesh !== 'sidecar' || !client.namespace) {
    return { step: { layer: 'sidecar-egress', verdict: 'n/a', objects: [], detail: `${client.name} has no sidecar capturing its traffic` }, passthrough: false };
  }
  const ns = client.namespace;
  const sidecar = sidecarFor(index, client, rootNamespace);
  const sidecarRef = sidecar ? [refOf(sidecar as any)] : [];
  const mode = (sidecar?.spec?.outboundTrafficPolicy?.mode as 'ALLOW_ANY' | 'REGISTRY_ONLY' | undefined) ?? meshDefault;
  let visible: string[] | undefined;
  if (target.service) {
    const s = target.service;
    if (exported(s.exportTo, s.namespace, ns) && imported(sidecar, ns, s.namespace, target.host)) visible = [s.ref];
  } else {
    const entries = index.of('ServiceEntry').filter((se) => {
      const seNs = se.metadata?.namespace ?? 'default';
      const hostOk = ((se.spec?.hosts ?? []) as string[]).some((h) => istioMatch(h, target.host));
      const portOk = !se.spec?.ports || (se.spec.ports as Json[]).some((p) => p.number === target.port);
      return hostOk && portOk && exported(se.spec?.exportTo, seNs, ns) && imported(sidecar, ns, seNs, target.host);
    });
    if (entries.length > 0) visible = entries.map((e) => refOf(e as any));
  }
  if (visible) {
    return { step: { layer: 'sidecar-egress', verdict: 'allow', objects: [...visible, ...sidecarRef], detail: `${target.host}:${target.port} is in ${client.name}'s registry view (${visible.join(', ')})` }, passthrough: false };
  }
  const why = target.service
    ? `${target.host} is not imported by ${sidecarRef[0] ?? 'its Sidecar'} or not exported to ${ns}`
    : `no ServiceEntry for ${target.host}:${target.port} is visible to ${client.name}${sidecarRef.length ? ` through ${sidecarRef[0]}` : ''}`;
  if (mode === 'REGISTRY_ONLY') {
    return { step: { layer: 'sidecar-egress', verdict: 'deny', objects: sidecarRef, detail: `${why}; outbound mode REGISTRY_ONLY${sidecar?.spec?.outboundTrafficPolicy ? '' : ' (meshConfig)'} sends it to the BlackHoleCluster` }, passthrough: false };
  }
  return { step: { layer: 'sidecar-egress', verdict: 'allow', objects: sidecarRef, detail: `${why}; ALLOW_ANY passes it through (PassthroughCluster, no mTLS)` }, passthrough: true };
}
