/**
 * How the inbound proxy of the real sidecar process classifies response statuses: outcome and
 * error_type of the invocation (5xx and 429 are errors, other 4xx successes) and
 * agent_proxy_responses_total by status class, for the agent's answers, the proxy's own (503
 * queue full, 502 upstream failures, 400 refused requests) and websocket upgrades. Every case
 * uses its own operation name, so each count is exact.
 */
import type * as http from 'node:http';
import * as net from 'node:net';
import { LABELS, METRICS } from '../../sidecar/contract';
import { stopAll, waitFor } from '../support/servers';
import { metricValue, rawRequest, Sample, scrape, seriesOf } from './helpers';
import { ProxiedSidecar, request, startProxySidecar, startUpstream, Upstream } from './upstream';

const AGENT = { gen_ai_agent_name: 'planner' };
const op = (operation: string) => ({ ...AGENT, gen_ai_operation_name: operation });

/** Every sample of `name` for one operation, as label value (of `label`) -> value. */
function byLabel(s: Sample[], name: string, operation: string, label: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const x of seriesOf(s, name)) if (x.labels.gen_ai_operation_name === operation) out[x.labels[label]] = x.value;
  return out;
}
const outcomes = (s: Sample[], operation: string) => byLabel(s, METRICS.invocations, operation, LABELS.outcome);
const errors = (s: Sample[], operation: string) => byLabel(s, METRICS.errors, operation, LABELS.errorType);
const classes = (s: Sample[], operation: string) => byLabel(s, METRICS.proxyResponses, operation, LABELS.statusClass);

describe('inbound proxy: response status classes', () => {
  let up: Upstream;
  let sc: ProxiedSidecar;
  const held: http.ServerResponse[] = [];
  beforeAll(async () => {
    up = await startUpstream();
    up.route('/status', (req, res) => {
      const status = Number(new URL(req.url ?? '/', 'http://x').searchParams.get('s'));
      res.writeHead(status, { 'content-length': 2 });
      res.end('ab');
    });
    up.route('/hold', (_req, res) => held.push(res));
    up.route('/reset', (req) => req.socket.destroy());
    up.onUpgrade((req, socket) => {
      const status = Number(new URL(req.url ?? '/', 'http://x').searchParams.get('s') ?? '101');
      if (status === 101) {
        socket.write(`HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\n\r\n`);
        socket.on('data', () => socket.end());
        return;
      }
      socket.end(`HTTP/1.1 ${status} No\r\ncontent-length: 2\r\nconnection: close\r\n\r\nno`);
    });
    // One request at a time and no queue: a second concurrent request gets the proxy's own 503.
    sc = await startProxySidecar(up.url, ['--agent-name', 'planner', '--max-concurrency', '1', '--max-queue', '0']);
  });
  afterAll(async () => {
    for (const r of held) r.destroy();
    await stopAll(sc, up);
  });

  const call = (status: number, operation: string, method = 'GET') => request(`${sc.proxyUrl}/status?s=${status}`, { method, headers: { 'x-agent-operation': operation } });

  test('the agent\'s 5xx and 429 are errors (error_type 5xx / 429), any other 4xx, 2xx and 3xx are successes; responses are counted by class', async () => {
    const cases: [number, string][] = [
      [200, 'ok'], [204, 'ok'], [301, 'moved'], [304, 'moved'],
      [400, 'caller'], [404, 'caller'], [404, 'caller'], [422, 'caller'],
      [429, 'shed'], [429, 'shed'],
      [500, 'broken'], [503, 'broken'], [599, 'broken'],
    ];
    for (const [status, operation] of cases) expect((await call(status, operation, 'POST')).status).toBe(status);
    const s = await scrape(sc.metricsUrl);
    expect(outcomes(s, 'ok')).toEqual({ success: 2 });
    expect(classes(s, 'ok')).toEqual({ '2xx': 2 });
    expect(outcomes(s, 'moved')).toEqual({ success: 2 });
    expect(classes(s, 'moved')).toEqual({ '3xx': 2 });
    expect(outcomes(s, 'caller')).toEqual({ success: 4 });
    expect(errors(s, 'caller')).toEqual({});
    expect(classes(s, 'caller')).toEqual({ '4xx': 4 });
    expect(outcomes(s, 'shed')).toEqual({ error: 2 });
    expect(errors(s, 'shed')).toEqual({ '429': 2 });
    expect(classes(s, 'shed')).toEqual({ '4xx': 2 });
    expect(outcomes(s, 'broken')).toEqual({ error: 3 });
    expect(errors(s, 'broken')).toEqual({ '5xx': 3 });
    expect(classes(s, 'broken')).toEqual({ '5xx': 3 });
    // The duration histogram carries the same error_type.
    expect(metricValue(s, `${METRICS.operationDuration}_count`, { ...op('shed'), error_type: '429' })).toBe(2);
    expect(metricValue(s, `${METRICS.operationDuration}_count`, op('caller'))).toBe(4);
  });

  test('the proxy\'s own answers count in their class and keep their error_type; a client gone before any response is no response', async () => {
    // 502 upstream_reset: the agent drops the connection (POST: never retried).
    expect((await request(`${sc.proxyUrl}/reset`, { method: 'POST', headers: { 'x-agent-operation': 'dropped' } })).status).toBe(502);
    // 503 queue_full: the one slot is held, the queue holds nobody.
    const first = request(`${sc.proxyUrl}/hold`, { headers: { 'x-agent-operation': 'slow' } });
    await waitFor(() => held.length === 1, { what: 'the first request reached the agent' });
    const shed = await request(`${sc.proxyUrl}/status?s=200`, { headers: { 'x-agent-operation': 'queued' } });
    expect(shed.status).toBe(503);
    expect(JSON.parse(shed.body).error.code).toBe('queue_full');
    held[0].end('late');
    expect((await first).status).toBe(200);
    // The client leaves while the agent works: client_closed, and no response went out.
    const gone = net.connect(sc.proxyPort, '127.0.0.1');
    gone.on('error', () => undefined);
    gone.write('GET /hold HTTP/1.1\r\nhost: x\r\nx-agent-operation: gone\r\n\r\n');
    await waitFor(() => held.length === 2, { what: 'the second held request reached the agent' });
    gone.destroy();
    await waitFor(() => up.aborted.includes('/hold'), { what: 'the agent request was aborted' });
    // 400: a request too malformed to have an operation counts under the default one.
    const smuggle = await rawRequest(sc.proxyPort, ['POST /x HTTP/1.1\r\nhost: x\r\ncontent-length: 4\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n']);
    expect(smuggle.text).toMatch(/^HTTP\/1\.1 400 /);

    const s = await waitFor(async () => {
      const x = await scrape(sc.metricsUrl);
      return errors(x, 'gone').client_closed === 1 ? x : undefined;
    }, { what: 'client_closed counted' });
    expect(errors(s, 'dropped')).toEqual({ upstream_reset: 1 });
    expect(classes(s, 'dropped')).toEqual({ '5xx': 1 });
    expect(errors(s, 'queued')).toEqual({ queue_full: 1 });
    expect(classes(s, 'queued')).toEqual({ '5xx': 1 });
    expect(outcomes(s, 'slow')).toEqual({ success: 1 });
    expect(classes(s, 'slow')).toEqual({ '2xx': 1 });
    expect(outcomes(s, 'gone')).toEqual({ error: 1 });
    expect(classes(s, 'gone')).toEqual({});
    expect(classes(s, 'invoke_agent')).toEqual({ '4xx': 1 });
    // Unparseable requests are no invocations.
    expect(outcomes(s, 'invoke_agent')).toEqual({});
  });

  test('websocket upgrades: a 101 tunnel is 1xx and a success; a refused upgrade is classified like any response', async () => {
    const upgrade = (status: number, operation: string) =>
      rawRequest(sc.proxyPort, [
        `GET /ws?s=${status} HTTP/1.1\r\nhost: x\r\nconnection: Upgrade\r\nupgrade: websocket\r\nx-agent-operation: ${operation}\r\nsec-websocket-version: 13\r\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`,
        'bye',
      ], { gapMs: 100 });
    expect((await upgrade(101, 'ws_ok')).text).toMatch(/^HTTP\/1\.1 101 /);
    expect((await upgrade(403, 'ws_denied')).text).toMatch(/^HTTP\/1\.1 403 /);
    expect((await upgrade(429, 'ws_shed')).text).toMatch(/^HTTP\/1\.1 429 /);
    expect((await upgrade(502, 'ws_broken')).text).toMatch(/^HTTP\/1\.1 502 /);
    const s = await waitFor(async () => {
      const x = await scrape(sc.metricsUrl);
      return outcomes(x, 'ws_ok').success === 1 ? x : undefined;
    }, { what: 'the tunnel closed' });
    expect(classes(s, 'ws_ok')).toEqual({ '1xx': 1 });
    expect(outcomes(s, 'ws_denied')).toEqual({ success: 1 });
    expect(classes(s, 'ws_denied')).toEqual({ '4xx': 1 });
    expect(errors(s, 'ws_shed')).toEqual({ '429': 1 });
    expect(classes(s, 'ws_shed')).toEqual({ '4xx': 1 });
    expect(errors(s, 'ws_broken')).toEqual({ '5xx': 1 });
    expect(classes(s, 'ws_broken')).toEqual({ '5xx': 1 });
  });
});
