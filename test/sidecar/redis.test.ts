/**
 * The shared cache tier against a real redis-server on 127.0.0.1: replicas share entries,
 * and when Redis goes away the sidecar keeps answering from its local tier and says so.
 */
import { METRICS, SIDECAR_PATHS } from '../../sidecar/contract';
import { describeWithBinary, freePort, RedisServer, redisCommand, SidecarProcess, startRedis, startSidecar, stopAll, waitFor } from '../support/servers';
import { metricValue, redisUp, scrape } from './helpers';


describeWithBinary('redis-server', 'shared Redis cache tier', () => {
  let redis: RedisServer;
  let a: SidecarProcess;
  let b: SidecarProcess;

  beforeAll(async () => {
    redis = await startRedis();
    // One after the other, so afterAll can stop the first even if the second fails to start.
    a = await startSidecar(['--redis-url', redis.url, '--redis-key-prefix', 'test:'], { SIDECAR_LOG_LEVEL: 'info' });
    b = await startSidecar(['--redis-url', redis.url, '--redis-key-prefix', 'test:'], { SIDECAR_LOG_LEVEL: 'info' });
    await waitFor(async () => (await redisUp(a)) === 1 && (await redisUp(b)) === 1, { what: 'both sidecars connected to redis' });
  });

  afterAll(async () => {
    await stopAll(a, b, redis);
  });

  test('an entry written through one replica is served by another, then from its local tier', async () => {
    const put = await fetch(`${a.apiUrl}/v1/cache/answers/q1?ttl=30`, { method: 'PUT', body: '{"answer":42}', headers: { 'content-type': 'application/json' } });
    expect(put.status).toBe(204);
    // The Redis write is asynchronous: wait until it lands.
    await waitFor(async () => (await redisCommand(redis.port, 'EXISTS test:answers/q1')) === ':1', { what: 'key in redis' });
    const ttl = Number((await redisCommand(redis.port, 'PTTL test:answers/q1')).slice(1));
    expect(ttl).toBeGreaterThan(25000);
    expect(ttl).toBeLessThanOrEqual(30000);

    const first = await fetch(`${b.apiUrl}/v1/cache/answers/q1`);
    expect(first.status).toBe(200);
    expect(first.headers.get('x-cache')).toBe('hit; tier=redis');
    expect(first.headers.get('content-type')).toBe('application/json');
    expect(await first.json()).toEqual({ answer: 42 });
    const second = await fetch(`${b.apiUrl}/v1/cache/answers/q1`);
    expect(second.headers.get('x-cache')).toBe('hit; tier=local');

    const samples = await scrape(b.metricsUrl);
    expect(metricValue(samples, METRICS.cacheRequests, { result: 'hit', tier: 'redis' })).toBe(1);
    expect(metricValue(samples, METRICS.cacheRequests, { result: 'hit', tier: 'local' })).toBe(1);
    expect(metricValue(samples, METRICS.cacheRequests, { result: 'miss', tier: 'local' })).toBe(1);
    const stats = await (await fetch(`${b.apiUrl}${SIDECAR_PATHS.cacheStats}`)).json();
    expect(stats.redis).toMatchObject({ configured: true, up: true, hits: 1 });
  });

  test('a miss on both tiers is a 404 counted as a redis miss', async () => {
    const res = await fetch(`${b.apiUrl}/v1/cache/answers/never`);
    expect(res.status).toBe(404);
    expect(metricValue(await scrape(b.metricsUrl), METRICS.cacheRequests, { result: 'miss', tier: 'redis' })).toBeGreaterThanOrEqual(1);
  });

  test('DELETE removes the entry from Redis too', async () => {
    await fetch(`${a.apiUrl}/v1/cache/answers/gone?ttl=30`, { method: 'PUT', body: 'x' });
    await waitFor(async () => (await redisCommand(redis.port, 'EXISTS test:answers/gone')) === ':1', { what: 'key in redis' });
    await fetch(`${a.apiUrl}/v1/cache/answers/gone`, { method: 'DELETE' });
    await waitFor(async () => (await redisCommand(redis.port, 'EXISTS test:answers/gone')) === ':0', { what: 'key deleted in redis' });
  });

  test('an overwrite or delete on one replica invalidates the local copies of the others', async () => {
    await fetch(`${a.apiUrl}/v1/cache/inv/k?ttl=60`, { method: 'PUT', body: 'v1' });
    // b copies v1 into its local tier (a's own invalidation message for v1 may land after b's
    // first read and drop that copy once: eventual consistency, so wait for a local hit).
    await waitFor(async () => (await fetch(`${b.apiUrl}/v1/cache/inv/k`)).headers.get('x-cache') === 'hit; tier=local', { what: 'b holds v1 locally' });
    await fetch(`${a.apiUrl}/v1/cache/inv/k?ttl=60`, { method: 'PUT', body: 'v2' });
    await waitFor(async () => (await (await fetch(`${b.apiUrl}/v1/cache/inv/k`)).text()) === 'v2', { what: 'b sees v2' });
    // The writer keeps its own fresh copy (it ignores its own invalidation messages).
    expect((await fetch(`${a.apiUrl}/v1/cache/inv/k`)).headers.get('x-cache')).toBe('hit; tier=local');
    await fetch(`${a.apiUrl}/v1/cache/inv/k`, { method: 'DELETE' });
    await waitFor(async () => (await fetch(`${b.apiUrl}/v1/cache/inv/k`)).status === 404, { what: 'b sees the delete' });
    await fetch(`${b.apiUrl}/v1/cache/inv/k2?ttl=60`, { method: 'PUT', body: 'x' });
    await waitFor(async () => (await fetch(`${a.apiUrl}/v1/cache/inv/k2`)).status === 200, { what: 'a sees k2' });
    await fetch(`${b.apiUrl}/v1/cache/inv`, { method: 'DELETE' });
    await waitFor(async () => (await fetch(`${a.apiUrl}/v1/cache/inv/k2`)).status === 404, { what: 'namespace clear reaches a' });
    expect((await (await fetch(`${b.apiUrl}${SIDECAR_PATHS.cacheStats}`)).json()).invalidations).toBeGreaterThanOrEqual(1);
  });

  test('Redis going away mid-run: local-only, reported in metrics and logs; recovery when it returns', async () => {
    await fetch(`${a.apiUrl}/v1/cache/answers/local?ttl=60`, { method: 'PUT', body: 'still here' });
    await redis.stop();
    await waitFor(async () => (await redisUp(a)) === 0, { what: 'redis_up 0', timeoutMs: 10000 });

    // Reads and writes keep working from the local tier, quickly.
    const t0 = Date.now();
    const hit = await fetch(`${a.apiUrl}/v1/cache/answers/local`);
    expect(hit.status).toBe(200);
    expect(await hit.text()).toBe('still here');
    const miss = await fetch(`${a.apiUrl}/v1/cache/answers/absent`);
    expect(miss.status).toBe(404);
    const put = await fetch(`${a.apiUrl}/v1/cache/answers/new`, { method: 'PUT', body: 'n' });
    expect(put.status).toBe(204);
    expect(Date.now() - t0).toBeLessThan(500);
    expect((await fetch(`${a.apiUrl}/v1/cache/answers/new`)).status).toBe(200);
    const stats = await (await fetch(`${a.apiUrl}${SIDECAR_PATHS.cacheStats}`)).json();
    expect(stats.redis.up).toBe(false);
    expect((await fetch(`${a.metricsUrl}/readyz`)).status).toBe(200);
    await waitFor(() => a.logLines().some((l) => l.level === 'warn' && /local cache only/.test(l.msg)), { what: 'warn log' });

    await redis.restart();
    // Both must be back: each one starts a new epoch on recovery, which invalidates what was written before.
    await waitFor(async () => (await redisUp(a)) === 1 && (await redisUp(b)) === 1, { what: 'redis_up back to 1', timeoutMs: 15000 });
    expect(a.logLines().some((l) => l.level === 'info' && /redis cache tier up/.test(l.msg))).toBe(true);
    await fetch(`${a.apiUrl}/v1/cache/answers/after?ttl=30`, { method: 'PUT', body: 'again' });
    await waitFor(async () => (await fetch(`${b.apiUrl}/v1/cache/answers/after`)).status === 200, { what: 'shared again' });
  });

  test('a Redis that is unreachable at startup does not stop the sidecar from becoming ready', async () => {
    const deadPort = await freePort();
    const sc = await startSidecar(['--redis-url', `redis://127.0.0.1:${deadPort}`]);
    try {
      expect((await fetch(`${sc.metricsUrl}/readyz`)).status).toBe(200);
      expect(await redisUp(sc)).toBe(0);
      await fetch(`${sc.apiUrl}/v1/cache/x/y`, { method: 'PUT', body: '1' });
      expect((await fetch(`${sc.apiUrl}/v1/cache/x/y`)).status).toBe(200);
    } finally {
      await sc.stop();
    }
  });
});
