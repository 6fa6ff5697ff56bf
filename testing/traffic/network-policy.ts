/**
 * Kubernetes NetworkPolicy semantics: a pod is isolated for a direction when a policy of its
 * namespace selects it with that policy type; then a connection needs one matching rule of one
 * selecting policy (policies are additive, there is no deny rule). Evaluated at the pod's IP and
 * container port (after Service DNAT).
 */
import { inCidr, portMatches, selectorMatches } from './match';
import { ObjectIndex, refOf } from './objects';
import type { NamespaceLabels, Peer } from './peer';
import type { TrafficStep } from './types';

type Json = Record<string, any>;

/** A NetworkPolicy peer entry's view of the other end. */
export interface NetPeer {
  readonly namespace?: string;
  readonly labels?: Readonly<Record<string, string>>;
  readonly ip?: string;
}

function policyTypes(p: Json): string[] {
  if (Array.isArray(p.spec?.policyTypes) && p.spec.policyTypes.length > 0) return p.spec.policyTypes;
  return p.spec?.egress ? ['Ingress', 'Egress'] : ['Ingress'];
}

function selecting(index: ObjectIndex, namespace: string, labels: Readonly<Record<string, string>>, type: 'Ingress' | 'Egress'): Json[] {
  return index.of('NetworkPolicy', namespace).filter((p) => policyTypes(p).includes(type) && selectorMatches(p.spec?.podSelector ?? {}, labels as Record<string, string>));
}

function peerMatches(entry: Json, policyNamespace: string, other: NetPeer, nsLabels: NamespaceLabels): boolean {
  if (entry.ipBlock) {
    const b = entry.ipBlock;
    return inCidr(other.ip, b.cidr) && !(b.except ?? []).some((c: string) => inCidr(other.ip, c));
  }
  if (other.namespace === undefined) return false; // selectors only match pods
  const hasNs = entry.namespaceSelector !== undefined;
  const hasPod = entry.podSelector !== undefined;
  if (!hasNs && !hasPod) return false;
  const nsOk = hasNs ? selectorMatches(entry.namespaceSelector, nsLabels(other.namespace) as Record<string, string>) : other.namespace === policyNamespace;
  const podOk = hasPod ? selectorMatches(entry.podSelector, (other.labels ?? {}) as Record<string, string>) : true;
  return nsOk && podOk;
}

function portsMatch(ports: Json[] | undefined, port: number, portName: string | undefined, protocol: string): boolean {
  if (!ports || ports.length === 0) return true;
  return ports.some((p) => (p.protocol ?? 'TCP') === protocol && portMatches(p.port, port, portName, p.endPort));
}

function evaluate(
  index: ObjectIndex,
  type: 'Ingress' | 'Egress',
  pod: { namespace: string; labels: Readonly<Record<string, string>>; name: string },
  other: NetPeer,
  port: { number: number; name?: string; protocol: string },
  nsLabels: NamespaceLabels,
): TrafficStep {
  const layer = type === 'Ingress' ? 'network-ingress' : 'network-egress';
  const policies = selecting(index, pod.namespace, pod.labels, type);
  if (policies.length === 0) return { layer, verdict: 'allow', objects: [], detail: `no NetworkPolicy isolates ${pod.name} for ${type.toLowerCase()}` };
  const key = type === 'Ingress' ? 'ingress' : 'egress';
  const peersKey = type === 'Ingress' ? 'from' : 'to';
  const matching = policies.filter((p) => ((p.spec?.[key] ?? []) as Json[]).some((rule) => {
    const peers = rule[peersKey] as Json[] | undefined;
    const peerOk = !peers || peers.length === 0 || peers.some((e) => peerMatches(e, pod.namespace, other, nsLabels));
    return peerOk && portsMatch(rule.ports, port.number, port.name, port.protocol);
  }));
  const names = (list: Json[]) => list.map((p) => refOf(p as any));
  if (matching.length > 0) {
    return { layer, verdict: 'allow', objects: names(matching), detail: `${type.toLowerCase()} rule of ${names(matching).join(', ')} matches port ${port.number}/${port.protocol}` };
  }
  return {
    layer,
    verdict: 'deny',
    objects: names(policies),
    detail: `${pod.name} is isolated for ${type.toLowerCase()} by ${names(policies).join(', ')} and no rule admits ${describe(other)} on port ${port.number}/${port.protocol}`,
  };
}

function describe(p: NetPeer): string {
  return p.namespace === undefined ? `address ${p.ip ?? '(unknown)'}` : `a pod of namespace ${p.namespace}`;
}

/** The client's egress policies. */
export function networkEgress(index: ObjectIndex, client: Peer, server: NetPeer, port: { number: number; name?: string; protocol: string }, nsLabels: NamespaceLabels): TrafficStep {
  if (client.namespace === undefined) return { layer: 'network-egress', verdict: 'n/a', objects: [], detail: 'client outside the cluster' };
  return evaluate(index, 'Egress', { namespace: client.namespace, labels: client.labels, name: client.name }, server, port, nsLabels);
}

/** The server pod's ingress policies. */
export function networkIngress(
  index: ObjectIndex,
  server: { namespace: string; labels: Readonly<Record<string, string>>; name: string },
  client: Peer,
  port: { number: number; name?: string; protocol: string },
  nsLabels: NamespaceLabels,
): TrafficStep {
  return evaluate(index, 'Ingress', server, { namespace: client.namespace, labels: client.labels, ip: client.ip }, port, nsLabels);
}
