/**
 * The defects of issue 12 against the real sidecar process: each case failed before its fix.
 */
import * as http from 'node:http';
import * as net from 'node:net';
import { METRICS, SIDECAR_PATHS } from '../../sidecar/contract';
import { SidecarProcess, sleep, startSidecar, waitFor } from '../support/servers';
import { metricValue, parseMetrics, postJson, rawRequest } from './helpers';

const MiB = 1024 * 1024;
let sc: SidecarProcess;

beforeAll(async () => {
  sc = await startSidecar(['--request-timeout-ms', '600', '--cache-max-value-bytes', String(4 * MiB), '--cache-max-bytes', String(32 * MiB)]);
});
afterAll(async () => {
  await sc?.stop();
});

/** A raw connection that stays open after the server's FIN (as a hostile client would). */
function holdOpen(port: number, data: string | Buffer): { sock: net.Socket; text: () => string; closed: () => boolean } {
  const sock = net.connect({ host: '127.0.0.1', port, allowHalfOpen: true });
  let text = '';
  let closed = false;
  sock.on('data', (d) => (text += d.toString('latin1')));
  sock.on('close', () => (closed = true));
  sock.on('error', () => undefined);
  sock.on('connect', () => sock.write(data));
  return { sock, text: () => text, closed: () => closed };
}

/** GET on a fresh connection (no keep-alive pool), like the kubelet's probes. */
function probe(port: number, path: string): Promise<number> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path, agent: false, timeout: 2000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(0));
  });
}

test('a 408 for a stalled upload gives its body budget back at once', async () => {
  // Its own sidecar with a 3 s request timeout: long enough that the budget-full window is seen on a
  // loaded machine, far below the 60 s socket timeout that used to hold the budget.
  const sc = await startSidecar(['--request-timeout-ms', '3000', '--cache-max-value-bytes', String(4 * MiB), '--cache-max-bytes', String(32 * MiB)]);
  // Four uploads that stop just short of their declared 4 MiB fill the 16 MiB body budget.
  const stalled = Array.from({ length: 4 }, (_, i) =>
    holdOpen(sc.apiPort, Buffer.concat([Buffer.from(`PUT /v1/cache/up/${i} HTTP/1.1\r\nhost: x\r\ncontent-length: ${4 * MiB}\r\n\r\n`), Buffer.alloc(4 * MiB - 4096, 0x61)])),
  );
  try {
    await waitFor(async () => (await fetch(`${sc.apiUrl}/v1/cache/up/probe`, { method: 'PUT', body: Buffer.alloc(MiB) })).status === 503, { what: 'budget full (503)', timeoutMs: 20000, intervalMs: 50 });
    await waitFor(() => stalled.every((s) => s.text().startsWith('HTTP/1.1 408')), { what: 'four 408s', timeoutMs: 20000, intervalMs: 50 });
    // The clients keep their sockets open; their budget must be free anyway.
    const res = await fetch(`${sc.apiUrl}/v1/cache/up/after`, { method: 'PUT', body: Buffer.alloc(MiB) });
    expect(res.status).toBe(204);
    // And their sockets are gone on the sidecar's side: more bytes get a reset.
    await waitFor(
      () => {
        for (const s of stalled) if (!s.closed()) s.sock.write('x');
        return stalled.every((s) => s.closed());
      },
      { what: 'stalled sockets closed by the sidecar', timeoutMs: 20000, intervalMs: 100 },
    );
  } finally {
    for (const s of stalled) s.sock.destroy();
    await sc.stop();
  }
}, 60000);

test('valid JSON nested 10,000 deep is a 400, not a stack overflow', async () => {
  const deep = `${'['.repeat(10000)}${']'.repeat(10000)}`;
  const res = await postJson(`${sc.apiUrl}${SIDECAR_PATHS.executions}`, `{"operation":"x","durationMs":1,"success":true,"inputTokens":${deep}}`);
  expect(res.status).toBe(400);
  expect((await res.json()).error).toMatchObject({ code: 'bad_json', message: expect.stringMatching(/deeper than/) });
  // Deep but within the limit: the field error describes the value without walking it.
  const res2 = await postJson(`${sc.apiUrl}${SIDECAR_PATHS.executions}`, `{"operation":"x","durationMs":1,"success":true,"inputTokens":${'['.repeat(20)}${']'.repeat(20)}}`);
  expect(res2.status).toBe(400);
  expect((await res2.json()).error.details[0]).toMatchObject({ field: 'inputTokens', message: expect.stringMatching(/got an array/) });
});

test('a record with 80,000 unknown fields gets at most 20 error details', async () => {
  const fields = Array.from({ length: 80000 }, (_, i) => `"f${i}":1`).join(',');
  const res = await postJson(`${sc.apiUrl}${SIDECAR_PATHS.executions}`, `{"operation":"x","durationMs":1,"success":true,${fields}}`);
  expect(res.status).toBe(400);
  const text = await res.text();
  expect(text.length).toBeLessThan(10000);
  expect(JSON.parse(text).error.details).toHaveLength(20);
  const inflight = await postJson(`${sc.apiUrl}${SIDECAR_PATHS.inflight}`, `{"delta":1,${fields}}`);
  expect((await inflight.json()).error.details.length).toBeLessThanOrEqual(20);
});

test('1e400 is "not a finite number", not "must be a number, got number"', async () => {
  const res = await postJson(`${sc.apiUrl}${SIDECAR_PATHS.executions}`, '{"operation":"x","durationMs":1e400,"success":true}');
  expect(res.status).toBe(400);
  const detail = (await res.json()).error.details[0];
  expect(detail.field).toBe('durationMs');
  expect(detail.message).toMatch(/finite number/);
});

test('an upper-case Multipart content type is a 415 too', async () => {
  for (const ct of ['Multipart/form-data; boundary=x', 'MULTIPART/mixed; boundary=x']) {
    const res = await fetch(`${sc.apiUrl}${SIDECAR_PATHS.executions}`, { method: 'POST', body: '--x--', headers: { 'content-type': ct } });
    expect(res.status).toBe(415);
    expect((await res.json()).error.code).toBe('unsupported_media_type');
  }
});

test('namespace "stats" is reserved: it could be written but never cleared (DELETE /v1/cache/stats is the stats route)', async () => {
  const put = await fetch(`${sc.apiUrl}/v1/cache/stats/k`, { method: 'PUT', body: 'x' });
  expect(put.status).toBe(400);
  expect((await put.json()).error).toMatchObject({ code: 'invalid_namespace', message: expect.stringMatching(/reserved/) });
  expect((await fetch(`${sc.apiUrl}/v1/cache/stats`, { method: 'DELETE' })).status).toBe(405);
  expect((await fetch(`${sc.apiUrl}/v1/cache/stats`)).status).toBe(200);
});

test('Expect: 100-continue with a body over the limit gets 413 and no 100', async () => {
  const big = await rawRequest(sc.apiPort, [`POST ${SIDECAR_PATHS.executions} HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: ${2 * MiB}\r\nexpect: 100-continue\r\n\r\n`], { timeoutMs: 3000 });
  expect(big.text).toMatch(/^HTTP\/1\.1 413/);
  expect(big.text).not.toMatch(/100 Continue/);
  expect(JSON.parse(big.text.slice(big.text.indexOf('\r\n\r\n') + 4)).error.code).toBe('payload_too_large');
  // Within the limit: 100, then the answer once the body is sent.
  const body = JSON.stringify({ operation: 'x', durationMs: 1, success: true });
  const ok = await rawRequest(
    sc.apiPort,
    [`POST ${SIDECAR_PATHS.executions} HTTP/1.1\r\nhost: x\r\nconnection: close\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\nexpect: 100-continue\r\n\r\n`, body],
    { gapMs: 200, timeoutMs: 3000 },
  );
  expect(ok.text).toMatch(/^HTTP\/1\.1 100 Continue/);
  expect(ok.text).toMatch(/HTTP\/1\.1 202/);
});

test('an unknown Expect gets a JSON 417; CONNECT gets a JSON 405', async () => {
  const r417 = await rawRequest(sc.apiPort, [`GET ${SIDECAR_PATHS.stats} HTTP/1.1\r\nhost: x\r\nexpect: 200-ok\r\n\r\n`], { timeoutMs: 3000 });
  expect(r417.text).toMatch(/^HTTP\/1\.1 417/);
  expect(JSON.parse(r417.text.slice(r417.text.indexOf('\r\n\r\n') + 4)).error.code).toBe('expectation_failed');
  for (const port of [sc.apiPort, sc.metricsPort]) {
    const connect = await rawRequest(port, ['CONNECT example.com:443 HTTP/1.1\r\nhost: example.com:443\r\n\r\n'], { timeoutMs: 3000 });
    expect(connect.text).toMatch(/^HTTP\/1\.1 405/);
    expect(JSON.parse(connect.text.slice(connect.text.indexOf('\r\n\r\n') + 4)).error.code).toBe('method_not_allowed');
  }
});

test('1,100 idle connections on the metrics port do not starve the kubelet probes', async () => {
  const idle: net.Socket[] = [];
  try {
    for (let i = 0; i < 1100; i++) {
      const s = net.connect({ host: '127.0.0.1', port: sc.metricsPort });
      s.on('error', () => undefined);
      idle.push(s);
    }
    await Promise.all(idle.map((s) => new Promise((r) => (s.connecting ? s.once('connect', r).once('error', r) : r(undefined)))));
    await sleep(200);
    const statuses: number[] = [];
    for (let i = 0; i < 17; i++) {
      statuses.push(await probe(sc.metricsPort, i % 2 ? SIDECAR_PATHS.readyz : SIDECAR_PATHS.healthz));
      // Idle attackers reconnect as fast as they are closed.
      for (let j = 0; j < 20; j++) {
        const s = net.connect({ host: '127.0.0.1', port: sc.metricsPort });
        s.on('error', () => undefined);
        idle.push(s);
      }
    }
    expect(statuses).toEqual(Array(17).fill(200));
  } finally {
    for (const s of idle) s.destroy();
  }
});

test('/metrics size is capped by --max-series and --max-label-bytes (series x label length)', async () => {
  const m = await startSidecar([]);
  try {
    const long = (p: string, i: number) => `${p}${i}-`.padEnd(128, 'x');
    const records = Array.from({ length: 2000 }, (_, i) => ({
      agent: long('a', i % 50),
      operation: long('o', i),
      model: long('m', i),
      success: false,
      errorType: long('e', i),
      durationMs: 5,
      inputTokens: 1,
      outputTokens: 1,
    }));
    for (let i = 0; i < records.length; i += 500) expect((await postJson(`${m.apiUrl}${SIDECAR_PATHS.executions}`, records.slice(i, i + 500))).status).toBe(202);
    const text = await (await fetch(`${m.metricsUrl}/metrics`)).text();
    // Documented in docs/sidecar.md: about 60 lines x (200 B x series + label bytes); 17.5 MB before the cap.
    expect(text.length).toBeLessThan(8 * MiB);
    const samples = parseMetrics(text);
    expect(metricValue(samples, METRICS.cardinalityFolded, { label: 'series' })).toBeGreaterThan(0);
    expect(metricValue(samples, METRICS.recordsAccepted, {})).toBe(2000);
  } finally {
    await m.stop();
  }
});
