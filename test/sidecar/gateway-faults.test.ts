/**
 * Provider faults through the gateway, against the real sidecar process and fake providers on
 * loopback: the agent gets the provider's status or a clear gateway error, the metrics say what
 * happened, nothing from a failed or partial call is cached, memory stays bounded.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { LABELS, METRICS } from '../../sidecar/contract';
import { describeWithBinary, freePort, SidecarProcess, startSidecar, tempDir, waitFor } from '../support/servers';
import { FakeProvider, sleep, startFakeProvider } from './fake-providers';
import { metricValue, scrape } from './helpers';

let openai: FakeProvider;
let anthropic: FakeProvider;
let sc: SidecarProcess;

beforeAll(async () => {
  openai = await startFakeProvider('openai');
  anthropic = await startFakeProvider('anthropic');
  const dead = await freePort();
  sc = await startSidecar([
    '--provider', `openai=${openai.url}`,
    '--provider', `anthropic=${anthropic.url}`,
    '--provider', `down=http://127.0.0.1:${dead}`,
    '--provider-cache', 'openai=60',
    '--provider-cache', 'anthropic=60',
    '--provider-timeout-ms', '800',
  ]);
});

afterAll(async () => {
  await sc?.stop();
  await openai?.close();
  await anthropic?.close();
});

beforeEach(() => {
  openai.handler = undefined;
  anthropic.handler = undefined;
});

afterEach(async () => {
  expect(sc.child.exitCode).toBeNull();
  expect((await fetch(`${sc.metricsUrl}/healthz`)).status).toBe(200);
});

const post = (provider: string, p: string, body: object, headers: Record<string, string> = {}) =>
  fetch(`${sc.apiUrl}/v1/providers/${provider}${p}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });

const durationCount = async (provider: string, errorType: string, model: string, responseModel?: string): Promise<number> => {
  const s = await scrape(sc.metricsUrl);
  return metricValue(s, `${METRICS.operationDuration}_count`, {
    [LABELS.agentName]: 'agent', [LABELS.operationName]: 'chat', [LABELS.providerName]: provider, [LABELS.requestModel]: model, [LABELS.errorType]: errorType,
    ...(responseModel ? { [LABELS.responseModel]: responseModel } : {}),
  }) ?? 0;
};

const missing = async (provider: string, reason: string) =>
  metricValue(await scrape(sc.metricsUrl), METRICS.gatewayUsageMissing, { [LABELS.agentName]: 'agent', [LABELS.providerName]: provider, [LABELS.reason]: reason }) ?? 0;

/** Reads a streamed body to its end or its failure. */
async function drain(res: Response): Promise<{ text: string; failed: boolean }> {
  const reader = res.body!.getReader();
  let text = '';
  try {
    for (;;) {
      const r = await reader.read();
      if (r.done) return { text, failed: false };
      text += Buffer.from(r.value).toString();
    }
  } catch {
    return { text, failed: true };
  }
}

test('provider down: 502 provider_unreachable, error_type unreachable', async () => {
  const res = await post('down', '/v1/chat/completions', { model: 'm-down', messages: [] });
  expect(res.status).toBe(502);
  const body = await res.json();
  expect(body.error.code).toBe('provider_unreachable');
  expect(body.error.message).toMatch(/ECONNREFUSED/);
  expect(await durationCount('down', 'unreachable', 'm-down')).toBe(1);
});

test('provider slow to answer: 504 provider_timeout after --provider-timeout-ms', async () => {
  openai.handler = async (_req, res) => {
    await sleep(3000);
    if (!res.destroyed) res.end('{}');
  };
  const t0 = Date.now();
  const res = await post('openai', '/v1/chat/completions', { model: 'm-slow', messages: [] });
  expect(res.status).toBe(504);
  expect((await res.json()).error.code).toBe('provider_timeout');
  expect(Date.now() - t0).toBeLessThan(2800);
  expect(await durationCount('openai', 'timeout', 'm-slow')).toBe(1);
});

test('provider stalls mid-stream: the agent connection is cut, error_type timeout, nothing cached', async () => {
  openai.handler = async (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write('data: {"model":"m-stall","choices":[{"delta":{"content":"a"}}]}\n\n');
    await sleep(3000);
    if (!res.destroyed) res.end('data: [DONE]\n\n');
  };
  const body = { model: 'm-stall', temperature: 0, stream: true, messages: [] };
  const { text, failed } = await drain(await post('openai', '/v1/chat/completions', body));
  expect(text).toContain('"content":"a"');
  expect(failed).toBe(true);
  expect(await durationCount('openai', 'timeout', 'm-stall')).toBe(1);
  openai.handler = undefined;
  // Read the answer to its end: an unread stream would finish (and count its usage) during a later test.
  const again = await post('openai', '/v1/chat/completions', body);
  expect(again.headers.get('x-sidecar-cache')).toBe('miss');
  await again.text();
});

test.each([429, 500, 503])('provider %i is passed back with its body and headers', async (status) => {
  openai.handler = (_req, res) => {
    res.writeHead(status, { 'content-type': 'application/json', 'x-request-id': 'req-9', ...(status === 429 ? { 'retry-after': '7' } : {}) });
    res.end(JSON.stringify({ error: { message: `status ${status}`, type: 'server_error' } }));
  };
  const res = await post('openai', '/v1/chat/completions', { model: `m-${status}`, messages: [] });
  expect(res.status).toBe(status);
  expect(res.headers.get('x-request-id')).toBe('req-9');
  if (status === 429) expect(res.headers.get('retry-after')).toBe('7');
  expect((await res.json()).error.message).toBe(`status ${status}`);
  expect(await durationCount('openai', String(status), `m-${status}`)).toBe(1);
});

test('connection reset mid-stream: broken stream for the agent, error_type reset, nothing cached', async () => {
  anthropic.handler = async (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write('event: message_start\ndata: {"type":"message_start","message":{"model":"c-reset","usage":{"input_tokens":5,"output_tokens":1}}}\n\n');
    await sleep(50);
    res.socket?.destroy();
  };
  const body = { model: 'c-reset', temperature: 0, stream: true, max_tokens: 5, messages: [] };
  const { text, failed } = await drain(await post('anthropic', '/v1/messages', body));
  expect(text).toContain('message_start');
  expect(failed).toBe(true);
  expect(await durationCount('anthropic', 'reset', 'c-reset')).toBe(1);
  anthropic.handler = undefined;
  const before = anthropic.received.length;
  const again = await post('anthropic', '/v1/messages', body);
  expect(again.headers.get('x-sidecar-cache')).toBe('miss');
  await again.text();
  expect(anthropic.received.length).toBe(before + 1);
});

test('a stream that ends without its final event is "incomplete" and not cached', async () => {
  openai.handler = (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.end('data: {"model":"m-inc","choices":[{"delta":{"content":"a"}}]}\n\n');
  };
  const body = { model: 'm-inc', temperature: 0, stream: true, messages: [] };
  await (await post('openai', '/v1/chat/completions', body)).text();
  expect(await durationCount('openai', 'incomplete', 'm-inc', 'm-inc')).toBe(1);
  openai.handler = undefined;
  // Read the answer to its end: an unread stream would finish (and count its usage) during a later test.
  const again = await post('openai', '/v1/chat/completions', body);
  expect(again.headers.get('x-sidecar-cache')).toBe('miss');
  await again.text();
});

test('an error event inside an Anthropic stream is error_type stream_error', async () => {
  anthropic.handler = (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.end('event: message_start\ndata: {"type":"message_start","message":{"model":"c-err","usage":{"input_tokens":5,"output_tokens":1}}}\n\nevent: error\ndata: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}\n\n');
  };
  const text = await (await post('anthropic', '/v1/messages', { model: 'c-err', stream: true, max_tokens: 5, messages: [] })).text();
  expect(text).toContain('overloaded_error');
  expect(await durationCount('anthropic', 'stream_error', 'c-err', 'c-err')).toBe(1);
});

test('malformed JSON and SSE pass through unchanged, are counted and never cached', async () => {
  openai.handler = (req, res) => {
    const sse = req.url!.includes('stream');
    res.writeHead(200, { 'content-type': sse ? 'text/event-stream' : 'application/json' });
    res.end(sse ? 'data: {"model": "m-bad", "usage": {oops\n\ndata: [DONE]\n\n' : '{"model": "m-bad", "usage": ');
  };
  const before = await missing('openai', 'malformed');
  const body = { model: 'm-bad', temperature: 0, messages: [] };
  const r1 = await post('openai', '/v1/chat/completions', body);
  expect(r1.status).toBe(200);
  expect(await r1.text()).toBe('{"model": "m-bad", "usage": ');
  const r2 = await post('openai', '/v1/chat/completions?stream', { ...body, stream: true });
  expect(await r2.text()).toContain('{oops');
  expect(await missing('openai', 'malformed')).toBe(before + 2);
  const n = openai.received.length;
  await (await post('openai', '/v1/chat/completions', body)).text();
  await (await post('openai', '/v1/chat/completions?stream', { ...body, stream: true })).text();
  expect(openai.received.length).toBe(n + 2);
});

test('an answer without usage is counted as usage missing (streams without include_usage too)', async () => {
  openai.handler = (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{"model":"m-nousage","choices":[]}');
  };
  const before = await missing('openai', 'absent');
  await (await post('openai', '/v1/chat/completions', { model: 'm-nousage', messages: [] })).text();
  openai.handler = undefined;
  // This sidecar runs without --provider-stream-usage: the fake sends no usage chunk.
  const text = await (await post('openai', '/v1/chat/completions', { model: 'm-nousage', stream: true, messages: [] })).text();
  expect(text).not.toContain('"usage"');
  expect(await missing('openai', 'absent')).toBe(before + 2);
});

test('a huge answer streams through in full with bounded sidecar memory', async () => {
  const total = 192 * 1024 * 1024;
  const piece = Buffer.alloc(64 * 1024, 'a');
  openai.handler = async (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': total });
    const head = '{"model":"m-huge","x":"';
    res.write(head);
    let sent = head.length;
    while (sent + piece.length < total) {
      if (!res.write(piece)) await new Promise((r) => res.once('drain', r));
      sent += piece.length;
    }
    res.end(`${'a'.repeat(total - sent - 2)}"}`);
  };
  const rssBefore = sc.rssBytes();
  const res = await post('openai', '/v1/chat/completions', { model: 'm-huge', temperature: 0, messages: [] });
  const reader = res.body!.getReader();
  let received = 0;
  let peak = 0;
  for (;;) {
    const r = await reader.read();
    if (r.done) break;
    received += r.value.length;
    if (received % (8 * 1024 * 1024) < r.value.length) peak = Math.max(peak, sc.rssBytes());
  }
  expect(received).toBe(total);
  // 192 MiB went through; the sidecar holds the 8 MiB usage capture, socket buffers and garbage until GC.
  expect(peak - rssBefore).toBeLessThan(64 * 1024 * 1024);
  expect(await missing('openai', 'too_large')).toBeGreaterThanOrEqual(1);
});

test('a client that disconnects mid-stream aborts the provider call', async () => {
  openai.chunkDelayMs = 300;
  const abortedBefore = openai.aborted;
  // Two ways to go away: cancel the body once the head arrived, abort after the first chunk.
  const res = await post('openai', '/v1/chat/completions', { model: 'm-gone', temperature: 0, stream: true, messages: [] }, {});
  await res.body?.cancel();
  const ctrl = new AbortController();
  const res2 = await fetch(`${sc.apiUrl}/v1/providers/openai/v1/chat/completions`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, signal: ctrl.signal,
    body: JSON.stringify({ model: 'm-gone', temperature: 0, stream: true, messages: [] }),
  });
  const reader = res2.body!.getReader();
  await reader.read();
  ctrl.abort();
  await waitFor(() => openai.aborted >= abortedBefore + 2, { timeoutMs: 5000, what: 'the provider call to be aborted' });
  await waitFor(async () => (await durationCount('openai', 'client_closed', 'm-gone')) === 2, { timeoutMs: 5000, what: 'client_closed metric' });
  openai.chunkDelayMs = 5;
  // Neither partial stream was cached.
  const again = await post('openai', '/v1/chat/completions', { model: 'm-gone', temperature: 0, stream: true, messages: [] });
  expect(again.headers.get('x-sidecar-cache')).toBe('miss');
  await again.text();
});

describeWithBinary('openssl', 'TLS to the provider', () => {
  let dir: string;
  let tlsFake: FakeProvider;
  let trusting: SidecarProcess | undefined;
  let plain: SidecarProcess | undefined;

  beforeAll(async () => {
    dir = tempDir('gateway-tls');
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1',
      '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', path.join(dir, 'key.pem'), '-out', path.join(dir, 'cert.pem'),
    ], { stdio: 'ignore' });
    tlsFake = await startFakeProvider('openai', { key: fs.readFileSync(path.join(dir, 'key.pem'), 'utf8'), cert: fs.readFileSync(path.join(dir, 'cert.pem'), 'utf8') });
  });

  afterAll(async () => {
    await plain?.stop();
    await trusting?.stop();
    await tlsFake?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('a self-signed provider certificate is rejected by default verification: 502 provider_tls_error', async () => {
    plain = await startSidecar(['--provider', `selfsigned=${tlsFake.url}`]);
    const res = await fetch(`${plain.apiUrl}/v1/providers/selfsigned/v1/chat/completions`, { method: 'POST', body: JSON.stringify({ model: 'm-tls', messages: [] }) });
    expect(res.status).toBe(502);
    const body = await res.json();
    expect(body.error.code).toBe('provider_tls_error');
    expect(body.error.message).toMatch(/SELF_SIGNED|certificate/i);
    expect(tlsFake.received.length).toBe(0);
    const s = await scrape(plain.metricsUrl);
    expect(metricValue(s, `${METRICS.operationDuration}_count`, {
      [LABELS.agentName]: 'agent', [LABELS.operationName]: 'chat', [LABELS.providerName]: 'selfsigned', [LABELS.requestModel]: 'm-tls', [LABELS.errorType]: 'tls',
    })).toBe(1);
  });

  test('the same provider works once its CA is trusted (verification stays on)', async () => {
    trusting = await startSidecar(['--provider', `selfsigned=${tlsFake.url}`], { NODE_EXTRA_CA_CERTS: path.join(dir, 'cert.pem') });
    const res = await fetch(`${trusting.apiUrl}/v1/providers/selfsigned/v1/chat/completions`, { method: 'POST', body: JSON.stringify({ model: 'm-tls', messages: [] }) });
    expect(res.status).toBe(200);
    expect((await res.json()).usage.prompt_tokens).toBe(11);
  });
});
