/**
 * The sidecar API against the real process on loopback: executions, stats, in-flight, cache.
 */
import { METRICS, SIDECAR_PATHS } from '../../sidecar/contract';
import { SidecarProcess, sleep, startSidecar } from '../support/servers';
import { metricValue, parseMetrics, postJson } from './helpers';

let sc: SidecarProcess;

beforeAll(async () => {
  sc = await startSidecar([
      '--cache-max-entries', '50',
      '--cache-max-bytes', '20000',
      '--cache-max-value-bytes', '5000',
      '--cache-default-ttl', '60',
      '--cache-purge-interval', '1',
    ], {
    SIDECAR_AGENT_NAME: 'planner',
  });
});

afterAll(async () => {
  await sc?.stop();
});

describe('listeners', () => {
  test('metrics listener serves probes and /metrics, not the API', async () => {
    expect((await fetch(`${sc.metricsUrl}/healthz`)).status).toBe(200);
    const ready = await fetch(`${sc.metricsUrl}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ready' });
    const m = await fetch(`${sc.metricsUrl}/metrics`);
    expect(m.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(await m.text()).toContain('# TYPE gen_ai_client_operation_duration_seconds histogram');
    const api = await fetch(`${sc.metricsUrl}${SIDECAR_PATHS.stats}`);
    expect(api.status).toBe(404);
    const cacheOnMetrics = await fetch(`${sc.metricsUrl}/v1/cache/ns/k`, { method: 'PUT', body: 'x' });
    expect(cacheOnMetrics.status).toBe(404);
  });

  test('process metrics are exported', async () => {
    const text = await (await fetch(`${sc.metricsUrl}/metrics`)).text();
    expect(text).toMatch(/^process_resident_memory_bytes \d+/m);
    expect(text).toContain('agent_sidecar_info{version="0.1.0"} 1');
  });
});

describe('executions', () => {
  test('a single record feeds counters, histograms and stats; agent defaults to SIDECAR_AGENT_NAME', async () => {
    const res = await postJson(`${sc.apiUrl}${SIDECAR_PATHS.executions}`, {
      operation: 'plan',
      durationMs: 250,
      success: true,
      model: 'gpt-4o',
      inputTokens: 1200,
      outputTokens: 300,
    });
    expect(res.status).toBe(202);
    expect(await res.json()).toEqual({ accepted: 1 });
    const m = parseMetrics(await (await fetch(`${sc.metricsUrl}/metrics`)).text());
    const base = { gen_ai_agent_name: 'planner', gen_ai_operation_name: 'plan' };
    expect(metricValue(m, METRICS.invocations, { ...base, outcome: 'success' })).toBe(1);
    expect(metricValue(m, `${METRICS.operationDuration}_count`, { ...base, gen_ai_request_model: 'gpt-4o' })).toBe(1);
    expect(metricValue(m, `${METRICS.operationDuration}_sum`, { ...base, gen_ai_request_model: 'gpt-4o' })).toBeCloseTo(0.25, 6);
    // 0.25 s falls in the 0.32 bucket, not the 0.16 one.
    expect(metricValue(m, `${METRICS.operationDuration}_bucket`, { ...base, gen_ai_request_model: 'gpt-4o', le: '0.16' })).toBe(0);
    expect(metricValue(m, `${METRICS.operationDuration}_bucket`, { ...base, gen_ai_request_model: 'gpt-4o', le: '0.32' })).toBe(1);
    expect(metricValue(m, `${METRICS.tokenUsage}_sum`, { ...base, gen_ai_request_model: 'gpt-4o', gen_ai_token_type: 'input' })).toBe(1200);
    expect(metricValue(m, `${METRICS.tokenUsage}_sum`, { ...base, gen_ai_request_model: 'gpt-4o', gen_ai_token_type: 'output' })).toBe(300);
  });

  test('a batch is recorded; failures are counted by error type; stats quantiles are within 1% of exact', async () => {
    const durations: number[] = [];
    const batch = [];
    for (let i = 1; i <= 1000; i++) {
      const d = i * 3; // 3 ms .. 3 s, uniform
      durations.push(d);
      const fail = i % 10 === 0;
      batch.push({
        agent: 'researcher',
        operation: i % 2 ? 'search' : 'summarize',
        durationMs: d,
        success: !fail,
        ...(fail ? { errorType: i % 20 === 0 ? 'RateLimitError' : 'timeout' } : {}),
      });
    }
    const res = await postJson(`${sc.apiUrl}${SIDECAR_PATHS.executions}`, batch);
    expect(res.status).toBe(202);
    expect(await res.json()).toEqual({ accepted: 1000 });

    const stats = await (await fetch(`${sc.apiUrl}${SIDECAR_PATHS.stats}`)).json();
    const r = stats.agents.find((a: any) => a.agent === 'researcher');
    expect(r.taskCount).toBe(1000);
    expect(r.successCount).toBe(900);
    expect(r.failureRate).toBeCloseTo(0.1, 6);
    expect(r.latencyMs.min).toBe(3);
    expect(r.latencyMs.max).toBe(3000);
    expect(r.latencyMs.avg).toBeCloseTo(1501.5, 3);
    const sorted = [...durations].sort((a, b) => a - b);
    for (const [q, key] of [[0.5, 'p50'], [0.95, 'p95'], [0.99, 'p99']] as const) {
      const exact = sorted[Math.ceil(q * sorted.length) - 1];
      expect(Math.abs(r.latencyMs[key] - exact) / exact).toBeLessThanOrEqual(0.011);
    }
    expect(r.topErrors).toEqual([
      { errorType: 'RateLimitError', count: 50 },
      { errorType: 'timeout', count: 50 },
    ]);
    expect(r.operations).toEqual([
      { operation: 'search', count: 500 },
      { operation: 'summarize', count: 500 },
    ]);
    expect(stats.quantiles).toEqual({ method: 'DDSketch', relativeAccuracy: 0.01 });
    expect(stats.uptimeSeconds).toBeGreaterThan(0);
    expect(stats.totals.taskCount).toBeGreaterThanOrEqual(1001);
    // planner: 1 fast success; researcher: 90% success, slower: planner ranks first.
    expect(stats.ranking[0].agent).toBe('planner');
    expect(stats.ranking.map((x: any) => x.rank)).toEqual(stats.ranking.map((_: any, i: number) => i + 1));

    const m = parseMetrics(await (await fetch(`${sc.metricsUrl}/metrics`)).text());
    const base = { gen_ai_agent_name: 'researcher', gen_ai_operation_name: 'summarize' };
    expect(metricValue(m, METRICS.errors, { ...base, error_type: 'RateLimitError' })).toBe(50);
    // Every failure has an even index, so all 100 are summarize's.
    expect(metricValue(m, METRICS.invocations, { ...base, outcome: 'error' })).toBe(100);
    expect(metricValue(m, METRICS.invocations, { ...base, outcome: 'success' })).toBe(400);
    expect(metricValue(m, METRICS.invocations, { ...base, gen_ai_operation_name: 'search', outcome: 'error' })).toBeUndefined();
    expect(metricValue(m, `${METRICS.operationDuration}_count`, { ...base, error_type: 'timeout' })).toBe(50);
    expect(metricValue(m, `${METRICS.operationDuration}_count`, { ...base, error_type: 'RateLimitError' })).toBe(50);
  });

  test('a failure without errorType is reported as _OTHER', async () => {
    await postJson(`${sc.apiUrl}${SIDECAR_PATHS.executions}`, { agent: 'coder', operation: 'run', durationMs: 1, success: false });
    const m = parseMetrics(await (await fetch(`${sc.metricsUrl}/metrics`)).text());
    expect(metricValue(m, METRICS.errors, { gen_ai_agent_name: 'coder', gen_ai_operation_name: 'run', error_type: '_OTHER' })).toBe(1);
  });
});

describe('in-flight gauge', () => {
  test('deltas add up, never go below zero, and an absolute value can be set', async () => {
    const url = `${sc.apiUrl}${SIDECAR_PATHS.inflight}`;
    expect(await (await postJson(url, { agent: 'writer', delta: 1 })).json()).toEqual({ agent: 'writer', inflight: 1 });
    await postJson(url, { agent: 'writer', delta: 1 });
    await postJson(url, { agent: 'writer', delta: -1 });
    let m = parseMetrics(await (await fetch(`${sc.metricsUrl}/metrics`)).text());
    expect(metricValue(m, METRICS.inflight, { gen_ai_agent_name: 'writer' })).toBe(1);
    await postJson(url, { agent: 'writer', delta: -5 });
    m = parseMetrics(await (await fetch(`${sc.metricsUrl}/metrics`)).text());
    expect(metricValue(m, METRICS.inflight, { gen_ai_agent_name: 'writer' })).toBe(0);
    expect(await (await postJson(url, { agent: 'writer', value: 7 })).json()).toEqual({ agent: 'writer', inflight: 7 });
    expect(await (await postJson(url, { delta: 1 })).json()).toEqual({ agent: 'planner', inflight: 1 });
    const bad = await postJson(url, { agent: 'writer', delta: 'one' });
    expect(bad.status).toBe(400);
    const both = await postJson(url, { delta: 1, value: 2 });
    expect(both.status).toBe(400);
  });
});

describe('cache', () => {
  const cacheUrl = (ns: string, key: string, q = '') => `${sc.apiUrl}/v1/cache/${ns}/${encodeURIComponent(key)}${q}`;

  test('PUT then GET returns the same bytes and content type; DELETE removes it', async () => {
    const value = Buffer.from([0, 1, 2, 0xff, 0xfe, 0x80, 0x41]);
    const put = await fetch(cacheUrl('bin', 'k/with/slashes?and=query'), { method: 'PUT', body: value, headers: { 'content-type': 'application/x-test' } });
    expect(put.status).toBe(204);
    const get = await fetch(cacheUrl('bin', 'k/with/slashes?and=query'));
    expect(get.status).toBe(200);
    expect(get.headers.get('content-type')).toBe('application/x-test');
    expect(get.headers.get('x-cache')).toBe('hit; tier=local');
    expect(Buffer.from(await get.arrayBuffer())).toEqual(value);

    const utf8 = JSON.stringify({ text: 'héllo → 世界' });
    await fetch(cacheUrl('json', 'u'), { method: 'PUT', body: utf8, headers: { 'content-type': 'application/json' } });
    expect(await (await fetch(cacheUrl('json', 'u'))).text()).toBe(utf8);

    const del = await fetch(cacheUrl('bin', 'k/with/slashes?and=query'), { method: 'DELETE' });
    expect(await del.json()).toEqual({ deleted: true });
    const miss = await fetch(cacheUrl('bin', 'k/with/slashes?and=query'));
    expect(miss.status).toBe(404);
    expect(miss.headers.get('x-cache')).toBe('miss');
    expect((await miss.json()).error.code).toBe('cache_miss');
  });

  test('entries expire after their ?ttl=', async () => {
    await fetch(cacheUrl('ttl', 'short', '?ttl=1'), { method: 'PUT', body: 'a' });
    await fetch(cacheUrl('ttl', 'long', '?ttl=60'), { method: 'PUT', body: 'b' });
    expect((await fetch(cacheUrl('ttl', 'short'))).status).toBe(200);
    await sleep(1200);
    expect((await fetch(cacheUrl('ttl', 'short'))).status).toBe(404);
    expect((await fetch(cacheUrl('ttl', 'long'))).status).toBe(200);
    const stats = await (await fetch(`${sc.apiUrl}${SIDECAR_PATHS.cacheStats}`)).json();
    expect(stats.evictions.ttl).toBeGreaterThanOrEqual(1);
  });

  test('bad TTLs, namespaces and keys are 400s', async () => {
    for (const q of ['?ttl=0', '?ttl=-3', '?ttl=abc', '?ttl=1.5', '?ttl=999999999']) {
      const res = await fetch(cacheUrl('ns', 'k', q), { method: 'PUT', body: 'x' });
      expect(res.status).toBe(400);
      expect((await res.json()).error.code).toBe('invalid_ttl');
    }
    const badNs = await fetch(`${sc.apiUrl}/v1/cache/bad%20ns/k`, { method: 'PUT', body: 'x' });
    expect(badNs.status).toBe(400);
    expect((await badNs.json()).error.code).toBe('invalid_namespace');
    const longKey = await fetch(cacheUrl('ns', 'k'.repeat(600)), { method: 'PUT', body: 'x' });
    expect(longKey.status).toBe(400);
    const badEnc = await fetch(`${sc.apiUrl}/v1/cache/ns/%E0%A4%A`, { method: 'GET' });
    expect(badEnc.status).toBe(400);
    const post = await fetch(cacheUrl('ns', 'k'), { method: 'POST', body: 'x' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toContain('PUT');
  });

  test('LRU: entry cap evicts the least recently used; stats and metrics count it', async () => {
    // Cap is 50 entries: fill 50, touch the first, add 10 more.
    await fetch(`${sc.apiUrl}/v1/cache/lru`, { method: 'DELETE' });
    for (let i = 0; i < 50; i++) await fetch(cacheUrl('lru', `k${i}`), { method: 'PUT', body: `v${i}` });
    expect((await fetch(cacheUrl('lru', 'k0'))).status).toBe(200);
    for (let i = 50; i < 60; i++) await fetch(cacheUrl('lru', `k${i}`), { method: 'PUT', body: `v${i}` });
    expect((await fetch(cacheUrl('lru', 'k0'))).status).toBe(200);
    expect((await fetch(cacheUrl('lru', 'k1'))).status).toBe(404);
    const stats = await (await fetch(`${sc.apiUrl}${SIDECAR_PATHS.cacheStats}`)).json();
    expect(stats.size).toBeLessThanOrEqual(50);
    expect(stats.evictions.capacity).toBeGreaterThanOrEqual(10);
    expect(stats.hits).toBeGreaterThan(0);
    expect(stats.misses).toBeGreaterThan(0);
    expect(stats.hitRate).toBeCloseTo(stats.hits / (stats.hits + stats.misses), 3);
    const m = parseMetrics(await (await fetch(`${sc.metricsUrl}/metrics`)).text());
    expect(metricValue(m, METRICS.cacheEvictions, { reason: 'capacity' })).toBe(stats.evictions.capacity);
    expect(metricValue(m, METRICS.cacheEntries, {})).toBe(stats.size);
    expect(metricValue(m, METRICS.cacheRequests, { result: 'hit', tier: 'local' })).toBe(stats.hits);
    expect(metricValue(m, METRICS.cacheRequests, { result: 'miss', tier: 'local' })).toBe(stats.misses);
    expect(metricValue(m, METRICS.cacheRedisUp, {})).toBe(0);
  });

  test('LRU: the byte cap holds; a value larger than --cache-max-value-bytes is a 413', async () => {
    // 20000 bytes total: 30 values of 1000 bytes cannot all stay.
    for (let i = 0; i < 30; i++) await fetch(cacheUrl('bytes', `b${i}`), { method: 'PUT', body: 'x'.repeat(1000) });
    const stats = await (await fetch(`${sc.apiUrl}${SIDECAR_PATHS.cacheStats}`)).json();
    expect(stats.bytes).toBeLessThanOrEqual(20000);
    expect((await fetch(cacheUrl('bytes', 'b29'))).status).toBe(200);
    expect((await fetch(cacheUrl('bytes', 'b0'))).status).toBe(404);
    const big = await fetch(cacheUrl('bytes', 'big'), { method: 'PUT', body: 'x'.repeat(5001) });
    expect(big.status).toBe(413);
    expect((await big.json()).error.code).toBe('payload_too_large');
  });

  test('DELETE /v1/cache/{namespace} clears only that namespace', async () => {
    await fetch(cacheUrl('a', '1'), { method: 'PUT', body: '1' });
    await fetch(cacheUrl('a', '2'), { method: 'PUT', body: '2' });
    await fetch(cacheUrl('b', '1'), { method: 'PUT', body: '1' });
    const res = await fetch(`${sc.apiUrl}/v1/cache/a`, { method: 'DELETE' });
    expect(await res.json()).toEqual({ namespace: 'a', deleted: 2 });
    expect((await fetch(cacheUrl('a', '1'))).status).toBe(404);
    expect((await fetch(cacheUrl('b', '1'))).status).toBe(200);
  });
});
