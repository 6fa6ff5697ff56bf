/**
 * Bad input and faults against the real sidecar process: every case gets a clear 4xx JSON error
 * or a bounded degradation, and the process stays up with bounded memory.
 */
import { METRICS, SIDECAR_PATHS } from '../../sidecar/contract';
import { SidecarProcess, startSidecar } from '../support/servers';
import { metricValue, postJson, rawRequest, scrape, seriesOf } from './helpers';

let sc: SidecarProcess;
const MAX_LABEL_VALUES = 10;
const MAX_SERIES = 40;

beforeAll(async () => {
  sc = await startSidecar([
    '--max-body-bytes', '65536',
    '--max-batch-size', '1000',
    '--max-label-values', String(MAX_LABEL_VALUES),
    '--max-series', String(MAX_SERIES),
    '--request-timeout-ms', '600',
    '--cache-max-bytes', String(4 * 1024 * 1024),
    '--cache-max-value-bytes', String(32 * 1024),
    '--cache-max-entries', '100000',
  ]);
});

afterAll(async () => {
  await sc?.stop();
});

afterEach(async () => {
  // Whatever a test did, the process must still be alive and healthy.
  expect(sc.child.exitCode).toBeNull();
  expect((await fetch(`${sc.metricsUrl}/healthz`)).status).toBe(200);
});

const executions = () => `${sc.apiUrl}${SIDECAR_PATHS.executions}`;
const good = { agent: 'a', operation: 'op', durationMs: 5, success: true };

async function expectError(res: Response, status: number, code: string): Promise<any> {
  expect(res.status).toBe(status);
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  const body = await res.json();
  expect(body.error.code).toBe(code);
  expect(typeof body.error.message).toBe('string');
  return body.error;
}

describe('malformed and invalid bodies', () => {
  test.each([
    ['truncated JSON', '{"operation": "x"'],
    ['not JSON', 'hello'],
    ['empty body', ''],
    ['trailing garbage', '{"operation":"x","durationMs":1,"success":true} x'],
  ])('%s -> 400 bad_json', async (_name, body) => {
    await expectError(await postJson(executions(), body), 400, 'bad_json');
  });

  test.each([
    ['null', null, '', /JSON object/],
    ['a number', 42, '', /JSON object/],
    ['missing operation', { durationMs: 1, success: true }, 'operation', /required/],
    ['missing durationMs', { operation: 'x', success: true }, 'durationMs', /required/],
    ['missing success', { operation: 'x', durationMs: 1 }, 'success', /required/],
    ['negative duration', { ...good, durationMs: -5 }, 'durationMs', />= 0/],
    ['duration as string', { ...good, durationMs: '5' }, 'durationMs', /number/],
    ['duration over a day', { ...good, durationMs: 9e9 }, 'durationMs', /one day/],
    ['success as string', { ...good, success: 'true' }, 'success', /boolean/],
    ['agent as number', { ...good, agent: 7 }, 'agent', /string/],
    ['empty operation', { ...good, operation: '' }, 'operation', /1-128/],
    ['overlong model', { ...good, model: 'm'.repeat(500) }, 'model', /1-128/],
    ['fractional tokens', { ...good, inputTokens: 1.5 }, 'inputTokens', /integer/],
    ['negative tokens', { ...good, outputTokens: -1 }, 'outputTokens', /integer/],
    ['unknown field', { ...good, duration_ms: 5 }, 'duration_ms', /not a known field/],
  ])('%s -> 400 invalid_record naming the field', async (_name, body, field, message) => {
    const err = await expectError(await postJson(executions(), body), 400, 'invalid_record');
    expect(err.details[0].field).toBe(field);
    expect(err.details[0].message).toMatch(message);
  });

  test('a batch with one bad record is refused whole, naming the index', async () => {
    const before = metricValue(await scrape(sc.metricsUrl), METRICS.recordsAccepted, {});
    const err = await expectError(await postJson(executions(), [good, good, { ...good, durationMs: -1 }, good]), 400, 'invalid_record');
    expect(err.details).toEqual([{ index: 2, field: 'durationMs', message: 'must be >= 0, got -1' }]);
    expect(err.message).toMatch(/record 2/);
    expect(metricValue(await scrape(sc.metricsUrl), METRICS.recordsAccepted, {})).toBe(before);
  });

  test('a batch of junk reports at most 20 errors', async () => {
    const err = await expectError(await postJson(executions(), new Array(500).fill({ nope: 1 })), 400, 'invalid_record');
    expect(err.details.length).toBeLessThanOrEqual(20);
  });

  test('deeply nested JSON does not crash the parser', async () => {
    await expectError(await postJson(executions(), '['.repeat(30000) + ']'.repeat(30000)), 400, 'bad_json');
  });

  test('in-flight updates are validated too', async () => {
    await expectError(await postJson(`${sc.apiUrl}${SIDECAR_PATHS.inflight}`, '{'), 400, 'bad_json');
    await expectError(await postJson(`${sc.apiUrl}${SIDECAR_PATHS.inflight}`, { delta: 1, extra: true }), 400, 'invalid_request');
  });
});

describe('size limits', () => {
  test('a body over --max-body-bytes with Content-Length -> 413 before reading it', async () => {
    const res = await postJson(executions(), 'x'.repeat(70000));
    await expectError(res, 413, 'payload_too_large');
  });

  test('a chunked body that grows past the limit -> 413 and the connection closes', async () => {
    const head = `POST ${SIDECAR_PATHS.executions} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n`;
    const chunk = `4000\r\n${'x'.repeat(0x4000)}\r\n`;
    const r = await rawRequest(sc.apiPort, [head, ...new Array(8).fill(chunk)], { timeoutMs: 5000 });
    expect(r.text).toMatch(/^HTTP\/1\.1 413/);
    expect(r.text).toContain('payload_too_large');
    expect(r.closed).toBe(true);
  });

  test('a batch over --max-batch-size -> 413 batch_too_large', async () => {
    const batch = new Array(1001).fill({ operation: 'o', durationMs: 1, success: true });
    // 1001 small records fit in 64 KiB.
    await expectError(await postJson(executions(), batch), 413, 'batch_too_large');
  });

  test('oversized headers -> 431', async () => {
    const r = await rawRequest(sc.apiPort, [`GET /v1/stats HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20000)}\r\n\r\n`]);
    expect(r.text).toMatch(/^HTTP\/1\.1 431/);
    expect(r.text).toContain('headers_too_large');
  });
});

describe('routing', () => {
  test('unknown routes are 404 JSON on both listeners; wrong methods are 405 with Allow', async () => {
    await expectError(await fetch(`${sc.apiUrl}/v2/nothing`), 404, 'not_found');
    await expectError(await fetch(`${sc.metricsUrl}/admin`), 404, 'not_found');
    const r = await fetch(executions());
    await expectError(r, 405, 'method_not_allowed');
    expect(r.headers.get('allow')).toBe('POST');
    const m = await fetch(`${sc.metricsUrl}/metrics`, { method: 'POST', body: 'x' });
    await expectError(m, 405, 'method_not_allowed');
  });
});

describe('slow clients', () => {
  test('a client that stalls mid-body gets 408 and is disconnected after --request-timeout-ms', async () => {
    const head = `POST ${SIDECAR_PATHS.executions} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"operation":`;
    const r = await rawRequest(sc.apiPort, [head], { timeoutMs: 5000 });
    expect(r.closed).toBe(true);
    expect(r.ms).toBeLessThan(3000);
    expect(r.text).toMatch(/^HTTP\/1\.1 408/);
  });

  test('a client that never finishes its headers is disconnected', async () => {
    const r = await rawRequest(sc.apiPort, ['GET /v1/stats HTTP/1.1\r\nHost: x\r\n'], { timeoutMs: 5000 });
    expect(r.closed).toBe(true);
    expect(r.ms).toBeLessThan(3000);
  });
});

describe('floods', () => {
  test('a label-cardinality flood is folded into "other": series stay bounded', async () => {
    // 5000 records, every one with new label values, in batches that fit the 64 KiB body limit.
    for (let b = 0; b < 20; b++) {
      const batch = [];
      for (let i = 0; i < 250; i++) {
        const n = b * 250 + i;
        batch.push({ agent: `agent-${n}`, operation: `op-${n}`, model: `model-${n}`, durationMs: n % 1000, success: n % 3 !== 0, errorType: `Err${n}` });
      }
      expect((await postJson(executions(), batch)).status).toBe(202);
    }
    const samples = await scrape(sc.metricsUrl);
    const agents = new Set(seriesOf(samples, METRICS.invocations).map((s) => s.labels.gen_ai_agent_name));
    expect(agents.size).toBeLessThanOrEqual(MAX_LABEL_VALUES + 1);
    expect(agents.has('other')).toBe(true);
    const durationSeries = seriesOf(samples, `${METRICS.operationDuration}_count`);
    // maxSeries combinations, plus at most one folded combination per agent value and error/model presence.
    expect(durationSeries.length).toBeLessThanOrEqual(MAX_SERIES + 4 * (MAX_LABEL_VALUES + 1));
    // Nothing is lost: every record is still counted.
    const total = seriesOf(samples, METRICS.invocations).reduce((a, s) => a + s.value, 0);
    expect(total).toBeGreaterThanOrEqual(5000);
    expect(metricValue(samples, METRICS.cardinalityFolded, { label: 'agent' })).toBeGreaterThan(4000);
    const stats = await (await fetch(`${sc.apiUrl}${SIDECAR_PATHS.stats}`)).json();
    expect(stats.agents.length).toBeLessThanOrEqual(MAX_LABEL_VALUES + 1);
    for (const a of stats.agents) expect(a.topErrors.length).toBeLessThanOrEqual(5);
  });

  test('a cache flood past the byte limit evicts; bytes and RSS stay bounded', async () => {
    const value = 'v'.repeat(16 * 1024);
    const put = (i: number) => fetch(`${sc.apiUrl}/v1/cache/flood/k${i}`, { method: 'PUT', body: value }).then((r) => r.arrayBuffer());
    // 2000 x 16 KiB = 32 MiB into a 4 MiB cache, 16 at a time.
    for (let i = 0; i < 2000; i += 16) await Promise.all(Array.from({ length: 16 }, (_, j) => put(i + j)));
    const stats = await (await fetch(`${sc.apiUrl}${SIDECAR_PATHS.cacheStats}`)).json();
    expect(stats.bytes).toBeLessThanOrEqual(4 * 1024 * 1024);
    expect(stats.evictions.capacity).toBeGreaterThan(1500);
    expect((await fetch(`${sc.apiUrl}/v1/cache/flood/k1999`)).status).toBe(200);
    const rss = sc.rssBytes()!;
    expect(rss).toBeLessThan(150 * 1024 * 1024);
  });
});

describe('rejections are visible on /metrics', () => {
  test('agent_sidecar_rejected_requests_total counts by reason', async () => {
    const samples = await scrape(sc.metricsUrl);
    expect(metricValue(samples, METRICS.requestsRejected, { reason: 'bad_json' })).toBeGreaterThan(0);
    expect(metricValue(samples, METRICS.requestsRejected, { reason: 'invalid_record' })).toBeGreaterThan(0);
    expect(metricValue(samples, METRICS.requestsRejected, { reason: 'payload_too_large' })).toBeGreaterThan(0);
    expect(metricValue(samples, METRICS.requestsRejected, { reason: 'not_found' })).toBeGreaterThan(0);
    expect(metricValue(samples, METRICS.requestsRejected, { reason: 'request_timeout' })).toBeGreaterThan(0);
    expect(metricValue(samples, METRICS.requestsRejected, { reason: 'headers_too_large' })).toBe(1);
  });
});

describe('many large bodies at once', () => {
  test('past the global body budget requests get 503 server_busy instead of growing the heap', async () => {
    // Body limit 1 MiB -> budget max(16 MiB, 4 x 1 MiB) = 16 MiB. 30 uploads of 900 KB that stall
    // before their last byte hold 27 MB if nothing refused them.
    const big = await startSidecar(['--max-body-bytes', String(1024 * 1024), '--request-timeout-ms', '3000']);
    try {
      const len = 1_000_000;
      const head = `POST ${SIDECAR_PATHS.executions} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${len}\r\n\r\n`;
      const uploads = Array.from({ length: 30 }, () => rawRequest(big.apiPort, [head, Buffer.alloc(900_000, 0x20)], { timeoutMs: 6000 }));
      const results = await Promise.all(uploads);
      const busy = results.filter((r) => /^HTTP\/1\.1 503/.test(r.text));
      expect(busy.length).toBeGreaterThan(0);
      expect(busy[0].text).toContain('server_busy');
      expect(busy[0].text.toLowerCase()).toContain('retry-after: 1');
      // The others were cut by the request timeout; nothing is left buffered.
      expect(results.every((r) => r.closed)).toBe(true);
      expect(big.rssBytes()!).toBeLessThan(200 * 1024 * 1024);
      expect((await fetch(`${big.metricsUrl}/healthz`)).status).toBe(200);
      expect(metricValue(await scrape(big.metricsUrl), METRICS.requestsRejected, { reason: 'server_busy' })).toBe(busy.length);
      // And the budget is released: a normal request still works.
      expect((await postJson(`${big.apiUrl}${SIDECAR_PATHS.executions}`, good)).status).toBe(202);
    } finally {
      await big.stop();
    }
  });
});
