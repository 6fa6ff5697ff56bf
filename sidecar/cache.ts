/**
 * The sidecar's cache: a local LRU bounded by entry count and bytes with a TTL per entry, and
 * an optional shared tier on Redis so the replicas of one agent reuse each other's results.
 *
 * Values are kept as latin1 strings: a lossless 1-byte-per-byte copy of the body that V8
 * stores compactly, and that never pins the 64 KiB socket buffer a Buffer slice would.
 *
 * No hot/warm split in the local tier: lru-cache already keeps recency order in O(1), and a
 * second in-process tier would only copy entries between two maps. The tiers that pay off
 * are the ones with different costs: this process (microseconds) and Redis (shared, ~1 ms).
 */
import { LRUCache } from 'lru-cache';
import type { Logger } from 'pino';
import { LABELS, METRICS } from './contract';
import { registerCollected } from './metrics';
import type { Registry } from 'prom-client';
import { CacheEntry, RedisTier } from './redis-tier';

export type { CacheEntry } from './redis-tier';

/**
 * Bytes charged per entry on top of key, value and content type: lru-cache's slots, the entry
 * object and the string headers. Measured on V8 (node 20): with it the charged bytes match the
 * heap the entries really use within a few percent, so --cache-max-bytes bounds real memory.
 */
export const ENTRY_OVERHEAD_BYTES = 180;

export interface CacheOptions {
  maxEntries: number;
  maxBytes: number;
  defaultTtlSeconds: number;
  purgeIntervalSeconds: number;
  redisUrl?: string;
  redisPassword?: string;
  redisKeyPrefix: string;
  redisTimeoutMs: number;
  redisMaxInflightBytes: number;
  redisMaxInflightCommands: number;
  redisHealthIntervalMs: number;
  /** Largest value a Redis read can bring back (reserved from the Redis byte budget per read). */
  maxValueBytes: number;
}

/** A Redis read in flight; `stale` once the key was written, deleted or the local view dropped. */
interface PendingRead {
  readonly promise: Promise<{ entry: CacheEntry; ttlMs: number } | undefined>;
  stale: boolean;
}

const internedTypes = new Map<string, string>();
/** Shares Content-Type strings between entries (they come from request headers, one copy each). */
function intern(t: string): string {
  const known = internedTypes.get(t);
  if (known !== undefined) return known;
  if (internedTypes.size < 64) internedTypes.set(t, t);
  return t;
}

export class SidecarCache {
  private readonly lru: LRUCache<string, CacheEntry>;
  readonly redis?: RedisTier;
  /** Lookups answered by the local tier. */
  localHits = 0;
  /** Lookups the local tier could not answer (then tried on Redis, if configured). */
  localMisses = 0;
  /** Lookups no tier could answer. */
  misses = 0;
  sets = 0;
  deletes = 0;
  evictedCapacity = 0;
  expired = 0;
  /** Local entries dropped because another replica overwrote or deleted them. */
  invalidated = 0;
  /** Local view drops (a new Redis epoch: see redis-tier.ts). */
  viewDrops = 0;
  private purgeTimer?: NodeJS.Timeout;
  /** Redis reads in flight by key: concurrent misses share one, and a write makes it stale. */
  private readonly pending = new Map<string, PendingRead>();

  constructor(
    readonly opts: CacheOptions,
    log: Logger,
  ) {
    this.lru = new LRUCache<string, CacheEntry>({
      max: opts.maxEntries,
      maxSize: opts.maxBytes,
      sizeCalculation: (e, k) => k.length + e.v.length + e.t.length + ENTRY_OVERHEAD_BYTES,
      ttl: opts.defaultTtlSeconds * 1000,
      ttlAutopurge: false,
      allowStale: false,
      updateAgeOnGet: false,
      dispose: (_v, _k, reason) => {
        if (reason === 'evict') this.evictedCapacity++;
        else if (reason === 'expire') this.expired++;
      },
    });
    if (opts.purgeIntervalSeconds > 0) {
      // Expired entries are dropped lazily on access; the sweep returns the bytes of the ones nobody asks for.
      this.purgeTimer = setInterval(() => this.lru.purgeStale(), opts.purgeIntervalSeconds * 1000);
      this.purgeTimer.unref();
    }
    if (opts.redisUrl) {
      this.redis = new RedisTier(
        {
          url: opts.redisUrl,
          password: opts.redisPassword,
          prefix: opts.redisKeyPrefix,
          timeoutMs: opts.redisTimeoutMs,
          maxInflightBytes: opts.redisMaxInflightBytes,
          maxInflightCommands: opts.redisMaxInflightCommands,
          maxValueBytes: opts.maxValueBytes,
          healthIntervalMs: opts.redisHealthIntervalMs,
          pingTimeoutMs: Math.max(1000, opts.redisTimeoutMs * 5),
        },
        log,
        {
          // Another replica changed or deleted the entry: drop our copy so we re-read it.
          invalidateKey: (key) => {
            this.markStale(key);
            if (this.lru.delete(key)) this.invalidated++;
          },
          invalidatePrefix: (prefix) => {
            this.invalidated += this.dropLocalPrefix(prefix);
          },
          dropLocal: () => this.dropLocal(),
        },
      );
    }
  }

  /** Forgets every local entry and every Redis read in flight (their answers are not kept). */
  private dropLocal(): void {
    for (const p of this.pending.values()) p.stale = true;
    this.pending.clear();
    this.invalidated += this.lru.size;
    this.viewDrops++;
    this.lru.clear();
  }

  private markStale(key: string): void {
    if (this.pending.size === 0) return;
    const p = this.pending.get(key);
    if (p) {
      p.stale = true;
      this.pending.delete(key);
    }
  }

  private markStalePrefix(prefix: string): void {
    for (const [k, p] of this.pending) {
      if (k.startsWith(prefix)) {
        p.stale = true;
        this.pending.delete(k);
      }
    }
  }

  /** Lookups answered by any tier. */
  get hits(): number {
    return this.localHits + (this.redis?.hits ?? 0);
  }

  /** Local lookup, counted as a local hit when found (the synchronous hot path). */
  getLocal(key: string): CacheEntry | undefined {
    const e = this.lru.get(key);
    if (e !== undefined) this.localHits++;
    return e;
  }

  /**
   * Continues a lookup whose getLocal() missed: Redis, then a miss. A Redis answer is kept (and
   * returned) only if nothing wrote or deleted the key, and the local view was not dropped, while
   * it was in flight; otherwise the lookup answers with what the local tier holds now.
   */
  async getAfterLocalMiss(key: string): Promise<CacheEntry | undefined> {
    this.localMisses++;
    const redis = this.redis;
    if (redis?.up && !redis.isClearing(key)) {
      let p = this.pending.get(key);
      if (!p) {
        const read: PendingRead = { promise: redis.get(key), stale: false };
        p = read;
        this.pending.set(key, read);
        void read.promise.finally(() => {
          if (this.pending.get(key) === read) this.pending.delete(key);
        });
      }
      const read = p;
      const remote = await read.promise;
      if (read.stale) {
        const now = this.lru.get(key);
        if (now === undefined) this.misses++;
        return now;
      }
      if (remote) {
        this.lru.set(key, { v: remote.entry.v, t: intern(remote.entry.t) }, { ttl: Math.max(1, remote.ttlMs) });
        return remote.entry;
      }
    }
    this.misses++;
    return undefined;
  }

  /** Stores locally and (fire-and-forget) in Redis. False when the entry can never fit. */
  set(key: string, value: string, contentType: string, ttlSeconds: number): boolean {
    const entry: CacheEntry = { v: value, t: intern(contentType) };
    if (key.length + value.length + entry.t.length + ENTRY_OVERHEAD_BYTES > this.opts.maxBytes) return false;
    this.markStale(key);
    this.lru.set(key, entry, { ttl: ttlSeconds * 1000 });
    this.sets++;
    this.redis?.set(key, entry, ttlSeconds * 1000);
    return true;
  }

  delete(key: string): boolean {
    this.markStale(key);
    const existed = this.lru.delete(key);
    if (existed) this.deletes++;
    this.redis?.del(key);
    return existed;
  }

  /** Deletes every entry whose key starts with `prefix` (a namespace); returns the local count. */
  deletePrefix(prefix: string): number {
    const n = this.dropLocalPrefix(prefix);
    this.deletes += n;
    this.redis?.delPrefix(prefix);
    return n;
  }

  /** Marks `prefix` stale and drops the local entries under it; returns how many were dropped. */
  private dropLocalPrefix(prefix: string): number {
    this.markStalePrefix(prefix);
    let n = 0;
    for (const k of [...this.lru.keys()]) {
      if (k.startsWith(prefix) && this.lru.delete(k)) n++;
    }
    return n;
  }

  get size(): number {
    return this.lru.size;
  }

  get bytes(): number {
    return this.lru.calculatedSize;
  }

  remainingTtlMs(key: string): number {
    return this.lru.getRemainingTTL(key);
  }

  stats() {
    const lookups = this.hits + this.misses;
    return {
      size: this.lru.size,
      bytes: this.lru.calculatedSize,
      maxEntries: this.opts.maxEntries,
      maxBytes: this.opts.maxBytes,
      defaultTtlSeconds: this.opts.defaultTtlSeconds,
      hits: this.hits,
      misses: this.misses,
      hitRate: lookups > 0 ? Math.round((this.hits / lookups) * 10000) / 10000 : 0,
      sets: this.sets,
      deletes: this.deletes,
      evictions: { capacity: this.evictedCapacity, ttl: this.expired },
      invalidations: this.invalidated,
      redis: this.redis
        ? {
            configured: true,
            up: this.redis.up,
            hits: this.redis.hits,
            misses: this.redis.misses,
            errors: Object.fromEntries(this.redis.errors),
            dropped: Object.fromEntries(this.redis.dropped),
            inflight: { commands: this.redis.inflightCommands, bytes: this.redis.inflightBytes },
            epochStarts: this.redis.epochStarts,
            localViewDrops: this.viewDrops,
          }
        : { configured: false, up: false },
    };
  }

  registerMetrics(registry: Registry): void {
    registerCollected(registry, METRICS.cacheRequests, 'Cache lookups by result (hit|miss) and tier (local|redis).', 'counter', () => {
      const out = [
        { labels: { [LABELS.cacheResult]: 'hit', [LABELS.cacheTier]: 'local' }, value: this.localHits },
        { labels: { [LABELS.cacheResult]: 'miss', [LABELS.cacheTier]: 'local' }, value: this.localMisses },
      ];
      if (this.redis) {
        out.push({ labels: { [LABELS.cacheResult]: 'hit', [LABELS.cacheTier]: 'redis' }, value: this.redis.hits });
        out.push({ labels: { [LABELS.cacheResult]: 'miss', [LABELS.cacheTier]: 'redis' }, value: this.redis.misses });
      }
      return out;
    });
    registerCollected(registry, METRICS.cacheEvictions, 'Entries removed from the local cache by reason (capacity|ttl).', 'counter', () => [
      { labels: { [LABELS.reason]: 'capacity' }, value: this.evictedCapacity },
      { labels: { [LABELS.reason]: 'ttl' }, value: this.expired },
    ]);
    registerCollected(registry, METRICS.cacheEntries, 'Entries in the local cache (expired ones included until swept).', 'gauge', () => [
      { labels: {}, value: this.lru.size },
    ]);
    registerCollected(registry, METRICS.cacheBytes, 'Bytes charged to the local cache (keys, values, per-entry overhead).', 'gauge', () => [
      { labels: {}, value: this.lru.calculatedSize },
    ]);
    registerCollected(registry, METRICS.cacheRedisUp, '1 when the shared Redis tier is configured and reachable, 0 otherwise.', 'gauge', () => [
      { labels: {}, value: this.redis?.up ? 1 : 0 },
    ]);
    registerCollected(registry, METRICS.cacheRedisErrors, 'Redis tier operations that failed or timed out, by operation.', 'counter', () =>
      [...(this.redis?.errors ?? [])].map(([op, value]) => ({ labels: { [LABELS.redisOperation]: op }, value })),
    );
    if (this.redis) {
      const redis = this.redis;
      registerCollected(registry, METRICS.cacheRedisDropped, 'Redis commands not sent because the in-flight budget was full, by operation (writes are then local only, reads misses).', 'counter', () =>
        [...redis.dropped].map(([op, value]) => ({ labels: { [LABELS.redisOperation]: op }, value })),
      );
      registerCollected(registry, METRICS.cacheRedisInflightBytes, 'Bytes of Redis commands sent and not yet answered (bounded by --redis-max-inflight-bytes).', 'gauge', () => [
        { labels: {}, value: redis.inflightBytes },
      ]);
    }
  }

  async close(): Promise<void> {
    if (this.purgeTimer) clearInterval(this.purgeTimer);
    await this.redis?.close();
  }
}

