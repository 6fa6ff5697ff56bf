/**
 * `sidecar.redis`: the sidecar's shared cache tier. Credentials only through Secret references
 * (never in the manifest, never in Git); each agent gets its own key prefix unless it opts in to
 * sharing; the Redis service becomes a dependency (in cluster) or an egress host (outside), which
 * MeshPolicy turns into this agent's egress.
 */
import { z } from 'zod';
import { SIDECAR_ENV } from '../sidecar/contract';
import { REDIS_DEFAULT_PORT } from './redis-dependency';
import { secretKeyRef } from './validation';

const secretRef = secretKeyRef();

export const redisSchema = z
  .strictObject({
    host: z.string().regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, 'must be a DNS name (a Service name, <service>.<namespace>.svc or an external host)').max(253).optional(),
    port: z.number().int().min(1).max(65535).optional(),
    tls: z.boolean().optional(),
    db: z.number().int().min(0).max(15).optional(),
    username: z.string().regex(/^[^\s:@/]{1,128}$/, 'must not contain spaces, ":", "@" or "/"').optional(),
    passwordSecret: secretRef.optional(),
    urlSecret: secretRef.optional(),
    keyPrefix: z.string().regex(/^[A-Za-z0-9_.:/-]{1,128}$/, 'must be 1-128 characters of A-Z a-z 0-9 _ . : / -').optional(),
  })
  .superRefine((r, ctx) => {
    if (!r.host && !r.urlSecret) ctx.addIssue({ code: 'custom', path: ['host'], message: 'is required (or urlSecret: a Secret holding the whole redis:// URL)' });
    if (r.urlSecret && (r.passwordSecret || r.username || r.tls !== undefined || r.db !== undefined)) {
      ctx.addIssue({ code: 'custom', path: ['urlSecret'], message: 'holds the whole URL: do not also set passwordSecret, username, tls or db (host and port only describe where it is, for egress)' });
    }
  });

/** `sidecar.redisUrl` (kept for URLs without credentials): a password in it would land in Git. */
export const redisUrlSchema = z
  .string()
  .regex(/^rediss?:\/\//, 'must be a redis:// or rediss:// URL')
  .superRefine((url, ctx) => {
    let u: URL;
    try {
      u = new URL(url);
    } catch {
      ctx.addIssue({ code: 'custom', message: 'is not a valid URL' });
      return;
    }
    if (u.password) {
      ctx.addIssue({
        code: 'custom',
        message: 'carries a password: Redis credentials must not be in the manifest (or Git). Use sidecar.redis: { host, port, passwordSecret: { secretName, key } } or urlSecret',
      });
    }
  });

/** The shared tier as AgentService renders it. */
export interface RedisSpec {
  /** URL without credentials (redis:// or rediss://), unless the URL comes from urlSecret. */
  readonly url?: string;
  readonly urlSecret?: { readonly secretName: string; readonly key: string };
  readonly passwordSecret?: { readonly secretName: string; readonly key: string };
  /** Key prefix in Redis: per agent by default. */
  readonly keyPrefix: string;
  /** Whether keyPrefix was set explicitly (agents with the same prefix share entries). */
  readonly shared: boolean;
  /** Host and port of Redis, when known at synth time (redisTarget() turns them into the agent's egress). */
  readonly endpoint?: { readonly host: string; readonly port: number };
}

/** Default key prefix: the agent's namespace and name, so agents sharing a Redis never share keys. */
export function defaultKeyPrefix(namespace: string, name: string): string {
  return `agent-cache:${namespace}/${name}:`;
}

export function normalizeRedis(
  redis: z.output<typeof redisSchema> | undefined,
  redisUrl: string | undefined,
  namespace: string,
  name: string,
): RedisSpec | undefined {
  if (!redis && !redisUrl) return undefined;
  const keyPrefix = redis?.keyPrefix ?? defaultKeyPrefix(namespace, name);
  const shared = redis?.keyPrefix !== undefined;
  if (!redis) {
    const u = new URL(redisUrl!);
    const port = u.port ? Number(u.port) : REDIS_DEFAULT_PORT;
    return { url: redisUrl, keyPrefix, shared, endpoint: u.hostname ? { host: u.hostname, port } : undefined };
  }
  const port = redis.port ?? REDIS_DEFAULT_PORT;
  const endpoint = redis.host ? { host: redis.host, port } : undefined;
  if (redis.urlSecret) return { urlSecret: redis.urlSecret, keyPrefix, shared, endpoint };
  const auth = redis.username ? `${encodeURIComponent(redis.username)}@` : '';
  const url = `${redis.tls ? 'rediss' : 'redis'}://${auth}${redis.host}:${port}/${redis.db ?? 0}`;
  return { url, passwordSecret: redis.passwordSecret, keyPrefix, shared, endpoint };
}

/** Plain sidecar environment for the shared tier (secret-backed values are added by the construct). */
export function redisSidecarEnv(r: RedisSpec): Record<string, string> {
  const env: Record<string, string> = { [SIDECAR_ENV.redisKeyPrefix]: r.keyPrefix };
  if (r.url) env[SIDECAR_ENV.redisUrl] = r.url;
  return env;
}

/** Secret-backed sidecar environment: env name -> Secret reference. */
export function redisSidecarSecretEnv(r: RedisSpec): Record<string, { secretName: string; key: string }> {
  const env: Record<string, { secretName: string; key: string }> = {};
  if (r.urlSecret) env[SIDECAR_ENV.redisUrl] = r.urlSecret;
  if (r.passwordSecret) env[SIDECAR_ENV.redisPassword] = r.passwordSecret;
  return env;
}
