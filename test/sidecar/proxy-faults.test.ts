/**
 * Bad input and faults through the real sidecar's inbound proxy: dead, slow, closing and
 * malformed upstreams, smuggling attempts, oversized headers, clients leaving mid-stream, and
 * the drain on SIGTERM. Each gets a clear status and a metric; sockets, the in-flight gauge and
 * memory come back; the process never crashes.
 */
import * as http from 'node:http';
import * as net from 'node:net';
import { METRICS } from '../../sidecar/contract';
import { freePort, sleep, stopAll, waitFor } from '../support/servers';
import { metricValue, rawRequest, scrape } from './helpers';
import { openFds, ProxiedSidecar, request, startProxySidecar, startRawUpstream, startUpstream, Upstream } from './upstream';

const AGENT = { gen_ai_agent_name: 'planner' };
const errorsOf = async (sc: ProxiedSidecar, type: string) => metricValue(await scrape(sc.metricsUrl), METRICS.errors, { ...AGENT, gen_ai_operation_name: 'invoke_agent', error_type: type }) ?? 0;

describe('inbound proxy faults', () => {
  let up: Upstream;
  let sc: ProxiedSidecar;
  beforeAll(async () => {
    up = await startUpstream();
    sc = await startProxySidecar(up.url, ['--agent-name', 'planner', '--upstream-timeout-ms', '700']);
  });
  afterAll(() => stopAll(sc, up));

  test('a dead upstream: 502 upstream_refused with a JSON body', async () => {
    const dead = await startProxySidecar(`http://127.0.0.1:${await freePort()}`, ['--agent-name', 'planner']);
    try {
      const r = await request(`${dead.proxyUrl}/x`);
      expect(r.status).toBe(502);
      expect(JSON.parse(r.body).error.code).toBe('upstream_refused');
      expect(await errorsOf(dead, 'upstream_refused')).toBe(1);
    } finally {
      await dead.stop();
    }
  });

  test('a slow upstream: 504 upstream_timeout before headers; a stalled stream is cut, not ended cleanly', async () => {
    up.route('/slow', () => undefined); // never answers
    const r = await request(`${sc.proxyUrl}/slow`);
    expect(r.status).toBe(504);
    expect(JSON.parse(r.body).error.code).toBe('upstream_timeout');
    up.route('/stall', (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: 1\n\n'); // then silence
    });
    await expect(request(`${sc.proxyUrl}/stall`)).rejects.toThrow();
    expect(await errorsOf(sc, 'upstream_timeout')).toBe(2);
  });

  test('an upstream that closes mid-response: the client sees a cut stream, upstream_reset is counted', async () => {
    up.route('/cut', (req, res) => {
      res.writeHead(200, { 'content-length': '100' });
      res.write('only part');
      setTimeout(() => req.socket.destroy(), 20);
    });
    await expect(request(`${sc.proxyUrl}/cut`)).rejects.toThrow();
    await waitFor(async () => (await errorsOf(sc, 'upstream_reset')) === 1, { what: 'upstream_reset counted' });
  });

  test('malformed upstream responses: 502 upstream_malformed', async () => {
    for (const bytes of ['NOT HTTP AT ALL\r\n\r\n', 'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\nbad\r\n']) {
      const raw = await startRawUpstream((s) => s.end(bytes));
      const p = await startProxySidecar(raw.url, ['--agent-name', 'planner']);
      try {
        const r = await request(`${p.proxyUrl}/x`).catch((e: Error) => ({ status: -1, body: e.message }));
        if (r.status !== -1) {
          expect(r.status).toBe(502);
          expect(JSON.parse(r.body).error.code).toBe('upstream_malformed');
        }
        await waitFor(async () => (await errorsOf(p, 'upstream_malformed')) + (await errorsOf(p, 'upstream_reset')) === 1, { what: 'malformed counted' });
        expect((await fetch(`${p.metricsUrl}/healthz`)).status).toBe(200);
      } finally {
        await stopAll(p, raw);
      }
    }
  });

  test('smuggling attempts (Content-Length with Transfer-Encoding, two lengths) are refused and never reach the agent; oversized headers get 431', async () => {
    const seenBefore = up.seen.length;
    const both = await rawRequest(sc.proxyPort, ['POST /smuggle HTTP/1.1\r\nhost: x\r\ncontent-length: 4\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\nGET /admin HTTP/1.1\r\nhost: x\r\n\r\n']);
    expect(both.text).toMatch(/^HTTP\/1\.1 400 /);
    const twice = await rawRequest(sc.proxyPort, ['POST /smuggle HTTP/1.1\r\nhost: x\r\ncontent-length: 4\r\ncontent-length: 40\r\n\r\nabcd']);
    expect(twice.text).toMatch(/^HTTP\/1\.1 400 /);
    const big = await rawRequest(sc.proxyPort, [`GET /big HTTP/1.1\r\nhost: x\r\nx-big: ${'a'.repeat(20000)}\r\n\r\n`]);
    expect(big.text).toMatch(/^HTTP\/1\.1 431 /);
    expect(up.seen.length).toBe(seenBefore);
    const s = await scrape(sc.metricsUrl);
    expect(metricValue(s, METRICS.proxyRejected, { reason: 'bad_request' })).toBeGreaterThanOrEqual(2);
    expect(metricValue(s, METRICS.proxyRejected, { reason: 'headers_too_large' })).toBe(1);
  });

  test('clients leaving mid-stream abort the upstream request; gauge, sockets and memory come back', async () => {
    up.route('/forever', (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      const t = setInterval(() => res.write('data: tick\n\n'), 50);
      res.once('close', () => clearInterval(t));
    });
    const fdsBefore = openFds(sc.pid);
    const rssBefore = sc.rssBytes()!;
    const abortedBefore = up.aborted.length;
    for (let round = 0; round < 10; round++) {
      await Promise.all(
        Array.from({ length: 20 }, () =>
          new Promise<void>((resolve) => {
            const req = http.get(`${sc.proxyUrl}/forever`, { agent: false }, (res) => {
              res.once('data', () => {
                req.destroy();
                resolve();
              });
            });
            req.on('error', () => resolve());
          }),
        ),
      );
    }
    await waitFor(() => up.aborted.length - abortedBefore === 200, { what: 'every upstream request aborted', timeoutMs: 20000 });
    await waitFor(async () => metricValue(await scrape(sc.metricsUrl), METRICS.inflight, AGENT) === 0, { what: 'in-flight back to 0' });
    const s = await scrape(sc.metricsUrl);
    expect(metricValue(s, METRICS.proxyUpstreamSockets, { state: 'active' })).toBe(0);
    expect(metricValue(s, METRICS.errors, { ...AGENT, gen_ai_operation_name: 'invoke_agent', error_type: 'client_closed' })).toBeGreaterThanOrEqual(200);
    await sleep(300);
    expect(openFds(sc.pid)).toBeLessThan(fdsBefore + 20);
    expect(sc.rssBytes()!).toBeLessThan(rssBefore + 40 * 1024 * 1024);
    expect((await request(`${sc.proxyUrl}/ok`)).status).toBe(200);
  });
});

describe('inbound proxy connection cap', () => {
  let up: Upstream;
  let sc: ProxiedSidecar;
  afterAll(() => stopAll(sc, up));

  test('idle connections at --max-connections do not starve the probes that come through the proxy', async () => {
    up = await startUpstream();
    sc = await startProxySidecar(up.url, ['--max-connections', '50']);
    const idle: net.Socket[] = [];
    try {
      for (let i = 0; i < 80; i++) {
        const s = net.connect({ host: '127.0.0.1', port: sc.proxyPort });
        s.on('error', () => undefined);
        idle.push(s);
      }
      await Promise.all(idle.map((s) => new Promise((r) => (s.connecting ? s.once('connect', r).once('error', r) : r(undefined)))));
      await sleep(200);
      const statuses: number[] = [];
      for (let i = 0; i < 5; i++) statuses.push((await request(`${sc.proxyUrl}/health`)).status);
      expect(statuses).toEqual([200, 200, 200, 200, 200]);
    } finally {
      for (const s of idle) s.destroy();
    }
  });
});

describe('inbound proxy drain on SIGTERM', () => {
  let up: Upstream;
  afterAll(() => stopAll(up));

  test('readiness fails at once, new requests are served during the drain window, a long stream finishes, the process exits 0', async () => {
    up = await startUpstream();
    up.route('/long', (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      let i = 0;
      const t = setInterval(() => {
        res.write(`data: ${i}\n\n`);
        if (++i === 25) {
          clearInterval(t);
          res.end();
        }
      }, 100);
    });
    const sc = await startProxySidecar(up.url, ['--shutdown-delay-ms', '1000', '--shutdown-grace-ms', '8000']);
    const long = request(`${sc.proxyUrl}/long`);
    await waitFor(() => up.seen.some((s) => s.url === '/long'), { what: 'stream started' });
    sc.child.kill('SIGTERM');
    await waitFor(async () => (await fetch(`${sc.metricsUrl}/readyz`)).status === 503, { what: 'readyz 503' });
    const during = await request(`${sc.proxyUrl}/during`);
    expect(during.status).toBe(200);
    expect(during.headers.connection).toBe('close');
    const body = (await long).body;
    expect(body.match(/^data: /gm)).toHaveLength(25);
    const exit = await sc.exited;
    expect(exit.code).toBe(0);
  });

  test('a stream longer than the grace period is cut when it ends, and the process still exits 0', async () => {
    up.route('/endless', (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      const t = setInterval(() => res.write('data: x\n\n'), 100);
      res.once('close', () => clearInterval(t));
    });
    const sc = await startProxySidecar(up.url, ['--shutdown-delay-ms', '200', '--shutdown-grace-ms', '1500']);
    const endless = request(`${sc.proxyUrl}/endless`).catch((e: Error) => e);
    await waitFor(() => up.seen.some((s) => s.url === '/endless'), { what: 'stream started' });
    const started = Date.now();
    sc.child.kill('SIGTERM');
    const exit = await sc.exited;
    expect(exit.code).toBe(0);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1500);
    expect(Date.now() - started).toBeLessThan(6000);
    // The client saw its stream cut (a rejected request), not a clean end.
    expect((await endless) as { status?: number }).not.toHaveProperty('status');
  });
});
