/**
 * Traffic experiments and placement of one agent: mirroring to the canary, session affinity by
 * header, cookie or source IP, locality failover, and a per-pod local rate limit.
 * Pure: zod schemas, checks and the plan fragments that render.ts turns into Istio specs.
 */
import { z } from 'zod';
import { AgentSpec } from '../spec';
import { rateLimitSchema, TokenBucket, tokenBucket } from '../edge/rate-limit';
import { istioDuration } from './durations';

const HEADER_NAME = /^[a-z0-9][-a-z0-9_.]*$/;
const COOKIE_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
// Istio locality: region[/zone[/subzone]], `*` allowed as a wildcard in failover sources.
const LOCALITY = /^[A-Za-z0-9*][-A-Za-z0-9_.*]*(\/[A-Za-z0-9*][-A-Za-z0-9_.*]*){0,2}$/;

export const mirrorSchema = z.strictObject({
  percentage: z.number().gt(0, 'must be a percentage above 0').max(100, 'must be at most 100'),
});

export const sessionAffinitySchema = z.strictObject({
  header: z.string().regex(HEADER_NAME, 'header names must be lower-case').optional(),
  cookie: z.strictObject({
    name: z.string().regex(COOKIE_NAME, 'must be a cookie name (RFC 6265 token)'),
    ttl: istioDuration(),
    path: z.string().regex(/^\//, 'must start with "/"').optional(),
  }).optional(),
  sourceIp: z.literal(true, { error: 'must be true (leave it out otherwise)' }).optional(),
}).refine((a) => [a.header, a.cookie, a.sourceIp].filter((v) => v !== undefined).length === 1, 'set exactly one of header, cookie, sourceIp');

export const localitySchema = z.strictObject({
  failover: z.array(z.strictObject({
    from: z.string().regex(LOCALITY, 'must be a region (or region/zone)'),
    to: z.string().regex(LOCALITY, 'must be a region (or region/zone)'),
  })).min(1).optional(),
  failoverPriority: z.array(z.string().min(1)).min(1).optional(),
}).refine((l) => l.failover !== undefined || l.failoverPriority !== undefined, 'set failover, failoverPriority or both');

/** The experiment options of MeshAgentOptions (merged into the agent options schema). */
export const experimentOptionsShape = {
  mirror: mirrorSchema.optional(),
  sessionAffinity: sessionAffinitySchema.optional(),
  locality: localitySchema.optional(),
  rateLimit: rateLimitSchema.optional(),
};

type Experiments = { [K in keyof typeof experimentOptionsShape]?: z.output<(typeof experimentOptionsShape)[K]> };

/** Consistent-hash key of DestinationRule.trafficPolicy.loadBalancer. */
export type ConsistentHashPlan =
  | { readonly httpHeaderName: string }
  | { readonly httpCookie: { readonly name: string; readonly ttl: string; readonly path?: string } }
  | { readonly useSourceIp: true };

export interface ExperimentPlan {
  /** Mirror a share of every route's requests to the canary subset (responses discarded). */
  readonly mirror?: { readonly subset: string; readonly percentage: number };
  readonly consistentHash?: ConsistentHashPlan;
  readonly locality?: {
    readonly failover?: ReadonlyArray<{ readonly from: string; readonly to: string }>;
    readonly failoverPriority?: readonly string[];
  };
  /** Local rate limit of each pod's inbound (the agent's serving port). */
  readonly rateLimit?: TokenBucket;
}

/**
 * Checks the experiment options of one agent. `at` renders a field path; problems and warnings are
 * `field: message` lines.
 */
export function planExperiments(
  spec: AgentSpec,
  o: Experiments & { sessionAffinityHeader?: string; outlierDetection?: unknown },
  at: (...p: PropertyKey[]) => string,
  out: { problems: string[]; warnings: string[] },
): ExperimentPlan {
  let mirror: ExperimentPlan['mirror'];
  if (o.mirror) {
    if (!spec.canary) {
      out.problems.push(`${at('mirror')}: ${spec.constructPath} has no canary Deployment to mirror to; set canary on the AgentService first`);
    } else {
      mirror = { subset: 'canary', percentage: o.mirror.percentage };
      // An agent's calls have effects beyond its response: model tokens, tool calls, writes.
      out.warnings.push(`${at('mirror')}: ${o.mirror.percentage}% of requests to ${spec.name} are also sent to its canary; the canary's own model calls, tool calls and writes happen for real (only its responses are discarded)`);
    }
  }
  let consistentHash: ConsistentHashPlan | undefined;
  if (o.sessionAffinity && o.sessionAffinityHeader) {
    out.problems.push(`${at('sessionAffinity')}: set either sessionAffinity or sessionAffinityHeader, not both`);
  } else if (o.sessionAffinityHeader) {
    consistentHash = { httpHeaderName: o.sessionAffinityHeader };
  } else if (o.sessionAffinity) {
    const a = o.sessionAffinity;
    consistentHash = a.header ? { httpHeaderName: a.header }
      : a.cookie ? { httpCookie: { name: a.cookie.name, ttl: a.cookie.ttl, path: a.cookie.path } }
        : { useSourceIp: true };
  }
  if (o.locality && o.outlierDetection === false) {
    // Envoy only fails over when it knows endpoints are unhealthy.
    out.problems.push(`${at('locality')}: locality failover needs outlier detection (outlierDetection is false)`);
  }
  return {
    mirror,
    consistentHash,
    locality: o.locality ? { failover: o.locality.failover, failoverPriority: o.locality.failoverPriority } : undefined,
    rateLimit: o.rateLimit ? tokenBucket(o.rateLimit) : undefined,
  };
}
