/**
 * The traffic model: is a flow allowed by the synthesized objects, and which objects decide it?
 * Layers, in the order a connection meets them: Service and target port, the client sidecar's
 * registry view (Sidecar, ServiceEntry), the client's NetworkPolicy egress, the server's
 * NetworkPolicy ingress, the server sidecar's mTLS mode (PeerAuthentication) and its
 * AuthorizationPolicies. See docs/traffic.md for what is and is not modelled.
 */
import { ManifestInput, toObjects } from '../synth';
import { requestAuthenticationStep } from './request-authentication';
import { authorizationStep } from './authorization';
import { selectorMatches } from './match';
import { networkEgress, networkIngress } from './network-policy';
import { ObjectIndex, ServiceInfo, ServicePort, Workload } from './objects';
import { mtlsStep } from './peer-authentication';
import type { Endpoint, Peer } from './peer';
import { sidecarEgressStep } from './sidecar-egress';
import type { TrafficDecision, TrafficDestination, TrafficModelOptions, TrafficSource, TrafficStep } from './types';

const HTTP_PROTOCOLS = ['http', 'http2', 'grpc', 'grpc-web', 'h2c'];
const KNOWN_PROTOCOLS = [...HTTP_PROTOCOLS, 'https', 'tcp', 'tls', 'mongo', 'mysql', 'redis', 'udp'];

/** Istio's protocol selection: appProtocol, else the port name's `<protocol>[-<suffix>]` prefix, else sniffing. */
export function portProtocol(p: Pick<ServicePort, 'name' | 'appProtocol'>): string | undefined {
  const app = p.appProtocol?.toLowerCase().replace(/^kubernetes\.io\//, '');
  if (app && KNOWN_PROTOCOLS.includes(app)) return app;
  const prefix = p.name?.toLowerCase().split('-')[0];
  return prefix && KNOWN_PROTOCOLS.includes(prefix) ? prefix : undefined;
}

export class TrafficModel {
  readonly index: ObjectIndex;
  private readonly options: Required<Omit<TrafficModelOptions, 'meshNamespaces' | 'namespaceLabels'>>;
  private readonly meshNamespaces: Set<string>;
  private readonly nsLabels: Map<string, Record<string, string>>;

  constructor(input: ManifestInput, options: TrafficModelOptions = {}) {
    this.index = new ObjectIndex(toObjects(input).objects);
    this.options = {
      rootNamespace: options.rootNamespace ?? 'istio-system',
      outboundTrafficPolicy: options.outboundTrafficPolicy ?? 'ALLOW_ANY',
      trustDomain: options.trustDomain ?? 'cluster.local',
      externalHostIp: options.externalHostIp ?? '203.0.113.10',
    };
    this.meshNamespaces = new Set(options.meshNamespaces ?? this.index.istioNamespaces);
    this.nsLabels = new Map();
    for (const ns of this.index.of('Namespace')) {
      const name = ns.metadata?.name;
      if (name) {
        this.nsLabels.set(name, { ...(ns.metadata?.labels ?? {}) });
        if (ns.metadata?.labels?.['istio-injection'] === 'enabled' && !options.meshNamespaces) this.meshNamespaces.add(name);
      }
    }
    for (const [ns, labels] of Object.entries(options.namespaceLabels ?? {})) this.nsLabels.set(ns, { ...(this.nsLabels.get(ns) ?? {}), ...labels });
  }

  /** Labels of a namespace as namespaceSelectors see them. */
  namespaceLabels = (namespace: string): Record<string, string> => ({ ...(this.nsLabels.get(namespace) ?? {}), 'kubernetes.io/metadata.name': namespace });

  /** Whether a workload's pods run the sidecar (mesh namespace, injection not turned off). */
  inMesh(w: Workload): boolean {
    const off = w.annotations['sidecar.istio.io/inject'] === 'false' || w.labels['sidecar.istio.io/inject'] === 'false';
    return this.meshNamespaces.has(w.namespace) && !off;
  }

  /** The source as a peer. */
  peer(source: TrafficSource): Peer {
    if ('workload' in source) {
      const w = this.index.workload(source.workload, source.namespace);
      if (!w) throw new Error(`traffic: no workload "${source.workload}"${source.namespace ? ` in namespace ${source.namespace}` : ''} in the objects (workloads: ${this.index.workloads.map((x) => `${x.namespace}/${x.name}`).join(', ') || 'none'})`);
      return { name: `${w.namespace}/${w.name}`, namespace: w.namespace, labels: w.labels, serviceAccount: w.serviceAccount, mesh: this.inMesh(w) ? 'sidecar' : 'none', workload: w };
    }
    if ('pod' in source) {
      const p = source.pod;
      const sa = p.serviceAccount ?? 'default';
      return { name: p.name ?? `${p.namespace}/${sa}`, namespace: p.namespace, labels: p.labels ?? {}, serviceAccount: sa, mesh: p.mesh ?? 'none', ip: p.ip };
    }
    return { name: source.external.name ?? `external ${source.external.ip}`, labels: {}, mesh: 'none', ip: source.external.ip };
  }

  /** Is the flow allowed, and by which objects? */
  check(source: TrafficSource, destination: TrafficDestination): TrafficDecision {
    const client = this.peer(source);
    if ('host' in destination) return this.checkExternal(client, destination.host, destination.port ?? 443);
    return this.checkService(client, destination);
  }

  private checkExternal(client: Peer, host: string, port: number): TrafficDecision {
    const steps: TrafficStep[] = [];
    steps.push(sidecarEgressStep(this.index, client, { host, port }, this.options.rootNamespace, this.options.outboundTrafficPolicy).step);
    steps.push(networkEgress(this.index, client, { ip: this.options.externalHostIp }, { number: port, protocol: 'TCP' }, this.namespaceLabels));
    return decide(steps, []);
  }

  private checkService(client: Peer, d: Extract<TrafficDestination, { service: string }>): TrafficDecision {
    const svc = this.index.service(d.service, d.namespace);
    if (!svc) return decide([{ layer: 'service', verdict: 'deny', objects: [], detail: `no Service ${d.namespace ? `${d.namespace}/` : ''}${d.service}` }], []);
    const sp = svc.ports.find((p) => (typeof d.port === 'number' ? p.port === d.port : p.name === d.port));
    if (!sp) return decide([{ layer: 'service', verdict: 'deny', objects: [svc.ref], detail: `Service ${svc.namespace}/${svc.name} has no port ${d.port} (ports: ${svc.ports.map((p) => `${p.name ?? ''}:${p.port}`).join(', ')})` }], []);
    const backends = svc.selector ? this.index.workloads.filter((w) => w.namespace === svc.namespace && selectorMatches({ matchLabels: svc.selector }, w.labels)) : [];
    if (backends.length === 0) return decide([{ layer: 'service', verdict: 'deny', objects: [svc.ref], detail: `Service ${svc.namespace}/${svc.name} selects no workload` }], []);
    const decisions = backends.map((w) => this.checkEndpoint(client, svc, sp, w, d));
    const denied = decisions.find((x) => !x.allowed);
    if (denied) return denied;
    // Every backend (stable and canary) admits it: report the first, with the union of deciding objects.
    return { ...decisions[0], decidedBy: [...new Set(decisions.flatMap((x) => x.decidedBy))] };
  }

  private checkEndpoint(client: Peer, svc: ServiceInfo, sp: ServicePort, w: Workload, d: Extract<TrafficDestination, { service: string }>): TrafficDecision {
    const steps: TrafficStep[] = [];
    const notes: string[] = [];
    let port: number | undefined;
    let portName: string | undefined;
    if (typeof sp.targetPort === 'number' || /^\d+$/.test(String(sp.targetPort))) {
      port = Number(sp.targetPort);
      portName = w.ports.find((c) => c.containerPort === port)?.name;
    } else {
      const c = w.ports.find((x) => x.name === sp.targetPort);
      port = c?.containerPort;
      portName = c?.name;
    }
    if (port === undefined) {
      return decide([{ layer: 'service', verdict: 'deny', objects: [svc.ref, w.ref], detail: `targetPort "${sp.targetPort}" of ${svc.ref} names no container port of ${w.ref}` }], notes);
    }
    const protocol = portProtocol(sp);
    if (!protocol) notes.push(`${svc.ref} port ${sp.name ?? sp.port} has no protocol prefix or appProtocol: Istio sniffs the protocol (IST0118)`);
    steps.push({ layer: 'service', verdict: 'allow', objects: [svc.ref], detail: `${svc.ref} port ${sp.name ?? sp.port} -> ${w.ref} port ${port}` });
    const endpoint: Endpoint = { workload: w, port, portName, protocol: sp.protocol, mesh: this.inMesh(w) };
    const host = `${svc.name}.${svc.namespace}.svc.cluster.local`;
    const exportTo = this.index.of('Service', svc.namespace).find((s) => s.metadata?.name === svc.name)?.metadata?.annotations?.['networking.istio.io/exportTo'];
    const egress = sidecarEgressStep(this.index, client, {
      host,
      port: sp.port,
      service: { namespace: svc.namespace, exportTo: exportTo ? String(exportTo).split(',').map((s: string) => s.trim()) : undefined, ref: svc.ref },
    }, this.options.rootNamespace, this.options.outboundTrafficPolicy);
    steps.push(egress.step);
    const net = { number: port, name: portName, protocol: sp.protocol };
    steps.push(networkEgress(this.index, client, { namespace: w.namespace, labels: w.labels }, net, this.namespaceLabels));
    steps.push(networkIngress(this.index, { namespace: w.namespace, labels: w.labels, name: w.ref }, client, net, this.namespaceLabels));
    const mtls = mtlsStep(this.index, client, endpoint, this.options.rootNamespace, egress.passthrough);
    steps.push(mtls.step);
    const http = protocol === undefined ? true : HTTP_PROTOCOLS.includes(protocol);
    const authn = http ? requestAuthenticationStep(this.index, endpoint, d.jwt, this.options.rootNamespace) : {};
    if (authn.step) steps.push(authn.step);
    const auth = authorizationStep(this.index, endpoint, {
      principal: mtls.mtls && client.serviceAccount && client.namespace ? `${this.options.trustDomain}/ns/${client.namespace}/sa/${client.serviceAccount}` : undefined,
      namespace: mtls.mtls ? client.namespace : undefined,
      ip: client.ip,
      port,
      auth: authn.auth,
      http,
      method: (d.method ?? 'GET').toUpperCase(),
      path: d.path ?? '/',
      host,
    }, this.options.rootNamespace);
    steps.push(auth.step);
    notes.push(...auth.notes);
    return decide(steps, notes);
  }
}

function decide(steps: TrafficStep[], notes: string[]): TrafficDecision {
  const denied = steps.find((s) => s.verdict === 'deny');
  const uniqueNotes = [...new Set(notes)];
  if (denied) return { allowed: false, reason: denied.detail, decidedBy: [...denied.objects], steps, notes: uniqueNotes };
  const objects = [...new Set(steps.filter((s) => s.verdict === 'allow').flatMap((s) => s.objects))];
  const last = [...steps].reverse().find((s) => s.verdict === 'allow');
  return { allowed: true, reason: last?.detail ?? 'allowed', decidedBy: objects, steps, notes: uniqueNotes };
}

/** A decision as readable lines (for matcher messages and the CLI). */
export function explain(d: TrafficDecision): string {
  const lines = [`${d.allowed ? 'ALLOWED' : 'DENIED'}: ${d.reason}`];
  for (const s of d.steps) lines.push(`  ${s.verdict.padEnd(5)} ${s.layer.padEnd(15)} ${s.detail}`);
  for (const n of d.notes) lines.push(`  note: ${n}`);
  return lines.join('\n');
}
