/**
 * Istio RequestAuthentication at the server sidecar: a request carrying a token is checked against
 * the jwtRules of every RequestAuthentication selecting the workload (its namespace and the root
 * namespace). A token whose issuer (or audience) no rule accepts is rejected with 401; a request
 * without a token passes, with no request principal (AuthorizationPolicy decides). Token signatures
 * are assumed valid: the model checks which issuers and audiences the objects accept.
 */
import { applicablePolicies } from './authorization';
import { ObjectIndex, refOf } from './objects';
import type { Endpoint } from './peer';
import type { TrafficJwt, TrafficStep } from './types';

type Json = Record<string, any>;

/** The authenticated end user, as AuthorizationPolicy sees it. */
export interface RequestAuth {
  /** `<iss>/<sub>`. */
  readonly principal: string;
  readonly audiences: readonly string[];
  readonly claims: Readonly<Record<string, readonly string[]>>;
}

export function requestAuthenticationStep(index: ObjectIndex, endpoint: Endpoint, jwt: TrafficJwt | undefined, rootNamespace: string): { step?: TrafficStep; auth?: RequestAuth } {
  if (!jwt || !endpoint.mesh) return {};
  const policies = applicablePolicies(index, endpoint, rootNamespace, 'RequestAuthentication');
  if (policies.length === 0) {
    return { step: { layer: 'authentication', verdict: 'n/a', objects: [], detail: 'no RequestAuthentication selects the workload: the token is not validated (no request principal)' } };
  }
  const audiences = jwt.audiences ?? [];
  for (const p of policies as Json[]) {
    for (const rule of (p.spec?.jwtRules ?? []) as Json[]) {
      if (rule.issuer !== jwt.issuer) continue;
      const accepted = rule.audiences as string[] | undefined;
      if (accepted && accepted.length > 0 && !audiences.some((a) => accepted.includes(a))) continue;
      const claims: Record<string, readonly string[]> = {};
      for (const [k, v] of Object.entries(jwt.claims ?? {})) claims[k] = Array.isArray(v) ? v : [v];
      return {
        step: { layer: 'authentication', verdict: 'allow', objects: [refOf(p as any)], detail: `${refOf(p as any)} validates tokens of ${jwt.issuer}` },
        auth: { principal: `${jwt.issuer}/${jwt.subject ?? 'user'}`, audiences, claims },
      };
    }
  }
  const refs = (policies as Json[]).map((p) => refOf(p as any));
  return { step: { layer: 'authentication', verdict: 'deny', objects: refs, detail: `401: no jwtRule of ${refs.join(', ')} accepts issuer ${jwt.issuer}${audiences.length ? ` with audiences ${audiences.join(', ')}` : ''}` } };
}
