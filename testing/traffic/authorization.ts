/**
 * Istio AuthorizationPolicy evaluation at the server sidecar: CUSTOM first, then DENY (any
 * match denies), then ALLOW (no ALLOW policy for the workload: allowed; otherwise a rule of one
 * of them must match). A policy applies when it sits in the workload's namespace, or in the root
 * namespace (mesh-wide), and its selector matches the pod (no selector: every pod there).
 * Principals and namespaces come from the peer certificate: with plaintext they are empty, so
 * `principals`/`namespaces` cannot match while `notPrincipals`/`notNamespaces` do.
 */
import { anyIstioMatch, inCidr, istioMatch, selectorMatches } from './match';
import { ObjectIndex, refOf } from './objects';
import type { Endpoint } from './peer';
import type { RequestAuth } from './request-authentication';
import type { TrafficStep } from './types';

type Json = Record<string, any>;

/** The request as the server sidecar sees it. */
export interface RequestAttributes {
  /** `<trust-domain>/ns/<ns>/sa/<sa>`, only with mTLS. */
  readonly principal?: string;
  /** Peer namespace, only with mTLS. */
  readonly namespace?: string;
  readonly ip?: string;
  /** Destination (container) port. */
  readonly port: number;
  /** The validated end-user token, if any (RequestAuthentication). */
  readonly auth?: RequestAuth;
  /** Whether the port carries HTTP (HTTP-only fields apply). */
  readonly http: boolean;
  readonly method: string;
  readonly path: string;
  readonly host: string;
}

const HTTP_SOURCE_FIELDS = ['requestPrincipals', 'notRequestPrincipals'];
const HTTP_OPERATION_FIELDS = ['hosts', 'notHosts', 'methods', 'notMethods', 'paths', 'notPaths'];

interface Match { readonly matched: boolean; readonly notes: string[] }

function ips(list: string[] | undefined, ip: string | undefined): boolean {
  return (list ?? []).some((c) => inCidr(ip, c));
}

function sourceMatches(s: Json, r: RequestAttributes, ignoreHttp: boolean): boolean {
  if (s.principals && !anyIstioMatch(s.principals, r.principal)) return false;
  if (s.notPrincipals && anyIstioMatch(s.notPrincipals, r.principal)) return false;
  if (s.namespaces && !anyIstioMatch(s.namespaces, r.namespace)) return false;
  if (s.notNamespaces && anyIstioMatch(s.notNamespaces, r.namespace)) return false;
  if (s.ipBlocks && !ips(s.ipBlocks, r.ip)) return false;
  if (s.notIpBlocks && ips(s.notIpBlocks, r.ip)) return false;
  if (s.remoteIpBlocks && !ips(s.remoteIpBlocks, r.ip)) return false;
  if (s.notRemoteIpBlocks && ips(s.notRemoteIpBlocks, r.ip)) return false;
  if (!ignoreHttp) {
    // Without a validated token the request principal is empty.
    if (s.requestPrincipals && !anyIstioMatch(s.requestPrincipals, r.auth?.principal)) return false;
    if (s.notRequestPrincipals && anyIstioMatch(s.notRequestPrincipals, r.auth?.principal)) return false;
  }
  return true;
}

function operationMatches(o: Json, r: RequestAttributes, ignoreHttp: boolean): boolean {
  if (o.ports && !(o.ports as string[]).includes(String(r.port))) return false;
  if (o.notPorts && (o.notPorts as string[]).includes(String(r.port))) return false;
  if (ignoreHttp) return true;
  if (o.methods && !anyIstioMatch(o.methods, r.method)) return false;
  if (o.notMethods && anyIstioMatch(o.notMethods, r.method)) return false;
  if (o.paths && !anyIstioMatch(o.paths, r.path)) return false;
  if (o.notPaths && anyIstioMatch(o.notPaths, r.path)) return false;
  if (o.hosts && !(o.hosts as string[]).some((h) => istioMatch(h.toLowerCase(), r.host))) return false;
  if (o.notHosts && (o.notHosts as string[]).some((h) => istioMatch(h.toLowerCase(), r.host))) return false;
  return true;
}

const CONDITIONS: Record<string, (r: RequestAttributes) => string | undefined> = {
  'source.principal': (r) => r.principal,
  'source.namespace': (r) => r.namespace,
  'destination.port': (r) => String(r.port),
  'request.auth.principal': (r) => r.auth?.principal,
};

/** Values of a `request.auth.*` condition key: claims may be lists (any value matches). */
function authValues(key: string, r: RequestAttributes): readonly string[] | undefined {
  if (key === 'request.auth.audiences') return r.auth?.audiences ?? [];
  const claim = /^request\.auth\.claims\[([^\]]+)\]$/.exec(key);
  if (claim) return r.auth?.claims[claim[1]] ?? [];
  return undefined;
}

function usesHttpFields(rule: Json): boolean {
  const from = (rule.from ?? []) as Json[];
  const to = (rule.to ?? []) as Json[];
  return from.some((f) => HTTP_SOURCE_FIELDS.some((k) => f.source?.[k])) || to.some((t) => HTTP_OPERATION_FIELDS.some((k) => t.operation?.[k]))
    || ((rule.when ?? []) as Json[]).some((c) => String(c.key).startsWith('request.'));
}

function ruleMatches(rule: Json, r: RequestAttributes, action: string): Match {
  const notes: string[] = [];
  const httpOnly = usesHttpFields(rule);
  // On TCP ports an ALLOW rule with HTTP-only fields never matches; a DENY rule drops those fields (Istio: both err on denying).
  if (!r.http && httpOnly && action === 'ALLOW') return { matched: false, notes: ['an ALLOW rule with HTTP-only fields does not apply to a TCP port'] };
  const ignoreHttp = !r.http;
  const from = rule.from as Json[] | undefined;
  if (from && from.length > 0 && !from.some((f) => sourceMatches(f.source ?? {}, r, ignoreHttp))) return { matched: false, notes };
  const to = rule.to as Json[] | undefined;
  if (to && to.length > 0 && !to.some((t) => operationMatches(t.operation ?? {}, r, ignoreHttp))) return { matched: false, notes };
  for (const c of (rule.when ?? []) as Json[]) {
    const list = authValues(c.key, r);
    if (list) {
      if (c.values && !list.some((v) => anyIstioMatch(c.values, v))) return { matched: false, notes };
      if (c.notValues && list.some((v) => anyIstioMatch(c.notValues, v))) return { matched: false, notes };
      continue;
    }
    const get = CONDITIONS[c.key];
    if (!get) {
      notes.push(`condition "${c.key}" is not modelled: treated as ${action === 'ALLOW' ? 'not matching' : 'matching'}`);
      if (action === 'ALLOW') return { matched: false, notes };
      continue;
    }
    const v = get(r);
    if (c.values && !anyIstioMatch(c.values, v)) return { matched: false, notes };
    if (c.notValues && anyIstioMatch(c.notValues, v)) return { matched: false, notes };
  }
  return { matched: true, notes };
}

function policyMatches(p: Json, r: RequestAttributes): Match {
  const action = p.spec?.action ?? 'ALLOW';
  const rules = (p.spec?.rules ?? []) as Json[];
  const notes: string[] = [];
  for (const rule of rules) {
    const m = ruleMatches(rule ?? {}, r, action);
    notes.push(...m.notes);
    if (m.matched) return { matched: true, notes };
  }
  return { matched: false, notes };
}

/**
 * The Istio policies of `kind` that apply to a workload: its namespace's and the root
 * namespace's, selector-less or selecting it (targetRef policies bind gateways, not workloads).
 */
export function applicablePolicies(index: ObjectIndex, endpoint: Endpoint, rootNamespace: string, kind: 'AuthorizationPolicy' | 'RequestAuthentication' = 'AuthorizationPolicy'): Json[] {
  const w = endpoint.workload;
  const candidates = [...index.of(kind, w.namespace), ...(w.namespace === rootNamespace ? [] : index.of(kind, rootNamespace))];
  return candidates.filter((p) => !p.spec?.targetRef && !p.spec?.targetRefs && (!p.spec?.selector || selectorMatches(p.spec.selector, w.labels)));
}

export function authorizationStep(index: ObjectIndex, endpoint: Endpoint, r: RequestAttributes, rootNamespace: string): { step: TrafficStep; notes: string[] } {
  if (!endpoint.mesh) return { step: { layer: 'authorization', verdict: 'n/a', objects: [], detail: 'no sidecar: AuthorizationPolicies do not apply' }, notes: [] };
  const policies = applicablePolicies(index, endpoint, rootNamespace);
  const notes: string[] = [];
  const by = (action: string) => policies.filter((p) => (p.spec?.action ?? 'ALLOW') === action);
  for (const p of by('CUSTOM')) {
    const m = policyMatches(p, r);
    notes.push(...m.notes);
    if (m.matched) notes.push(`${refOf(p as any)} (CUSTOM) sends the request to the external authorizer ${p.spec?.provider?.name ?? ''}: its answer is not modelled (assumed allow)`);
  }
  for (const p of by('DENY')) {
    const m = policyMatches(p, r);
    notes.push(...m.notes);
    if (m.matched) return { step: { layer: 'authorization', verdict: 'deny', objects: [refOf(p as any)], detail: `DENY policy ${refOf(p as any)} matches` }, notes };
  }
  const allows = by('ALLOW');
  if (allows.length === 0) return { step: { layer: 'authorization', verdict: 'allow', objects: [], detail: 'no ALLOW policy applies to the workload' }, notes };
  for (const p of allows) {
    const m = policyMatches(p, r);
    notes.push(...m.notes);
    if (m.matched) return { step: { layer: 'authorization', verdict: 'allow', objects: [refOf(p as any)], detail: `ALLOW policy ${refOf(p as any)} matches` }, notes };
  }
  const who = r.principal ? `principal ${r.principal}` : 'a plaintext client (no principal or namespace)';
  return {
    step: {
      layer: 'authorization',
      verdict: 'deny',
      objects: allows.map((p) => refOf(p as any)),
      detail: `no rule of the ALLOW policies (${allows.map((p) => refOf(p as any)).join(', ')}) matches ${who} ${r.http ? `${r.method} ${r.path} ` : ''}on port ${r.port}`,
    },
    notes,
  };
}
