/**
 * Pure builders of the edge objects' specs: the Istio Gateway, the VirtualService bound to it,
 * RequestAuthentication and the AuthorizationPolicies that require end-user tokens.
 */
import {
  GatewaySpec,
  GatewaySpecServersTlsMinProtocolVersion,
  GatewaySpecServersTlsMode,
  VirtualServiceSpec,
  VirtualServiceSpecHttp,
} from '../../imports/istio-networking.istio.io';
import {
  AuthorizationPolicySpec,
  AuthorizationPolicySpecAction,
  AuthorizationPolicySpecRules,
  RequestAuthenticationSpec,
} from '../../imports/istio-security.istio.io';
import { AgentPlan } from '../mesh/options';
import { mirrorOf, retries, sortKeys } from '../mesh/render';
import { EdgePlan, EdgeRoutePlan, requestPrincipalOf } from './options';

/** Envoy route name of an edge route: unique on a shared gateway (namespace and gateway in it). */
export function edgeRouteName(plan: EdgePlan, agentsNamespace: string, route: EdgeRoutePlan): string {
  return `${agentsNamespace}-${plan.name}-${route.name}`;
}

/**
 * HTTPS on 443 with the certificate from `tls.secretName` (a Secret in the gateway pods' namespace),
 * HTTP on 80 redirecting to HTTPS. `<agents namespace>/<host>`: only VirtualServices of the agents'
 * namespace can bind these hosts.
 */
export function gatewaySpec(plan: EdgePlan, agentsNamespace: string): GatewaySpec {
  const hosts = plan.hosts.map((h) => `${agentsNamespace}/${h}`);
  const servers: NonNullable<GatewaySpec['servers']> = [{
    port: { number: 443, name: 'https', protocol: 'HTTPS' },
    hosts,
    tls: {
      mode: GatewaySpecServersTlsMode.SIMPLE,
      credentialName: plan.tls.secretName,
      minProtocolVersion: plan.tls.minProtocolVersion === 'TLSV1_3' ? GatewaySpecServersTlsMinProtocolVersion.TLSV1_UNDERSCORE_3 : GatewaySpecServersTlsMinProtocolVersion.TLSV1_UNDERSCORE_2,
    },
  }];
  if (plan.tls.httpsRedirect) servers.push({ port: { number: 80, name: 'http', protocol: 'HTTP' }, hosts, tls: { httpsRedirect: true } });
  return { selector: { ...plan.selector }, servers };
}

/**
 * Routes of the gateway: longest path prefix first (Istio takes the first match), each to its
 * agent with the mesh plan's split, mirror and retries, so canaries and mirrors see ingress traffic
 * too (a VirtualService bound to a gateway does not inherit the mesh VirtualService).
 */
export function gatewayVirtualServiceSpec(plan: EdgePlan, agentsNamespace: string, agentPlans: ReadonlyMap<string, AgentPlan>): VirtualServiceSpec {
  const routes = [...plan.routes].sort((a, b) => b.pathPrefix.length - a.pathPrefix.length || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const http: VirtualServiceSpecHttp[] = routes.map((r) => {
    const agent = agentPlans.get(r.agent)!;
    const meshDefault = agent.routes[agent.routes.length - 1];
    return {
      name: edgeRouteName(plan, agentsNamespace, r),
      match: r.hosts.length === plan.hosts.length ? [{ uri: { prefix: r.pathPrefix } }] : r.hosts.map((h) => ({ uri: { prefix: r.pathPrefix }, authority: { regex: authorityRegex(h) } })),
      route: meshDefault.destinations.map((d) => ({
        destination: { host: agent.spec.host, subset: d.subset, port: { number: agent.spec.port } },
        weight: meshDefault.destinations.length > 1 ? d.weight : undefined,
      })),
      timeout: r.timeout ?? meshDefault.timeout,
      retries: retries(meshDefault.retries),
      ...mirrorOf(agent),
    };
  });
  return { hosts: [...plan.hosts], gateways: [`${plan.gatewayNamespace}/${plan.name}`], http };
}

/** The JWT rule, the same at the gateway and at each entry agent. */
export function requestAuthenticationSpec(plan: EdgePlan, selector: Readonly<Record<string, string>>, withClaimHeaders: boolean): RequestAuthenticationSpec {
  const jwt = plan.jwt!;
  const claims = Object.entries(jwt.forwardClaims ?? {}).sort(([a], [b]) => (a < b ? -1 : 1));
  return {
    selector: { matchLabels: sortKeys(selector) },
    jwtRules: [{
      issuer: jwt.issuer,
      jwksUri: jwt.jwksUri,
      audiences: jwt.audiences ? [...jwt.audiences] : undefined,
      forwardOriginalToken: jwt.forwardOriginalToken,
      outputClaimToHeaders: withClaimHeaders && claims.length > 0 ? claims.map(([claim, header]) => ({ claim, header })) : undefined,
    }],
  };
}

/**
 * At the gateway: DENY requests for our hosts that carry no valid token. A DENY policy (not ALLOW)
 * so other hosts served by a shared gateway are unaffected. Hosts are listed with and without a
 * port: the Host header may carry one.
 */
export function gatewayDenySpec(plan: EdgePlan): AuthorizationPolicySpec {
  const hosts = plan.hosts.flatMap((h) => [h, `${h}:*`]);
  return {
    selector: { matchLabels: sortKeys(plan.selector) },
    action: AuthorizationPolicySpecAction.DENY,
    rules: [{ from: [{ source: { notRequestPrincipals: ['*'] } }], to: [{ operation: { hosts } }] }],
  };
}

/**
 * At an entry agent: ALLOW the gateway's identity on the agent's port for the agent's path
 * prefixes; with JWT, only with a valid token of the issuer (and the required claims). Added to
 * the mesh's default-deny, so nothing else is opened.
 */
export function entryAllowRules(plan: EdgePlan, routes: readonly EdgeRoutePlan[], gatewayPrincipal: string, port: number): AuthorizationPolicySpecRules[] {
  const jwt = plan.jwt;
  const checkToken = jwt !== undefined && jwt.forwardOriginalToken;
  return routes.map((r) => {
    const claims = { ...(jwt?.requiredClaims ?? {}), ...(r.requiredClaims ?? {}) };
    const when = Object.entries(claims).sort(([a], [b]) => (a < b ? -1 : 1)).map(([claim, values]) => ({ key: `request.auth.claims[${claim}]`, values: [...values] }));
    return {
      from: [{ source: { principals: [gatewayPrincipal], requestPrincipals: checkToken ? [requestPrincipalOf(jwt.issuer)] : undefined } }],
      to: [{ operation: { ports: [String(port)], paths: r.pathPrefix === '/' ? undefined : [`${r.pathPrefix}*`] } }],
      when: checkToken && when.length > 0 ? when : undefined,
    };
  });
}

/** RE2 full match of a Host header for `host` (or `*.domain`), with an optional port. */
export function authorityRegex(host: string): string {
  const escaped = host.startsWith('*.') ? `[^.]+${host.slice(1).replace(/\./g, '\\.')}` : host.replace(/\./g, '\\.');
  return `${escaped}(:[0-9]+)?`;
}
