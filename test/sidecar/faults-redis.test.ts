/**
 * Fault injection on the shared Redis tier, against the real sidecar processes and a real
 * redis-server: paused (SIGSTOP), killed, restarted from an old RDB, slow and resetting through a
 * loopback TCP proxy, all under write load. The assertions are about the data returned (never a
 * deleted or overwritten value) and the sidecar's RSS, not only "no crash".
 */
import { METRICS } from '../../sidecar/contract';
import { describeWithBinary, RedisServer, redisCommand, SidecarProcess, sleep, startRedis, startSidecar, stopAll, waitFor } from '../support/servers';
import { startTcpProxy, TcpProxy } from '../support/tcp-proxy';
import { redisUp, scrape } from './helpers';

const MiB = 1024 * 1024;
const FAST = ['--redis-health-interval-ms', '200', '--redis-timeout-ms', '100'];
const waitUp = (what: string, ...scs: SidecarProcess[]) =>
  waitFor(async () => (await Promise.all(scs.map(redisUp))).every((v) => v === 1), { what: `${what}: redis_up 1`, timeoutMs: 20000, intervalMs: 100 });
const waitDown = (what: string, ...scs: SidecarProcess[]) =>
  waitFor(async () => (await Promise.all(scs.map(redisUp))).every((v) => v === 0), { what: `${what}: redis_up 0`, timeoutMs: 20000, intervalMs: 100 });

const put = async (sc: SidecarProcess, key: string, body: string | Buffer) => {
  const res = await fetch(`${sc.apiUrl}/v1/cache/${key}?ttl=300`, { method: 'PUT', body });
  await res.arrayBuffer();
  return res.status;
};
const del = async (sc: SidecarProcess, key: string) => (await fetch(`${sc.apiUrl}/v1/cache/${key}`, { method: 'DELETE' })).json();
/**
 * Writes through `writer` until `reader` reads it from Redis: a write racing another sidecar's
 * new epoch is turned into a delete (a miss, never stale data), so one attempt may not land.
 */
const putShared = (writer: SidecarProcess, reader: SidecarProcess, key: string, value: string) =>
  waitFor(
    async () => {
      await put(writer, key, value);
      return (await get(reader, key)) === value;
    },
    { what: `${key}=${value} shared`, intervalMs: 100 },
  );
const get = async (sc: SidecarProcess, key: string): Promise<string | undefined> => {
  const res = await fetch(`${sc.apiUrl}/v1/cache/${key}`);
  const text = await res.text();
  return res.status === 200 ? text : undefined;
};

/**
 * Read-your-writes under load: one writer per key set (PUT "key:version" or DELETE), and readers
 * that check every answer against the last completed operation at the time the read started:
 * an older version, or any value after a delete with no newer write, is a violation.
 */
class Checker {
  private readonly last = new Map<string, { v: number; deleted: boolean }>();
  private version = 0;
  private running = true;
  private loops: Promise<void>[] = [];
  readonly violations: string[] = [];
  ops = 0;

  constructor(
    private readonly sc: SidecarProcess,
    readonly keys: string[],
  ) {}

  start(readers = 2): void {
    this.loops.push(this.writer());
    for (let i = 0; i < readers; i++) this.loops.push(this.reader());
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
  }

  /** Checks one answer for `key` against the state when the read started. */
  check(key: string, floor: { v: number; deleted: boolean } | undefined, got: string | undefined, where: string): void {
    if (got === undefined || floor === undefined) return;
    const [k, vs] = got.split(':');
    const v = Number(vs);
    if (k !== key) this.violations.push(`${where} ${key}: got the value of ${k}`);
    else if (v < floor.v || (floor.deleted && v === floor.v)) this.violations.push(`${where} ${key}: got version ${v} after ${floor.deleted ? 'delete' : 'write'} ${floor.v}`);
  }

  private async writer(): Promise<void> {
    while (this.running) {
      const key = this.keys[Math.floor(Math.random() * this.keys.length)];
      const v = ++this.version;
      try {
        if (Math.random() < 0.7) {
          if ((await put(this.sc, key, `${key}:${v}`)) === 204) this.last.set(key, { v, deleted: false });
        } else {
          await del(this.sc, key);
          this.last.set(key, { v, deleted: true });
        }
        this.ops++;
        const floor = this.last.get(key);
        this.check(key, floor, await get(this.sc, key), 'read after own op');
      } catch {
        /* a refused connection is not a consistency violation */
      }
      await sleep(2);
    }
  }

  private async reader(): Promise<void> {
    while (this.running) {
      const key = this.keys[Math.floor(Math.random() * this.keys.length)];
      const floor = this.last.get(key);
      try {
        this.check(key, floor, await get(this.sc, key), 'concurrent read');
      } catch {
        /* idem */
      }
      await sleep(1);
    }
  }

  /** Once quiet: any sidecar must answer the last written value or a miss, never an older one. */
  async checkQuiet(scs: SidecarProcess[]): Promise<void> {
    for (const key of this.keys) {
      const floor = this.last.get(key);
      for (const sc of scs) this.check(key, floor, await get(sc, key), `quiet read on ${sc.apiPort}`);
    }
  }
}

describeWithBinary('redis-server', 'the Redis tier under faults', () => {
  let redis: RedisServer;
  let a: SidecarProcess;
  let b: SidecarProcess;
  let checkA: Checker;
  let checkB: Checker;

  beforeAll(async () => {
    redis = await startRedis();
    a = await startSidecar(['--redis-url', redis.url, '--redis-key-prefix', 'f:', '--cache-max-entries', '50', ...FAST]);
    b = await startSidecar(['--redis-url', redis.url, '--redis-key-prefix', 'f:', '--cache-max-entries', '50', ...FAST]);
    await waitUp('start', a, b);
    checkA = new Checker(a, Array.from({ length: 20 }, (_, i) => `rw/a${i}`));
    checkB = new Checker(b, Array.from({ length: 20 }, (_, i) => `rw/b${i}`));
    checkA.start();
    checkB.start();
  }, 60000);

  afterAll(async () => {
    await checkA?.stop();
    await checkB?.stop();
    await stopAll(a, b, redis);
  });

  test('a stall (SIGSTOP): redis_up goes to 0; a delete and an overwrite made meanwhile do not come back after SIGCONT', async () => {
    await putShared(a, b, 'st/gone', 'old');
    await putShared(a, b, 'st/over', 'old');
    redis.pause();
    try {
      expect((await del(a, 'st/gone')).deleted).toBe(true);
      expect(await put(a, 'st/over', 'new')).toBe(204);
      // The socket stays open: only the PING health check can see this.
      await waitDown('stall', a, b);
      expect(await get(a, 'st/gone')).toBeUndefined();
      expect(await get(a, 'st/over')).toBe('new');
      // Push the overwritten key out of a's local tier (50 entries), as the sequence did.
      for (let i = 0; i < 60; i++) await put(a, `st/filler${i}`, 'x');
    } finally {
      redis.resume();
    }
    await waitUp('after SIGCONT', a, b);
    for (const sc of [a, b]) {
      expect(await get(sc, 'st/gone')).toBeUndefined();
      expect([undefined, 'new']).toContain(await get(sc, 'st/over'));
    }
    // Shared again: a new write is seen by the other replica.
    await putShared(a, b, 'st/after', 'fresh');
  }, 60000);

  test('killed and restarted from an old RDB: the restored (stale) values are never served', async () => {
    await putShared(a, b, 'rdb/k', 'old');
    await putShared(a, b, 'rdb/d', 'doomed');
    expect(await redisCommand(redis.port, 'SAVE')).toBe('+OK');
    await putShared(a, b, 'rdb/k', 'new');
    await del(a, 'rdb/d');
    await waitFor(async () => (await redisCommand(redis.port, 'EXISTS f:rdb/d')) === ':0', { what: 'rdb/d deleted in redis' });
    await redis.kill();
    await redis.restart(); // loads dump.rdb: rdb/k = old, rdb/d = doomed, and an old epoch
    expect(await redisCommand(redis.port, 'EXISTS f:rdb/d')).toBe(':1');
    await waitUp('after restart', a, b);
    for (const sc of [a, b]) {
      expect(await get(sc, 'rdb/k')).not.toBe('old');
      expect(await get(sc, 'rdb/d')).toBeUndefined();
    }
  }, 60000);

  test('1 MB PUTs while Redis is paused: RSS stays under 256Mi, writes are dropped and counted, data is right after SIGCONT', async () => {
    // The image's V8 flags (sidecar/Dockerfile, AgentService's NODE_OPTIONS for a 256Mi limit).
    const m = await startSidecar(['--redis-url', redis.url, '--redis-key-prefix', 'mem:', ...FAST], { NODE_OPTIONS: '--max-old-space-size=192 --max-semi-space-size=2' });
    try {
      await waitUp('memory sidecar', m);
      const value = (i: number) => {
        const buf = Buffer.alloc(MiB - 64, 0x61 + (i % 26));
        buf.write(`big/${i}:`, 0, 'latin1');
        return buf;
      };
      let maxRss = m.rssBytes() ?? 0;
      const sampler = setInterval(() => (maxRss = Math.max(maxRss, m.rssBytes() ?? 0)), 50);
      redis.pause();
      const N = 300;
      let next = 0;
      const statuses: number[] = [];
      try {
        await Promise.all(
          Array.from({ length: 8 }, async () => {
            while (next < N) {
              const i = next++;
              statuses.push(await put(m, `big/${i}`, value(i)));
            }
          }),
        );
        await waitDown('paused under load', m);
        maxRss = Math.max(maxRss, m.rssBytes() ?? 0);
      } finally {
        redis.resume();
        clearInterval(sampler);
      }
      expect(statuses.filter((s) => s === 204).length).toBe(N);
      expect(maxRss).toBeLessThan(256 * MiB);
      const samples = await scrape(m.metricsUrl);
      const dropped = samples.filter((s) => s.name === METRICS.cacheRedisDropped).reduce((n, s) => n + s.value, 0);
      expect(dropped).toBeGreaterThan(0);
      await waitUp('after SIGCONT', m);
      // Whatever survived is byte for byte what was written for that key; a new write is shared.
      for (const i of [0, 1, 100, N - 2, N - 1]) {
        const res = await fetch(`${m.apiUrl}/v1/cache/big/${i}`);
        const body = Buffer.from(await res.arrayBuffer());
        if (res.status === 200) expect(body.equals(value(i))).toBe(true);
        else expect(res.status).toBe(404);
      }
      expect(await put(m, 'big/after', value(7))).toBe(204);
      const m2 = await startSidecar(['--redis-url', redis.url, '--redis-key-prefix', 'mem:', ...FAST]);
      try {
        await waitUp('second memory sidecar', m2);
        await waitFor(
          async () => {
            await put(m, 'big/after', value(8));
            return (await get(m2, 'big/after'))?.startsWith('big/8:');
          },
          { what: 'the write after recovery is shared' },
        );
      } finally {
        await m2.stop();
      }
      expect(m.rssBytes() ?? 0).toBeLessThan(256 * MiB);
    } finally {
      await m.stop();
    }
  }, 60000);

  describe('through a TCP proxy', () => {
    let proxy: TcpProxy;
    let c: SidecarProcess;
    beforeAll(async () => {
      proxy = await startTcpProxy(redis.port);
      c = await startSidecar(['--redis-url', `redis://127.0.0.1:${proxy.port}`, '--redis-key-prefix', 'f:', '--cache-max-entries', '50', ...FAST]);
      await waitUp('proxied', c);
    });
    afterAll(async () => {
      await c?.stop();
      await proxy?.close();
    });

    test('slow Redis (300 ms per hop): reads are quick misses, never wrong data', async () => {
      await putShared(a, c, 'slow/k', 'v1');
      await del(c, 'slow/k');
      await waitFor(async () => (await redisCommand(redis.port, 'EXISTS f:slow/k')) === ':0', { what: 'deleted in redis' });
      proxy.latencyMs = 300;
      try {
        const t0 = Date.now();
        expect(await get(c, 'slow/other')).toBeUndefined();
        expect(Date.now() - t0).toBeLessThan(2000);
        await put(c, 'slow/k', 'v2');
        expect(await get(c, 'slow/k')).toBe('v2');
      } finally {
        proxy.latencyMs = 0;
      }
      await waitUp('after latency', c, a);
      expect([undefined, 'v2']).toContain(await get(a, 'slow/k'));
      expect([undefined, 'v2']).toContain(await get(c, 'slow/k'));
    }, 30000);

    test('a black hole then connection resets: writes made meanwhile are not undone', async () => {
      await putShared(a, c, 'bh/k', 'v1');
      proxy.blackhole = true;
      await del(c, 'bh/k');
      await put(c, 'bh/j', 'c-only');
      await waitDown('black hole', c);
      proxy.blackhole = false;
      await waitUp('after black hole', c, a);
      expect(await get(a, 'bh/k')).toBeUndefined();
      expect(await get(c, 'bh/k')).toBeUndefined();
      for (let round = 0; round < 3; round++) {
        await put(c, 'bh/r', `v${round}`);
        proxy.resetAll();
        await put(c, 'bh/r', `w${round}`);
        await waitUp(`after reset ${round}`, c, a);
        expect([undefined, `w${round}`]).toContain(await get(a, 'bh/r'));
        expect([undefined, `w${round}`]).toContain(await get(c, 'bh/r'));
      }
    }, 60000);
  });

  describe('read-your-writes', () => {
  test('throughout: every answer was the last value written or a miss (read-your-writes under load)', async () => {
    await checkA.stop();
    await checkB.stop();
    await waitUp('quiet', a, b);
    await checkA.checkQuiet([a, b]);
    await checkB.checkQuiet([a, b]);
    expect(checkA.ops + checkB.ops).toBeGreaterThan(200);
    expect([...checkA.violations, ...checkB.violations]).toEqual([]);
  }, 30000);
  });
});
