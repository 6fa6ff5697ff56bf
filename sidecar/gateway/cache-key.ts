/**
 * Response cache rules of the gateway: which calls may be answered from cache, their key, and
 * how an answer is stored.
 *
 * A call is cached only when its provider has `--provider-cache NAME=TTL`, it is a POST with a
 * JSON object body, the caller did not send `x-sidecar-cache: bypass`, and it is deterministic:
 * `temperature` is 0 (and `n`, when set, is 1), or the caller sent `x-sidecar-cache: force`.
 * The key is the provider, the path with its query and a canonical form of the body (object keys
 * sorted, no whitespace), hashed: two requests that differ only in key order or spacing share an
 * entry; headers (and so API keys) are never part of it.
 */
import { createHash } from 'node:crypto';

/** Cache namespace of gateway entries (clear them all with DELETE /v1/cache/_gateway). */
export const GATEWAY_CACHE_NAMESPACE = '_gateway';

export type CacheMode = 'default' | 'bypass' | 'force';

export function cacheModeOf(header: string | string[] | undefined): CacheMode | undefined {
  if (header === undefined) return 'default';
  const v = (Array.isArray(header) ? header[0] : header).trim().toLowerCase();
  if (v === 'bypass' || v === 'force' || v === 'default') return v;
  return undefined;
}

/** JSON with object keys sorted at every level: equal values give equal text. */
export function canonicalJson(v: unknown): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v) ?? 'null';
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  const o = v as Record<string, unknown>;
  const keys = Object.keys(o).filter((k) => o[k] !== undefined).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`).join(',')}}`;
}

/** True when the body asks for a deterministic answer (the documented rule). */
export function isDeterministic(body: Record<string, unknown>): boolean {
  if (body.temperature !== 0) return false;
  if (body.n !== undefined && body.n !== 1) return false;
  return true;
}

export function cacheKey(provider: string, pathAndQuery: string, body: Record<string, unknown>): string {
  const h = createHash('sha256').update(pathAndQuery).update('\n').update(canonicalJson(body)).digest('base64url');
  return `${GATEWAY_CACHE_NAMESPACE}/${provider}/${h}`;
}

/** What a cached answer remembers besides its body. */
export interface CachedMeta {
  /** Input and output tokens the original call used (the tokens a hit saves). */
  i?: number;
  o?: number;
  /** Response model. */
  m?: string;
}

/** Entry value: one JSON line of metadata, then the body bytes (latin1). */
export function encodeEntry(meta: CachedMeta, bodyLatin1: string): string {
  return `${JSON.stringify(meta)}\n${bodyLatin1}`;
}

export function decodeEntry(v: string): { meta: CachedMeta; body: string } | undefined {
  const nl = v.indexOf('\n');
  if (nl < 0) return undefined;
  try {
    const meta = JSON.parse(v.slice(0, nl)) as CachedMeta;
    return { meta, body: v.slice(nl + 1) };
  } catch {
    return undefined;
  }
}
