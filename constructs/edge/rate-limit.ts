/** Local rate limits (Envoy's token bucket), shared by the gateway routes and the agents' pods. Pure. */
import { z } from 'zod';

/** Header that tells a client its request was rate limited by the mesh (not by the agent). */
export const RATE_LIMIT_HEADER = 'x-local-rate-limit';
/** Envoy stat prefix of the local rate limit filter. */
export const RATE_LIMIT_STAT_PREFIX = 'http_local_rate_limiter';

const positiveInt = (what: string) => z.number().int(`${what} must be an integer`).min(1, `${what} must be at least 1 (to block all traffic, remove the route)`);

/**
 * A token bucket: `requestsPerSecond` or `requestsPerMinute` tokens refill the bucket, `burst` is its size.
 * Enforced by each Envoy (gateway or agent pod) separately: the limit is per replica.
 */
export const rateLimitSchema = z.strictObject({
  requestsPerSecond: positiveInt('requestsPerSecond').optional(),
  requestsPerMinute: positiveInt('requestsPerMinute').optional(),
  burst: positiveInt('burst').optional(),
}).superRefine((r, ctx) => {
  if ((r.requestsPerSecond === undefined) === (r.requestsPerMinute === undefined)) {
    ctx.addIssue({ code: 'custom', message: 'set exactly one of requestsPerSecond, requestsPerMinute' });
  }
});
export type RateLimitInput = z.input<typeof rateLimitSchema>;

/** A token bucket as Envoy takes it. */
export interface TokenBucket {
  readonly maxTokens: number;
  readonly tokensPerFill: number;
  readonly fillInterval: string;
}

/** Envoy's token bucket for a rate limit; `burst` defaults to one interval's worth. */
export function tokenBucket(r: z.output<typeof rateLimitSchema>): TokenBucket {
  if (r.requestsPerSecond !== undefined) {
    return { maxTokens: r.burst ?? r.requestsPerSecond, tokensPerFill: r.requestsPerSecond, fillInterval: '1s' };
  }
  return { maxTokens: r.burst ?? r.requestsPerMinute!, tokensPerFill: r.requestsPerMinute!, fillInterval: '60s' };
}
