/**
 * The shared cache tier on Redis, with a consistency model that survives Redis faults and a
 * hard bound on the memory Redis can make the sidecar hold.
 *
 * Consistency (docs/sidecar.md, "Shared tier: consistency"):
 * - Every value in Redis is tagged with the epoch of its key prefix (`<prefix>__epoch`, a random
 *   token). A read returns a value only if its tag equals the current epoch (checked in Redis,
 *   in one script with the read); a write is applied only if the epoch the sidecar knows is
 *   still the current one, otherwise it deletes the key instead.
 * - The tier is used (read or written) only while `up`. It becomes up only after this sidecar set
 *   a fresh epoch on the current connection; it goes down when Redis closes, stalls (PING
 *   timeout), the invalidation channel is lost, or a write or delete could not be confirmed
 *   (error, dropped by the budget). Every way back up starts a new epoch, which invalidates all
 *   values written before, and drops the local view. So a write or delete that never reached
 *   Redis, or that Redis lost (a restart from an old RDB), can never be undone by Redis.
 * - Epoch tokens are random, never counters: a restored or evicted epoch key can never make an
 *   old tag current again.
 *
 * Memory: outstanding commands and their bytes are budgeted; the budget is released only when
 * Redis answers or the connection is closed (not on a client-side timeout: the bytes are still in
 * the socket). Beyond it writes are dropped (and turned into a small DEL, so Redis cannot keep the
 * older value) and reads are misses. ioredis queues nothing offline and resends nothing.
 */
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';

export interface CacheEntry {
  /** The value bytes as a latin1 string. */
  readonly v: string;
  /** Content-Type to answer with. */
  readonly t: string;
}

export interface RedisTierOptions {
  url: string;
  /** Overrides the URL's password (from a Secret through SIDECAR_REDIS_PASSWORD). */
  password?: string;
  prefix: string;
  /** Agent-facing timeout of a read: a slower Redis is a miss. */
  timeoutMs: number;
  /** Outstanding command bytes (values written, plus the largest value per read). */
  maxInflightBytes: number;
  maxInflightCommands: number;
  /** Largest value a read can bring back; reserved from the byte budget per read. */
  maxValueBytes: number;
  /** PING period; a PING unanswered within pingTimeoutMs means Redis stalled. */
  healthIntervalMs: number;
  pingTimeoutMs: number;
}

/** What the tier asks of the local cache. */
export interface RedisTierHooks {
  /** Another replica changed or deleted `key`. */
  invalidateKey(key: string): void;
  /** Another replica cleared a namespace. */
  invalidatePrefix(prefix: string): void;
  /** The local view can no longer be trusted (new epoch): drop every local entry. */
  dropLocal(): void;
}

/** Read: epoch, value and its remaining TTL in one step; the value only when its tag is current. */
const GET_LUA = `
local e = redis.call('GET', KEYS[1])
if not e then return {false, false, 0} end
local v = redis.call('GET', KEYS[2])
if not v then return {e, false, 0} end
local nl = string.find(v, '\\n', 1, true)
if (not nl) or string.sub(v, 1, nl - 1) ~= e then return {e, false, 0} end
return {e, v, redis.call('PTTL', KEYS[2])}
`;

/** Write: applied only under the epoch the writer knows; otherwise the key is deleted. */
const SET_LUA = `
local e = redis.call('GET', KEYS[1])
if e and e == ARGV[1] then
  redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])
  redis.call('PUBLISH', ARGV[4], ARGV[5])
  return {1, e}
end
redis.call('DEL', KEYS[2])
redis.call('PUBLISH', ARGV[4], ARGV[5])
return {0, e or false}
`;

/** Delete: always safe, whatever the epoch. */
const DEL_LUA = `
redis.call('DEL', KEYS[2])
redis.call('PUBLISH', ARGV[1], ARGV[2])
return redis.call('GET', KEYS[1]) or false
`;

/**
 * New epoch: every value tagged with an older one is dead from now on. "<seq>-<random>": the
 * random part makes it unique even after Redis lost the counter, the sequence lets replicas
 * order the announcements they receive.
 */
const BUMP_LUA = `
local e = redis.call('INCR', KEYS[2]) .. '-' .. ARGV[1]
redis.call('SET', KEYS[1], e)
redis.call('PUBLISH', ARGV[2], ARGV[3] .. e)
return e
`;

interface TierCommands {
  agentCacheGetBuffer(epochKey: string, key: string): Promise<[Buffer | null, Buffer | null, number]>;
  agentCacheSet(epochKey: string, key: string, epoch: string, payload: Buffer, ttlMs: number, channel: string, msg: string): Promise<[number, string | null]>;
  agentCacheDel(epochKey: string, key: string, channel: string, msg: string): Promise<string | null>;
  agentCacheBump(epochKey: string, seqKey: string, token: string, channel: string, msgPrefix: string): Promise<string>;
}

const TIMED_OUT = Symbol('timeout');

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T | typeof TIMED_OUT> {
  let timer: NodeJS.Timeout;
  return Promise.race([p, new Promise<typeof TIMED_OUT>((r) => (timer = setTimeout(() => r(TIMED_OUT), ms)))]).finally(() => clearTimeout(timer));
}

export class RedisTier {
  readonly client: Redis & TierCommands;
  /** Reads, writes and deletes go to Redis only while up (see the module comment). */
  private upState = false;
  hits = 0;
  misses = 0;
  readonly errors = new Map<string, number>();
  /** Commands not sent because the budget was full, by operation. */
  readonly dropped = new Map<string, number>();
  /** Times this sidecar started a new epoch. */
  epochStarts = 0;
  inflightBytes = 0;
  inflightCommands = 0;
  private epoch = '';
  private subReady = false;
  private closing = false;
  private checking = false;
  private lastErrorLog = 0;
  private readonly subscriber: Redis;
  private readonly channel: string;
  private readonly epochKey: string;
  private readonly timer: NodeJS.Timeout;
  /** Namespace clears still running in Redis: their keys are not read from Redis meanwhile. */
  private readonly clearing = new Map<string, number>();
  /** Tags our own messages so we do not drop the entry we just wrote. */
  private readonly instanceId = randomBytes(8).toString('hex');
  private readonly safeUrl: string;

  constructor(
    private readonly opts: RedisTierOptions,
    private readonly log: Logger,
    private readonly hooks: RedisTierHooks,
  ) {
    // Loaded on demand: ioredis costs ~15 MB of RSS that a local-only sidecar should not pay.
    const RedisClient = (require('ioredis') as typeof import('ioredis')).default;
    const client = new RedisClient(opts.url, {
      ...(opts.password !== undefined ? { password: opts.password } : {}),
      // Nothing waits for a connection, nothing is retried or resent after a reconnect: a command
      // either reaches Redis on the connection it was meant for or fails (and the tier goes down).
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      autoResendUnfulfilledCommands: false,
      connectTimeout: Math.max(1000, opts.timeoutMs * 10),
      retryStrategy: (times) => Math.min(100 * 2 ** Math.min(times, 5), 2000),
      lazyConnect: false,
    });
    client.defineCommand('agentCacheGet', { numberOfKeys: 2, lua: GET_LUA });
    client.defineCommand('agentCacheSet', { numberOfKeys: 2, lua: SET_LUA });
    client.defineCommand('agentCacheDel', { numberOfKeys: 2, lua: DEL_LUA });
    client.defineCommand('agentCacheBump', { numberOfKeys: 2, lua: BUMP_LUA });
    this.client = client as Redis & TierCommands;
    this.channel = `${opts.prefix}__invalidate`;
    this.epochKey = `${opts.prefix}__epoch`;
    this.safeUrl = redactUrl(opts.url);

    // Second connection: a connection in subscriber mode cannot run other commands. Subscribed
    // again by hand on every connection, and the tier is up only while it is subscribed, so no
    // invalidation can be missed while up (a lost one is covered by the new epoch on recovery).
    this.subscriber = this.client.duplicate({ enableOfflineQueue: true, autoResubscribe: false, maxRetriesPerRequest: null });
    this.subscriber.on('error', () => undefined); // reported through the main connection
    this.subscriber.on('ready', () => {
      this.subscriber
        .subscribe(this.channel)
        .then(() => {
          this.subReady = true;
          void this.check();
        })
        .catch(() => this.fail('subscribe'));
    });
    this.subscriber.on('close', () => {
      this.subReady = false;
      this.setDown('invalidation channel lost');
    });
    this.subscriber.on('message', (_channel: string, message: string) => this.onMessage(message));

    client.on('ready', () => void this.check());
    client.on('close', () => this.setDown('connection closed'));
    client.on('error', (err: Error) => this.logError(err.message));
    this.timer = setInterval(() => void this.check(), opts.healthIntervalMs);
    this.timer.unref();
  }

  get up(): boolean {
    return this.upState;
  }

  private onMessage(message: string): void {
    // "<instance>\n<k|p|e>\n<key, prefix or epoch>"
    const a = message.indexOf('\n');
    const b = message.indexOf('\n', a + 1);
    if (a < 0 || b < 0 || message.slice(0, a) === this.instanceId) return;
    const kind = message.slice(a + 1, b);
    if (kind === 'k') this.hooks.invalidateKey(message.slice(b + 1));
    else if (kind === 'p') this.hooks.invalidatePrefix(message.slice(b + 1));
    // Another replica started an epoch: its writes during its outage never reached Redis, so our
    // local copies may be older than them. Messages and replies travel on two connections and can
    // cross, so an announced epoch is adopted only if it is newer than ours; replies on the
    // command connection are authoritative either way.
    else if (kind === 'e') {
      const announced = message.slice(b + 1);
      if (this.upState && seqOf(announced) > seqOf(this.epoch)) this.epoch = announced;
      this.hooks.dropLocal();
    }
  }

  private logError(message: string): void {
    // ioredis reports every failed reconnect; one line per 30 s is enough.
    const now = Date.now();
    if (now - this.lastErrorLog > 30000) {
      this.lastErrorLog = now;
      this.log.warn({ redis: this.safeUrl, err: message }, 'redis cache tier unavailable: serving from the local cache only');
    }
  }

  private fail(op: string): void {
    this.errors.set(op, (this.errors.get(op) ?? 0) + 1);
  }

  private drop(op: string): void {
    this.dropped.set(op, (this.dropped.get(op) ?? 0) + 1);
  }

  private setDown(reason: string): void {
    if (!this.upState) return;
    this.upState = false;
    if (!this.closing) this.log.warn({ redis: this.safeUrl, reason }, 'redis cache tier down: serving from the local cache only');
  }

  /** Health check and recovery: PING with a timeout; when healthy but down, start a new epoch. */
  private async check(): Promise<void> {
    if (this.closing || this.checking) return;
    this.checking = true;
    try {
      if (this.client.status !== 'ready') return this.setDown('disconnected');
      const pong = await withTimeout(this.client.ping(), this.opts.pingTimeoutMs).catch(() => undefined);
      if (this.closing) return;
      if (pong !== 'PONG') {
        if (pong === TIMED_OUT) {
          // A stalled Redis keeps its socket open: close it, so the commands waiting on it are
          // failed and their bytes released, and reconnect in the background.
          this.setDown('redis stopped answering (PING timeout)');
          this.client.disconnect(true);
        } else this.setDown('PING failed');
        return;
      }
      if (this.upState || !this.subReady) return;
      const token = randomBytes(12).toString('hex');
      const res = await withTimeout(this.client.agentCacheBump(this.epochKey, `${this.epochKey}_seq`, token, this.channel, `${this.instanceId}\ne\n`), this.opts.pingTimeoutMs).catch(() => undefined);
      if (typeof res !== 'string' || this.closing || this.client.status !== 'ready' || !this.subReady) return;
      this.epoch = res;
      this.epochStarts++;
      // Our own entries may be older than writes other replicas made while we were away.
      this.hooks.dropLocal();
      this.upState = true;
      this.log.info({ redis: this.safeUrl }, 'redis cache tier up: sharing entries with other replicas (new epoch)');
    } finally {
      this.checking = false;
    }
  }

  /** A reply told us the current epoch: a replica started a new one, our local view is stale. */
  private adopt(current: string | null): void {
    if (current === null) {
      // The epoch key is gone (flushed or evicted): start over.
      this.setDown('epoch key missing');
      return;
    }
    if (current !== this.epoch) {
      this.epoch = current;
      this.hooks.dropLocal();
    }
  }

  private acquire(bytes: number): boolean {
    if (this.inflightCommands + 1 > this.opts.maxInflightCommands || this.inflightBytes + bytes > this.opts.maxInflightBytes) return false;
    this.inflightCommands++;
    this.inflightBytes += bytes;
    return true;
  }

  private track<T>(bytes: number, p: Promise<T>): Promise<T> {
    // Released when Redis answers or the connection closes, never on our own timeout.
    return p.finally(() => {
      this.inflightCommands--;
      this.inflightBytes -= bytes;
    });
  }

  /** True while a namespace clear that covers `key` is still running in Redis. */
  isClearing(key: string): boolean {
    if (this.clearing.size === 0) return false;
    for (const p of this.clearing.keys()) if (key.startsWith(p)) return true;
    return false;
  }

  /** The value under the current epoch, or undefined (miss, down, over budget, slow). */
  async get(key: string): Promise<{ entry: CacheEntry; ttlMs: number } | undefined> {
    if (!this.upState || this.isClearing(key)) return undefined;
    const reserve = this.opts.maxValueBytes + key.length + 64;
    if (!this.acquire(reserve)) {
      this.drop('get');
      return undefined;
    }
    const p = this.track(reserve, this.client.agentCacheGetBuffer(this.epochKey, this.opts.prefix + key));
    const res = await withTimeout(p, this.opts.timeoutMs).catch(() => undefined);
    if (res === TIMED_OUT || res === undefined) {
      this.fail('get');
      p.catch(() => undefined);
      return undefined;
    }
    const [epoch, raw, pttl] = res;
    this.adopt(epoch ? epoch.toString('latin1') : null);
    if (!raw) {
      this.misses++;
      return undefined;
    }
    const a = raw.indexOf(10);
    const b = a < 0 ? -1 : raw.indexOf(10, a + 1);
    if (b < 0) {
      this.misses++;
      return undefined;
    }
    this.hits++;
    return { entry: { t: raw.toString('latin1', a + 1, b), v: raw.toString('latin1', b + 1) }, ttlMs: pttl > 0 ? pttl : 1000 };
  }

  set(key: string, entry: CacheEntry, ttlMs: number): void {
    if (!this.upState) return; // local only; the way back up starts a new epoch
    const bytes = entry.v.length + entry.t.length + key.length + 128;
    if (!this.acquire(bytes)) {
      // Redis must not keep the value this write replaces: delete it instead (a few bytes).
      this.drop('set');
      this.del(key);
      return;
    }
    const payload = Buffer.from(`${this.epoch}\n${entry.t}\n${entry.v}`, 'latin1');
    this.track(bytes, this.client.agentCacheSet(this.epochKey, this.opts.prefix + key, this.epoch, payload, ttlMs, this.channel, `${this.instanceId}\nk\n${key}`))
      .then(([applied, current]) => {
        if (!applied) this.adopt(current);
      })
      .catch(() => {
        this.fail('set');
        this.setDown('a write could not be confirmed');
      });
  }

  del(key: string): void {
    if (!this.upState) return;
    const bytes = key.length + 128;
    if (!this.acquire(bytes)) {
      this.drop('delete');
      this.setDown('command budget exhausted: a delete was not sent');
      return;
    }
    this.track(bytes, this.client.agentCacheDel(this.epochKey, this.opts.prefix + key, this.channel, `${this.instanceId}\nk\n${key}`))
      .then((current) => this.adopt(current))
      .catch(() => {
        this.fail('delete');
        this.setDown('a delete could not be confirmed');
      });
  }

  /** Clears a namespace: SCAN + UNLINK, then the invalidation. Its keys are not read meanwhile. */
  delPrefix(prefix: string): void {
    if (!this.upState) return;
    this.clearing.set(prefix, (this.clearing.get(prefix) ?? 0) + 1);
    let settled = false;
    const done = (ok: boolean) => {
      if (settled) return;
      settled = true;
      clearTimeout(guard);
      const n = (this.clearing.get(prefix) ?? 1) - 1;
      if (n > 0) this.clearing.set(prefix, n);
      else this.clearing.delete(prefix);
      if (!ok) {
        this.fail('delete');
        this.setDown('a namespace clear could not be confirmed');
      }
    };
    // A clear that does not finish in time is treated as failed (the next epoch covers it).
    const guard = setTimeout(() => done(false), Math.max(5000, this.opts.pingTimeoutMs * 5));
    guard.unref();
    const pattern = `${escapeGlob(this.opts.prefix + prefix)}*`;
    const stream = this.client.scanStream({ match: pattern, count: 500 });
    const unlinks: Promise<unknown>[] = [];
    stream.on('data', (keys: string[]) => {
      if (!keys.length) return;
      if (!this.acquire(64 * keys.length)) {
        this.drop('delete');
        stream.destroy();
        return done(false);
      }
      unlinks.push(this.track(64 * keys.length, this.client.unlink(...keys)));
    });
    stream.on('error', () => done(false));
    // Invalidate only once the keys are gone from Redis: a replica that re-read an entry between
    // the message and the unlink would otherwise cache it again.
    stream.on('end', () => {
      Promise.all(unlinks)
        .then(() => this.client.publish(this.channel, `${this.instanceId}\np\n${prefix}`))
        .then(() => done(true))
        .catch(() => done(false));
    });
  }

  async close(): Promise<void> {
    this.closing = true;
    this.upState = false;
    clearInterval(this.timer);
    try {
      await Promise.race([Promise.all([this.client.quit(), this.subscriber.quit()]), new Promise((r) => setTimeout(r, 500))]);
    } catch {
      /* already closed */
    }
    this.client.disconnect();
    this.subscriber.disconnect();
  }
}

/** The sequence part of an epoch "<seq>-<random>" (0 when malformed). */
function seqOf(epoch: string): number {
  const n = parseInt(epoch, 10);
  return Number.isFinite(n) ? n : 0;
}

function escapeGlob(s: string): string {
  return s.replace(/[*?[\]\\]/g, (c) => `\\${c}`);
}

export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return 'redis://<invalid>';
  }
}
