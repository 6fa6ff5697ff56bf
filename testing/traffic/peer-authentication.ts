/**
 * Istio PeerAuthentication: the mTLS mode of a port is taken from the most specific policy that
 * sets it: the workload policy's portLevelMtls for that port, then the workload policy's mode,
 * the namespace policy (no selector), the mesh policy (root namespace, no selector), and finally
 * Istio's default PERMISSIVE. UNSET inherits from the next level; portLevelMtls is only honoured
 * on a policy with a selector.
 */
import { selectorMatches } from './match';
import { ObjectIndex, refOf } from './objects';
import type { Endpoint, Peer } from './peer';
import type { TrafficStep } from './types';

type Json = Record<string, any>;
export type MtlsMode = 'STRICT' | 'PERMISSIVE' | 'DISABLE';

/** Oldest first is Istio's tie-break; the input order stands in for creation time. */
function first(list: Json[]): Json | undefined {
  return list[0];
}

export function effectiveMtls(index: ObjectIndex, endpoint: Endpoint, rootNamespace: string): { mode: MtlsMode; objects: string[]; why: string } {
  const w = endpoint.workload;
  const inNs = index.of('PeerAuthentication', w.namespace);
  const workloadPolicy = first(inNs.filter((p) => p.spec?.selector && selectorMatches(p.spec.selector, w.labels)));
  const namespacePolicy = first(inNs.filter((p) => !p.spec?.selector));
  const meshPolicy = first(index.of('PeerAuthentication', rootNamespace).filter((p) => !p.spec?.selector));
  const levels: Array<[Json | undefined, string | undefined, string]> = [
    [workloadPolicy, workloadPolicy?.spec?.portLevelMtls?.[String(endpoint.port)]?.mode, `port ${endpoint.port} of the workload policy`],
    [workloadPolicy, workloadPolicy?.spec?.mtls?.mode, 'workload policy'],
    [namespacePolicy, namespacePolicy?.spec?.mtls?.mode, 'namespace policy'],
    [meshPolicy, meshPolicy?.spec?.mtls?.mode, 'mesh-wide policy'],
  ];
  for (const [policy, mode, why] of levels) {
    if (policy && mode && mode !== 'UNSET') return { mode: mode as MtlsMode, objects: [refOf(policy as any)], why };
  }
  return { mode: 'PERMISSIVE', objects: [], why: "Istio's default" };
}

/** Whether the connection is mTLS, and whether the server accepts it. */
export function mtlsStep(index: ObjectIndex, client: Peer, endpoint: Endpoint, rootNamespace: string, passthrough: boolean): { step: TrafficStep; mtls: boolean } {
  if (!endpoint.mesh) {
    return { step: { layer: 'mtls', verdict: 'n/a', objects: [], detail: `${endpoint.workload.name} runs no sidecar: plaintext, no Istio policy applies` }, mtls: false };
  }
  const { mode, objects, why } = effectiveMtls(index, endpoint, rootNamespace);
  // A sidecar client sends mTLS to a sidecar server unless the server disables it (auto mTLS) or the
  // call left through the PassthroughCluster (not in the client's registry).
  const clientMtls = (client.mesh === 'sidecar' && !passthrough) || client.mesh === 'certs';
  const at = `${mode} (${why}${objects.length ? `, ${objects.join(', ')}` : ''})`;
  if (mode === 'STRICT' && !clientMtls) {
    return { step: { layer: 'mtls', verdict: 'deny', objects, detail: `port ${endpoint.port} of ${endpoint.workload.name} is ${at} and ${client.name} sends plaintext${passthrough ? ' (PassthroughCluster)' : ''}` }, mtls: false };
  }
  if (mode === 'DISABLE') {
    if (client.mesh === 'certs') {
      return { step: { layer: 'mtls', verdict: 'deny', objects, detail: `port ${endpoint.port} of ${endpoint.workload.name} is ${at}: it does not accept ${client.name}'s TLS client certificate` }, mtls: false };
    }
    return { step: { layer: 'mtls', verdict: 'allow', objects, detail: `port ${endpoint.port} is ${at}: plaintext, no peer identity` }, mtls: false };
  }
  const detail = clientMtls ? `mTLS accepted on port ${endpoint.port} (${at})` : `plaintext accepted on port ${endpoint.port} (${at}): no peer identity`;
  return { step: { layer: 'mtls', verdict: 'allow', objects, detail }, mtls: clientMtls };
}
