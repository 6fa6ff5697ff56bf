/**
 * The inbound proxy of the real sidecar process in front of a real HTTP upstream: forwarding,
 * headers, streaming both ways, metrics per request, the concurrency limit with its queue,
 * websocket pass-through, readiness, and how explicit execution records combine with it.
 */
import * as http from 'node:http';
import * as net from 'node:net';
import { METRICS, SIDECAR_PATHS } from '../../sidecar/contract';
import { stopAll, waitFor } from '../support/servers';
import { metricValue, postJson, scrape, seriesOf } from './helpers';
import { ProxiedSidecar, request, startProxySidecar, startUpstream, Upstream } from './upstream';

const AGENT = { gen_ai_agent_name: 'planner' };
const inv = (operation: string, outcome: string) => ({ ...AGENT, gen_ai_operation_name: operation, outcome });

describe('inbound proxy: forwarding and metrics', () => {
  let up: Upstream;
  let sc: ProxiedSidecar;
  beforeAll(async () => {
    up = await startUpstream();
    sc = await startProxySidecar(up.url, ['--agent-name', 'planner', '--proxy-routes', '/v1/chat=chat,/v1=v1_other', '--proxy-unmeasured-paths', '/health']);
  });
  afterAll(() => stopAll(sc, up));

  test('forwards method, path, query and body; drops hop-by-hop headers both ways; sets x-forwarded-*', async () => {
    up.route('/echo', (_req, res) => {
      res.writeHead(201, { 'content-type': 'text/plain', connection: 'x-private', 'x-private': 'secret', 'keep-alive': 'timeout=1', 'x-kept': 'yes' });
      res.end('created');
    });
    const r = await request(`${sc.proxyUrl}/echo?a=1`, {
      method: 'PUT',
      headers: { connection: 'x-hop, keep-alive', 'x-hop': 'drop me', 'keep-alive': 'timeout=3', 'proxy-authorization': 'Basic x', te: 'trailers', 'x-end': 'keep', 'x-forwarded-for': '10.1.2.3', 'x-forwarded-proto': 'https', host: 'planner.agents.svc:8080' },
      body: 'payload',
    });
    expect(r.status).toBe(201);
    expect(r.body).toBe('created');
    expect(r.headers['x-kept']).toBe('yes');
    expect(r.headers['x-private']).toBeUndefined();
    const got = up.seen.find((s) => s.url === '/echo?a=1')!;
    expect(got.method).toBe('PUT');
    expect(got.body).toBe('payload');
    expect(got.headers['x-end']).toBe('keep');
    for (const h of ['x-hop', 'keep-alive', 'proxy-authorization', 'te']) expect(got.headers[h]).toBeUndefined();
    expect(got.headers['x-forwarded-for']).toBe('10.1.2.3, 127.0.0.1');
    expect(got.headers['x-forwarded-proto']).toBe('https');
    expect(got.headers['x-forwarded-host']).toBe('planner.agents.svc:8080');
    expect(got.headers.host).toBe('planner.agents.svc:8080');
  });

  test('every request is one invocation: outcome by status, operation from header, route table or invoke_agent', async () => {
    up.route('/v1/chat/completions', (_req, res) => res.end('ok'));
    up.route('/boom', (_req, res) => {
      res.writeHead(503);
      res.end('down');
    });
    up.route('/teapot', (_req, res) => {
      res.writeHead(418);
      res.end();
    });
    const before = await scrape(sc.metricsUrl);
    const count = (s: typeof before, labels: Record<string, string>) => metricValue(s, METRICS.invocations, labels) ?? 0;
    for (let i = 0; i < 3; i++) await request(`${sc.proxyUrl}/v1/chat/completions`, { method: 'POST', body: '{}' });
    await request(`${sc.proxyUrl}/v1/other`);
    await request(`${sc.proxyUrl}/boom`);
    await request(`${sc.proxyUrl}/teapot`);
    await request(`${sc.proxyUrl}/anything`, { headers: { 'x-agent-operation': 'plan' } });
    await request(`${sc.proxyUrl}/health`); // unmeasured
    const after = await scrape(sc.metricsUrl);
    expect(count(after, inv('chat', 'success')) - count(before, inv('chat', 'success'))).toBe(3);
    expect(count(after, inv('v1_other', 'success')) - count(before, inv('v1_other', 'success'))).toBe(1);
    expect(count(after, inv('invoke_agent', 'error')) - count(before, inv('invoke_agent', 'error'))).toBe(1);
    // A 4xx other than 429 is the caller's error, not the agent's.
    expect(count(after, inv('invoke_agent', 'success')) - count(before, inv('invoke_agent', 'success'))).toBe(1);
    expect(count(after, inv('plan', 'success')) - count(before, inv('plan', 'success'))).toBe(1);
    expect(metricValue(after, METRICS.errors, { ...AGENT, gen_ai_operation_name: 'invoke_agent', error_type: '5xx' })).toBeGreaterThanOrEqual(1);
    const total = (s: typeof before) => seriesOf(s, METRICS.invocations).reduce((n, x) => n + x.value, 0);
    expect(total(after) - total(before)).toBe(7); // /health is not counted
    const responses = (s: typeof before) => seriesOf(s, METRICS.proxyResponses).reduce((n, x) => n + x.value, 0);
    expect(responses(after) - responses(before)).toBe(7);
    const chatDur = metricValue(after, `${METRICS.operationDuration}_count`, { ...AGENT, gen_ai_operation_name: 'chat' });
    expect(chatDur).toBe(3);
    expect(metricValue(after, `${METRICS.proxyTimeToFirstByte}_count`, { ...AGENT, gen_ai_operation_name: 'chat' })).toBe(3);
    expect(metricValue(after, METRICS.proxyRequestBytes, { ...AGENT, gen_ai_operation_name: 'chat' })).toBe(6);
    expect(metricValue(after, METRICS.proxyResponseBytes, { ...AGENT, gen_ai_operation_name: 'chat' })).toBe(6);
    expect(metricValue(after, METRICS.inflight, AGENT)).toBe(0);
    // /v1/stats counts the same invocations.
    const stats = await (await fetch(`${sc.apiUrl}${SIDECAR_PATHS.stats}`)).json();
    const planner = stats.agents.find((a: { agent: string }) => a.agent === 'planner');
    expect(planner.operations).toEqual(expect.arrayContaining([{ operation: 'chat', count: 3 }]));
  });

  test('random operation headers are folded by the label caps', async () => {
    const sc2 = await startProxySidecar(up.url, ['--agent-name', 'planner', '--max-label-values', '3']);
    try {
      for (let i = 0; i < 10; i++) await request(`${sc2.proxyUrl}/x`, { headers: { 'x-agent-operation': `op${i}` } });
      const s = await scrape(sc2.metricsUrl);
      const ops = new Set(seriesOf(s, METRICS.invocations).map((x) => x.labels.gen_ai_operation_name));
      expect(ops.size).toBeLessThanOrEqual(4);
      expect(ops.has('other')).toBe(true);
      expect(seriesOf(s, METRICS.invocations).reduce((n, x) => n + x.value, 0)).toBe(10);
      expect(new Set(seriesOf(s, METRICS.proxyRequestBytes).map((x) => x.labels.gen_ai_operation_name)).size).toBeLessThanOrEqual(4);
      const responses = seriesOf(s, METRICS.proxyResponses);
      expect(new Set(responses.map((x) => x.labels.gen_ai_operation_name)).size).toBeLessThanOrEqual(4);
      expect(responses.every((x) => x.labels.status_class === '2xx')).toBe(true);
      expect(responses.reduce((n, x) => n + x.value, 0)).toBe(10);
    } finally {
      await sc2.stop();
    }
  });

  test('an SSE response is forwarded chunk by chunk, not buffered', async () => {
    let next: (() => void) | undefined;
    up.route('/sse', (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      let i = 0;
      const send = () => {
        res.write(`data: ${i}\n\n`);
        if (++i === 3) res.end();
        else next = send; // the next chunk only after the client saw this one
      };
      send();
    });
    const received = await new Promise<string[]>((resolve, reject) => {
      const got: string[] = [];
      http.get(`${sc.proxyUrl}/sse`, { agent: false }, (res) => {
        expect(res.headers['content-type']).toBe('text/event-stream');
        res.setEncoding('utf8');
        res.on('data', (d: string) => {
          got.push(d);
          const n = next;
          next = undefined;
          n?.();
        });
        res.on('end', () => resolve(got));
      }).on('error', reject);
    });
    expect(received.join('')).toBe('data: 0\n\ndata: 1\n\ndata: 2\n\n');
    expect(received.length).toBe(3);
  });

  test('a request body is streamed to the agent before it is complete', async () => {
    let firstChunkAtUpstream: (c: string) => void = () => undefined;
    const firstSeen = new Promise<string>((r) => (firstChunkAtUpstream = r));
    up.route('/stream-in', (req, res) => {
      let all = '';
      req.setEncoding('utf8');
      req.on('data', (c: string) => {
        if (all === '') firstChunkAtUpstream(c);
        all += c;
      });
      req.on('end', () => res.end(`got ${all.length}`));
    });
    const done = new Promise<string>((resolve, reject) => {
      const req = http.request(`${sc.proxyUrl}/stream-in`, { method: 'POST', agent: false, headers: { 'transfer-encoding': 'chunked' } }, (res) => {
        let b = '';
        res.on('data', (c) => (b += c));
        res.on('end', () => resolve(b));
      });
      req.on('error', reject);
      req.write('first-part;');
      // The rest is only sent once the agent has the first part: a buffering proxy would deadlock here.
      void firstSeen.then(() => req.end('second-part'));
    });
    expect(await firstSeen).toBe('first-part;');
    expect(await done).toBe('got 22');
  });

  test('websocket upgrades are passed through; a refused upgrade is relayed', async () => {
    up.onUpgrade((req, socket, head) => {
      if (req.url === '/refuse') {
        socket.end('HTTP/1.1 403 Forbidden\r\ncontent-length: 2\r\nconnection: close\r\n\r\nno');
        return;
      }
      socket.write(`HTTP/1.1 101 Switching Protocols\r\nupgrade: ${req.headers.upgrade}\r\nconnection: Upgrade\r\nx-upgrade-path: ${req.url}\r\n\r\n`);
      if (head.length) socket.write(head);
      socket.on('data', (d) => socket.write(Buffer.from(d.toString().toUpperCase())));
      socket.on('end', () => socket.end());
    });
    const talk = (path: string, send: string[]) =>
      new Promise<string>((resolve) => {
        const s = net.connect(sc.proxyPort, '127.0.0.1');
        let text = '';
        s.setEncoding('utf8');
        s.on('data', (d: string) => {
          text += d;
          if (text.includes('\r\n\r\n') && send.length) s.write(send.shift()!);
          if (text.endsWith('HELLO WORLD')) s.end();
        });
        s.on('close', () => resolve(text));
        s.write(`GET ${path} HTTP/1.1\r\nhost: x\r\nconnection: Upgrade\r\nupgrade: websocket\r\nsec-websocket-version: 13\r\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`);
      });
    const echoed = await talk('/ws', ['hello world']);
    expect(echoed).toMatch(/^HTTP\/1\.1 101 /);
    expect(echoed).toContain('x-upgrade-path: /ws');
    expect(echoed.endsWith('HELLO WORLD')).toBe(true);
    const refused = await talk('/refuse', []);
    expect(refused).toMatch(/^HTTP\/1\.1 403 /);
    expect(refused.endsWith('no')).toBe(true);
    await waitFor(async () => metricValue(await scrape(sc.metricsUrl), METRICS.inflight, AGENT) === 0, { what: 'in-flight back to 0 after the tunnel closed' });
  });

  test('explicit execution records add tokens but are not counted as invocations twice', async () => {
    const before = await scrape(sc.metricsUrl);
    const res = await postJson(`${sc.apiUrl}${SIDECAR_PATHS.executions}`, { operation: 'chat', durationMs: 120, success: true, model: 'gpt-4o', inputTokens: 100, outputTokens: 20 });
    expect(res.status).toBe(202);
    const after = await scrape(sc.metricsUrl);
    const total = (s: typeof before) => seriesOf(s, METRICS.invocations).reduce((n, x) => n + x.value, 0);
    expect(total(after)).toBe(total(before));
    expect(metricValue(after, `${METRICS.tokenUsage}_sum`, { ...AGENT, gen_ai_operation_name: 'chat', gen_ai_request_model: 'gpt-4o', gen_ai_token_type: 'input' })).toBe(100);
    // The agent's own in-flight report and the proxy's count are combined by max, not added.
    await postJson(`${sc.apiUrl}${SIDECAR_PATHS.inflight}`, { delta: 2 });
    expect(metricValue(await scrape(sc.metricsUrl), METRICS.inflight, AGENT)).toBe(2);
    await postJson(`${sc.apiUrl}${SIDECAR_PATHS.inflight}`, { value: 0 });
  });
});

describe('inbound proxy: concurrency limit and queue', () => {
  let up: Upstream;
  let sc: ProxiedSidecar;
  const held: (() => void)[] = [];
  beforeAll(async () => {
    up = await startUpstream();
    up.route('/hold', (req, res) => held.push(() => res.end(req.headers['x-n'] as string)));
    sc = await startProxySidecar(up.url, ['--agent-name', 'planner', '--max-concurrency', '2', '--max-queue', '2', '--queue-timeout-ms', '1500']);
  });
  afterAll(() => stopAll(sc, up));

  test('beyond the limit requests wait in FIFO order; beyond the queue they get 503 queue_full at once', async () => {
    const results: Promise<{ status: number; body: string; headers: http.IncomingHttpHeaders }>[] = [];
    for (let n = 1; n <= 4; n++) {
      results.push(request(`${sc.proxyUrl}/hold`, { headers: { 'x-n': String(n) } }));
      // Arrival order must be the order sent.
      await waitFor(async () => (await scrape(sc.metricsUrl)).length > 0 && (n <= 2 ? held.length === n : metricValue(await scrape(sc.metricsUrl), METRICS.proxyQueued, {}) === n - 2), { what: `request ${n} admitted or queued` });
    }
    const overflow = await request(`${sc.proxyUrl}/hold`, { headers: { 'x-n': '5' } });
    expect(overflow.status).toBe(503);
    expect(overflow.headers['retry-after']).toBe('2');
    expect(JSON.parse(overflow.body)).toEqual({ error: { code: 'queue_full', message: expect.stringContaining('concurrency limit') } });
    let s = await scrape(sc.metricsUrl);
    // In flight counts the requests inside the proxy: two at the agent, two queued.
    expect(metricValue(s, METRICS.inflight, AGENT)).toBe(4);
    expect(metricValue(s, METRICS.proxyConcurrencyLimit, {})).toBe(2);
    expect(metricValue(s, METRICS.proxyRejected, { reason: 'queue_full' })).toBe(1);
    expect(metricValue(s, METRICS.errors, { ...AGENT, gen_ai_operation_name: 'invoke_agent', error_type: 'queue_full' })).toBe(1);
    // Release one at a time: the queued ones reach the agent in arrival order.
    held.shift()!();
    await waitFor(() => held.length === 2, { what: 'request 3 admitted' });
    held.shift()!();
    await waitFor(() => held.length === 2, { what: 'request 4 admitted' });
    while (held.length) held.shift()!();
    const bodies = (await Promise.all(results)).map((r) => r.body);
    expect(bodies).toEqual(['1', '2', '3', '4']);
    expect(up.seen.filter((x) => x.url === '/hold').map((x) => x.headers['x-n'])).toEqual(['1', '2', '3', '4']);
    s = await scrape(sc.metricsUrl);
    expect(metricValue(s, METRICS.inflight, AGENT)).toBe(0);
    expect(metricValue(s, METRICS.proxyQueued, {})).toBe(0);
  });

  test('a request that waits longer than --queue-timeout-ms gets 503 queue_timeout; a queued client that leaves frees its place', async () => {
    const a = request(`${sc.proxyUrl}/hold`, { headers: { 'x-n': 'a' } });
    const b = request(`${sc.proxyUrl}/hold`, { headers: { 'x-n': 'b' } });
    await waitFor(() => held.length === 2, { what: 'two holders' });
    // A client that gives up while queued.
    const gone = http.get(`${sc.proxyUrl}/hold`, { agent: false, headers: { 'x-n': 'gone' } });
    gone.on('error', () => undefined);
    await waitFor(async () => metricValue(await scrape(sc.metricsUrl), METRICS.proxyQueued, {}) === 1, { what: 'one queued' });
    gone.destroy();
    await waitFor(async () => metricValue(await scrape(sc.metricsUrl), METRICS.proxyQueued, {}) === 0, { what: 'queue empty after the client left' });
    const started = Date.now();
    const late = await request(`${sc.proxyUrl}/hold`, { headers: { 'x-n': 'late' } });
    expect(late.status).toBe(503);
    expect(JSON.parse(late.body).error.code).toBe('queue_timeout');
    expect(Date.now() - started).toBeGreaterThanOrEqual(1400);
    while (held.length) held.shift()!();
    await Promise.all([a, b]);
    const s = await scrape(sc.metricsUrl);
    expect(metricValue(s, METRICS.proxyRejected, { reason: 'queue_timeout' })).toBe(1);
    expect(metricValue(s, METRICS.errors, { ...AGENT, gen_ai_operation_name: 'invoke_agent', error_type: 'client_closed' })).toBe(1);
    expect(metricValue(s, METRICS.inflight, AGENT)).toBe(0);
    expect(up.seen.some((x) => x.headers['x-n'] === 'gone' || x.headers['x-n'] === 'late')).toBe(false);
  });
});

describe('inbound proxy: readiness follows the agent', () => {
  let up: Upstream;
  let sc: ProxiedSidecar | undefined;
  afterAll(() => stopAll(sc, up));

  test('/readyz is 503 agent_not_ready while the agent readiness path fails, 200 once it answers', async () => {
    up = await startUpstream();
    let ready = true;
    up.route('/ready', (_req, res) => {
      res.writeHead(ready ? 200 : 503);
      res.end();
    });
    sc = await startProxySidecar(up.url, ['--upstream-ready-path', '/ready', '--upstream-ready-interval-ms', '100']);
    ready = false;
    await waitFor(async () => (await fetch(`${sc!.metricsUrl}/readyz`)).status === 503, { what: 'readyz 503' });
    const body = await (await fetch(`${sc.metricsUrl}/readyz`)).json();
    expect(body).toEqual({ status: 'agent_not_ready' });
    expect(metricValue(await scrape(sc.metricsUrl), METRICS.proxyUpstreamReady, {})).toBe(0);
    ready = true;
    await waitFor(async () => (await fetch(`${sc!.metricsUrl}/readyz`)).status === 200, { what: 'readyz 200' });
    expect((await fetch(`${sc.metricsUrl}/healthz`)).status).toBe(200);
  });
});
