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
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { LRUCache } from 'lru-cache';
import type { Logger } from 'pino';
import { LABELS, METRICS } from './contract';
import { registerCollected } from './metrics';
import type { Registry } from 'prom-client';

/**
 * Bytes charged per entry on top of key, value and content type: lru-cache's slots, the entry
 * object and the string headers. Measured on V8 (node 20): with it the charged bytes match the
 * heap the entries really use within a few percent, so --cache-max-bytes bounds real memory.
 */
export const ENTRY_OVERHEAD_BYTES = 180;

export interface CacheEntry {
  /** The value bytes as a latin1 string. */
  readonly v: string;
  /** Content-Type to answer with. */
  readonly t: string;
}

export interface CacheOptions {
  maxEntries: number;
  maxBytes: number;
  defaultTtlSeconds: number;
  purgeIntervalSeconds: number;
  redisUrl?: string;
  redisKeyPrefix: string;
  redisTimeoutMs: number;
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
  private purgeTimer?: NodeJS.Timeout;

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
      this.redis = new RedisTier(opts.redisUrl, opts.redisKeyPrefix, opts.redisTimeoutMs, log, (kind, key) => {
        // Another replica changed or deleted the entry: drop our copy so we re-read it.
        if (kind === 'k') {
          if (this.lru.delete(key)) this.invalidated++;
        } else {
          for (const k of [...this.lru.keys()]) if (k.startsWith(key) && this.lru.delete(k)) this.invalidated++;
        }
      });
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

  /** Continues a lookup whose getLocal() missed: Redis, then a miss. */
  async getAfterLocalMiss(key: string): Promise<CacheEntry | undefined> {
    this.localMisses++;
    if (this.redis?.up) {
      const remote = await this.redis.get(key);
      if (remote) {
        this.lru.set(key, remote.entry, { ttl: Math.max(1, remote.ttlMs) });
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
    this.lru.set(key, entry, { ttl: ttlSeconds * 1000 });
    this.sets++;
    this.redis?.set(key, entry, ttlSeconds * 1000);
    return true;
  }

  delete(key: string): boolean {
    const existed = this.lru.delete(key);
    if (existed) this.deletes++;
    this.redis?.del(key);
    return existed;
  }

  /** Deletes every entry whose key starts with `prefix` (a namespace); returns the local count. */
  deletePrefix(prefix: string): number {
    let n = 0;
    for (const k of [...this.lru.keys()]) {
      if (k.startsWith(prefix) && this.lru.delete(k)) n++;
    }
    this.deletes += n;
    this.redis?.delPrefix(prefix);
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
        ? { configured: true, up: this.redis.up, hits: this.redis.hits, misses: this.redis.misses, errors: Object.fromEntries(this.redis.errors) }
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
  }

  async close(): Promise<void> {
    if (this.purgeTimer) clearInterval(this.purgeTimer);
    await this.redis?.close();
  }
}

/**
 * The shared tier. Never blocks the agent: commands time out after `timeoutMs`, nothing is
 * queued while disconnected (the local tier answers alone), and reconnection runs in the
 * background with capped backoff. `up` mirrors the connection state for /metrics and stats.
 */
export class RedisTier {
  readonly client: Redis;
  up = false;
  hits = 0;
  misses = 0;
  readonly errors = new Map<string, number>();
  private closing = false;
  private lastErrorLog = 0;
  /** Second connection: a connection in subscriber mode cannot run other commands. */
  private readonly subscriber: Redis;
  private readonly channel: string;
  /** Tags our own invalidation messages so we do not drop the entry we just wrote. */
  private readonly instanceId = randomBytes(8).toString('hex');

  constructor(
    url: string,
    private readonly prefix: string,
    timeoutMs: number,
    private readonly log: Logger,
    onInvalidate: (kind: 'k' | 'p', key: string) => void,
  ) {
    // Loaded on demand: ioredis costs ~15 MB of RSS that a local-only sidecar should not pay.
    const RedisClient = (require('ioredis') as typeof import('ioredis')).default;
    this.client = new RedisClient(url, {
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      commandTimeout: timeoutMs,
      connectTimeout: Math.max(1000, timeoutMs * 10),
      retryStrategy: (times) => Math.min(100 * 2 ** Math.min(times, 5), 2000),
      lazyConnect: false,
    });
    this.channel = `${prefix}__invalidate`;
    // Subscriber: the subscribe command may wait for the connection; it is re-sent on reconnect.
    this.subscriber = this.client.duplicate({ enableOfflineQueue: true, commandTimeout: undefined, maxRetriesPerRequest: null });
    this.subscriber.on('error', () => undefined); // reported through the main connection
    this.subscriber.subscribe(this.channel).catch(() => this.fail('subscribe'));
    this.subscriber.on('message', (_channel: string, message: string) => {
      // "<instance>\n<k|p>\n<key or prefix>"
      const a = message.indexOf('\n');
      const b = message.indexOf('\n', a + 1);
      if (a < 0 || b < 0 || message.slice(0, a) === this.instanceId) return;
      const kind = message.slice(a + 1, b);
      if (kind === 'k' || kind === 'p') onInvalidate(kind, message.slice(b + 1));
    });
    const safeUrl = redactUrl(url);
    this.client.on('ready', () => {
      if (!this.up) this.log.info({ redis: safeUrl }, 'redis cache tier up: sharing entries with other replicas');
      this.up = true;
    });
    this.client.on('close', () => {
      if (this.up && !this.closing) this.log.warn({ redis: safeUrl }, 'redis cache tier down: serving from the local cache only');
      this.up = false;
    });
    this.client.on('error', (err: Error) => {
      // ioredis reports every failed reconnect; one line per 30 s is enough.
      const now = Date.now();
      if (now - this.lastErrorLog > 30000) {
        this.lastErrorLog = now;
        this.log.warn({ redis: safeUrl, err: err.message }, 'redis cache tier unavailable: serving from the local cache only');
      }
    });
  }

  private fail(op: string): void {
    this.errors.set(op, (this.errors.get(op) ?? 0) + 1);
  }

  async get(key: string): Promise<{ entry: CacheEntry; ttlMs: number } | undefined> {
    try {
      const res = await this.client.multi().getBuffer(this.prefix + key).pttl(this.prefix + key).exec();
      if (!res) throw new Error('transaction aborted');
      const [[e1, raw], [e2, pttl]] = res as [[Error | null, Buffer | null], [Error | null, number]];
      if (e1 || e2) throw e1 ?? e2;
      if (!raw) {
        this.misses++;
        return undefined;
      }
      const nl = raw.indexOf(10);
      if (nl < 0) {
        this.misses++;
        return undefined;
      }
      this.hits++;
      const entry: CacheEntry = { t: intern(raw.toString('latin1', 0, nl)), v: raw.toString('latin1', nl + 1) };
      return { entry, ttlMs: pttl > 0 ? pttl : 1000 };
    } catch {
      this.fail('get');
      return undefined;
    }
  }

  set(key: string, entry: CacheEntry, ttlMs: number): void {
    if (!this.up) return;
    this.client
      .multi()
      .set(this.prefix + key, Buffer.from(`${entry.t}\n${entry.v}`, 'latin1'), 'PX', ttlMs)
      .publish(this.channel, `${this.instanceId}\nk\n${key}`)
      .exec()
      .catch(() => this.fail('set'));
  }

  del(key: string): void {
    if (!this.up) return;
    this.client
      .multi()
      .del(this.prefix + key)
      .publish(this.channel, `${this.instanceId}\nk\n${key}`)
      .exec()
      .catch(() => this.fail('delete'));
  }

  delPrefix(prefix: string): void {
    if (!this.up) return;
    const pattern = `${escapeGlob(this.prefix + prefix)}*`;
    const stream = this.client.scanStream({ match: pattern, count: 500 });
    const unlinks: Promise<unknown>[] = [];
    stream.on('data', (keys: string[]) => {
      if (keys.length) unlinks.push(this.client.unlink(...keys).catch(() => this.fail('delete')));
    });
    stream.on('error', () => this.fail('delete'));
    // Invalidate only once the keys are gone from Redis: a replica that re-read an entry between
    // the message and the unlink would otherwise cache it again until its TTL.
    stream.on('end', () => {
      void Promise.all(unlinks).then(() =>
        this.client.publish(this.channel, `${this.instanceId}\np\n${prefix}`).catch(() => this.fail('delete')),
      );
    });
  }

  async close(): Promise<void> {
    this.closing = true;
    try {
      await Promise.race([Promise.all([this.client.quit(), this.subscriber.quit()]), new Promise((r) => setTimeout(r, 500))]);
    } catch {
      /* already closed */
    }
    this.client.disconnect();
    this.subscriber.disconnect();
  }
}

function escapeGlob(s: string): string {
  return s.replace(/[*?[\]\\]/g, (c) => `\\${c}`);
}

function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return 'redis://<invalid>';
  }
}
