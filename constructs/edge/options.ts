/**
 * AgentGateway options: zod schemas, defaults and the normalized plan of the edge (ingress
 * Gateway, routes to entry agents, end-user JWT, local rate limits).
 * Pure: no cdk8s, no constructs.
 */
import { z } from 'zod';
import type { AgentGatewayJwt } from '../agent-gateway';
import { dns1123Label, dns1123Subdomain, formatPath, labelMap } from '../validation';
import { istioDuration, istioSeconds } from '../mesh/durations';
import { line } from '../mesh/options';
import { rateLimitSchema, TokenBucket, tokenBucket } from './rate-limit';

/** Defaults of the edge, in one place so docs and code cannot drift. */
export const EDGE_DEFAULTS = {
  /** Namespace of the ingress gateway pods (Istio's gateway Helm chart installs into `istio-ingress`). */
  gatewayNamespace: 'istio-ingress',
  /** Labels of the ingress gateway pods (the gateway chart's and istioctl's default). */
  gatewaySelector: { istio: 'ingressgateway' },
  /** Service account of the ingress gateway pods: its mTLS identity at the entry agents. */
  gatewayServiceAccount: 'istio-ingressgateway',
  pathPrefix: '/',
  minProtocolVersion: 'TLSV1_2' as 'TLSV1_2' | 'TLSV1_3',
  httpsRedirect: true,
  forwardOriginalToken: true,
} as const;

/** An https URL: Istio fetches JWKS over TLS, and an issuer is compared as a string to the `iss` claim. */
const httpsUrl = (what: string) =>
  z.string().superRefine((s, ctx) => {
    let u: URL | undefined;
    try { u = new URL(s); } catch { /* reported below */ }
    if (!u) ctx.addIssue({ code: 'custom', message: `("${s}") must be an absolute URL such as "https://auth.example.com/"` });
    else if (u.protocol !== 'https:') ctx.addIssue({ code: 'custom', message: `("${s}") must use https: ${what} over plain http can be spoofed` });
    else if (u.username || u.password) ctx.addIssue({ code: 'custom', message: `("${s}") must not carry credentials` });
  });

const HEADER_NAME = /^[a-z0-9][-a-z0-9_.]*$/;
const CLAIM = /^[A-Za-z0-9_.:/-]+$/;
const claimRules = () => z.record(
  z.string().regex(CLAIM, 'claim names are letters, digits and _ . : / -'),
  z.array(z.string().min(1)).min(1, 'list at least one accepted value'),
);

export const jwtSchema = z.strictObject({
  issuer: httpsUrl('an issuer'),
  jwksUri: httpsUrl('a JWKS URI'),
  audiences: z.array(z.string().min(1)).min(1).optional(),
  forwardClaims: z.record(z.string().regex(CLAIM, 'claim names are letters, digits and _ . : / -'), z.string().regex(HEADER_NAME, 'header names must be lower-case')).optional(),
  forwardOriginalToken: z.boolean().optional(),
  requiredClaims: claimRules().optional(),
});

const hostName = () =>
  z.string().superRefine((h, ctx) => {
    const bare = h.startsWith('*.') ? h.slice(2) : h;
    if (!dns1123Subdomain().safeParse(bare).success || !bare.includes('.')) {
      ctx.addIssue({ code: 'custom', message: `("${h}") must be a fully qualified host name such as "agents.example.com" (or "*.example.com")` });
    }
  });

export const routeSchema = z.strictObject({
  pathPrefix: z.string().regex(/^\/[^\s?#]*$/, 'must be an absolute path prefix such as "/api/chat"').optional(),
  hosts: z.array(hostName()).min(1).optional(),
  timeout: istioDuration().optional(),
  idleTimeout: istioDuration().optional(),
  rateLimit: rateLimitSchema.optional(),
  requiredClaims: claimRules().optional(),
});

export const gatewayOptionsSchema = z.strictObject({
  name: dns1123Label().optional(),
  namespace: dns1123Label().optional(),
  selector: labelMap().optional(),
  serviceAccount: dns1123Subdomain().optional(),
});

/** Everything in AgentGatewayProps except the construct references (mesh, route agents). */
export const edgeOptionsSchema = z.strictObject({
  hosts: z.array(hostName()).min(1, 'name at least one host'),
  tls: z.strictObject({
    secretName: dns1123Subdomain(),
    minProtocolVersion: z.enum(['TLSV1_2', 'TLSV1_3'], { error: 'must be "TLSV1_2" or "TLSV1_3"' }).optional(),
    httpsRedirect: z.boolean().optional(),
  }),
  gateway: gatewayOptionsSchema.optional(),
  jwt: jwtSchema.optional(),
  rateLimit: rateLimitSchema.optional(),
  routes: z.array(routeSchema).min(1, 'route at least one entry agent'),
});
export type EdgeOptionsInput = z.input<typeof edgeOptionsSchema>;
export type EdgeOptions = z.output<typeof edgeOptionsSchema>;

// ---------------------------------------------------------------------------------------------
// Normalized plan

export interface EdgeRoutePlan {
  /** Route name (VirtualService http route, EnvoyFilter route match): `<agent>` or `<agent>-<n>`. */
  readonly name: string;
  readonly agent: string;
  readonly hosts: readonly string[];
  readonly pathPrefix: string;
  /** Route timeout; undefined: the mesh route timeout of the agent. */
  readonly timeout?: string;
  readonly idleTimeout?: string;
  readonly rateLimit?: TokenBucket;
  readonly requiredClaims?: Readonly<Record<string, readonly string[]>>;
}

export interface EdgePlan {
  readonly name: string;
  readonly gatewayNamespace: string;
  readonly selector: Readonly<Record<string, string>>;
  readonly serviceAccount: string;
  readonly hosts: readonly string[];
  readonly tls: { readonly secretName: string; readonly minProtocolVersion: 'TLSV1_2' | 'TLSV1_3'; readonly httpsRedirect: boolean };
  /** The documented prop type, not z.output: AgentGateway's published declarations must not depend on zod. */
  readonly jwt?: Omit<AgentGatewayJwt, 'forwardOriginalToken'> & { readonly forwardOriginalToken: boolean };
  /** Bucket of every route without its own (each route gets its own bucket, per gateway pod). */
  readonly rateLimit?: TokenBucket;
  readonly routes: readonly EdgeRoutePlan[];
}

/** What the plan needs to know of each routed agent. */
export interface RoutedAgent {
  readonly name: string;
  /** Mesh route timeout of the agent (its default route). */
  readonly meshTimeout: string;
}

/**
 * Checks the options against the routed agents and returns the plan, or every problem at once.
 * `agents[i]` is the agent of `options.routes[i]`.
 */
export function planEdge(id: string, options: EdgeOptions, agents: readonly RoutedAgent[]): { plan?: EdgePlan; problems: string[]; warnings: string[] } {
  const problems: string[] = [];
  const warnings: string[] = [];
  const hosts = [...new Set(options.hosts)];
  options.hosts.forEach((h, i) => {
    if (options.hosts.indexOf(h) !== i) problems.push(line(formatPath(['hosts', i]), `("${h}") is listed twice`));
  });
  if (!options.jwt) {
    warnings.push('jwt is not set: the entry agents accept any caller that reaches the gateway (set jwt to require end-user tokens)');
  }
  if (options.jwt?.requiredClaims && options.jwt.forwardOriginalToken === false) {
    problems.push(line('jwt.requiredClaims', 'needs jwt.forwardOriginalToken (the entry agent checks the claims of the forwarded token)'));
  }
  const seen = new Map<string, number>();
  const counts = new Map<string, number>();
  const routes = options.routes.map((r, i): EdgeRoutePlan => {
    const at = (...p: PropertyKey[]) => formatPath(['routes', i, ...p]);
    const agent = agents[i];
    const n = counts.get(agent.name) ?? 0;
    counts.set(agent.name, n + 1);
    const routeHosts = r.hosts ?? hosts;
    (r.hosts ?? []).forEach((h, j) => {
      if (!hosts.some((g) => hostCovers(g, h))) problems.push(line(at('hosts', j), `("${h}") is not served by this gateway (hosts: ${hosts.join(', ')})`));
    });
    const pathPrefix = r.pathPrefix ?? EDGE_DEFAULTS.pathPrefix;
    for (const h of routeHosts) {
      const key = `${h}${pathPrefix}`;
      const other = seen.get(key);
      if (other !== undefined) problems.push(line(at('pathPrefix'), `("${pathPrefix}") on host ${h} is already routed by routes[${other}]`));
      else seen.set(key, i);
    }
    if (r.requiredClaims && !options.jwt) problems.push(line(at('requiredClaims'), 'needs jwt: claims come from a validated end-user token'));
    if (r.requiredClaims && options.jwt?.forwardOriginalToken === false) problems.push(line(at('requiredClaims'), 'needs jwt.forwardOriginalToken (the entry agent checks the claims of the forwarded token)'));
    const timeout = r.timeout ?? agent.meshTimeout;
    if (r.idleTimeout && istioSeconds(r.idleTimeout) > istioSeconds(timeout)) {
      problems.push(line(at('idleTimeout'), `(${r.idleTimeout}) must not exceed the route timeout (${timeout}): the route ends first`));
    }
    return {
      name: n === 0 ? agent.name : `${agent.name}-${n}`,
      agent: agent.name,
      hosts: routeHosts,
      pathPrefix,
      timeout: r.timeout,
      idleTimeout: r.idleTimeout,
      // A route without its own limit takes the gateway's.
      rateLimit: r.rateLimit ? tokenBucket(r.rateLimit) : options.rateLimit ? tokenBucket(options.rateLimit) : undefined,
      requiredClaims: r.requiredClaims,
    };
  });
  if (problems.length > 0) return { problems, warnings };
  const g = options.gateway ?? {};
  return {
    problems,
    warnings,
    plan: {
      name: g.name ?? id,
      gatewayNamespace: g.namespace ?? EDGE_DEFAULTS.gatewayNamespace,
      selector: g.selector ?? EDGE_DEFAULTS.gatewaySelector,
      serviceAccount: g.serviceAccount ?? EDGE_DEFAULTS.gatewayServiceAccount,
      hosts,
      tls: {
        secretName: options.tls.secretName,
        minProtocolVersion: options.tls.minProtocolVersion ?? EDGE_DEFAULTS.minProtocolVersion,
        httpsRedirect: options.tls.httpsRedirect ?? EDGE_DEFAULTS.httpsRedirect,
      },
      jwt: options.jwt ? { ...options.jwt, forwardOriginalToken: options.jwt.forwardOriginalToken ?? EDGE_DEFAULTS.forwardOriginalToken } : undefined,
      rateLimit: options.rateLimit ? tokenBucket(options.rateLimit) : undefined,
      routes,
    },
  };
}

/** Whether gateway host `g` (maybe `*.example.com`) serves host `h`. */
export function hostCovers(g: string, h: string): boolean {
  if (g === h) return true;
  if (g.startsWith('*.')) {
    const suffix = g.slice(1);
    return h.endsWith(suffix) && !h.slice(0, -suffix.length).includes('.') && !h.startsWith('*.');
  }
  return false;
}

/** Whether two host patterns can match one request host. */
export function hostsOverlap(a: string, b: string): boolean {
  return hostCovers(a, b) || hostCovers(b, a) || (a.startsWith('*.') && b.startsWith('*.') && (a.endsWith(b.slice(1)) || b.endsWith(a.slice(1))));
}

/** `<trust-domain>/ns/<namespace>/sa/<service-account>` of the gateway pods. */
export function gatewayPrincipal(plan: EdgePlan, trustDomain: string): string {
  return `${trustDomain}/ns/${plan.gatewayNamespace}/sa/${plan.serviceAccount}`;
}

/** Istio's request principal pattern for every subject of an issuer. */
export function requestPrincipalOf(issuer: string): string {
  return `${issuer}/*`;
}
