/**
 * The model-provider gateway against the real sidecar process and fake OpenAI-compatible and
 * Anthropic servers on loopback: routing, header pass-through, usage and timing metrics from
 * JSON and SSE, streaming without buffering, the response cache, budgets and retries.
 */
import * as http from 'node:http';
import { GATEWAY_HEADERS, LABELS, METRICS } from '../../sidecar/contract';
import { SidecarProcess, startSidecar } from '../support/servers';
import { FakeProvider, openaiCompletion, startFakeProvider } from './fake-providers';
import { metricValue, Sample, scrape, seriesOf } from './helpers';

let openai: FakeProvider;
let anthropic: FakeProvider;
let sc: SidecarProcess;
const KEY = 'sk-test-SECRET-0123456789';

beforeAll(async () => {
  openai = await startFakeProvider('openai');
  anthropic = await startFakeProvider('anthropic');
  sc = await startSidecar(
    [
      '--agent-name', 'planner',
      '--provider', `openai=${openai.url}`,
      '--provider', `anthropic=${anthropic.url}`,
      '--provider', `nocache=${openai.url}/`,
      '--provider-cache', 'openai=60',
      '--provider-cache', 'anthropic=60',
      '--provider-stream-usage',
      '--max-label-values', '5',
    ],
    { SIDECAR_LOG_LEVEL: 'debug' },
  );
});

afterAll(async () => {
  await sc?.stop();
  await openai?.close();
  await anthropic?.close();
});

beforeEach(() => {
  openai.handler = undefined;
  anthropic.handler = undefined;
  openai.chunkDelayMs = 5;
});

afterEach(async () => {
  expect(sc.child.exitCode).toBeNull();
});

const gw = (provider: string, path: string) => `${sc.apiUrl}/v1/providers/${provider}${path}`;

function chat(provider: string, body: object, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(gw(provider, '/v1/chat/completions'), {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY}`, ...headers },
    body: JSON.stringify(body),
  });
}

function messages(body: object, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(gw('anthropic', '/v1/messages'), {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': KEY, 'anthropic-version': '2023-06-01', ...headers },
    body: JSON.stringify(body),
  });
}

const callLabels = (provider: string, extra: Record<string, string>) => ({
  [LABELS.agentName]: 'planner',
  [LABELS.operationName]: 'chat',
  [LABELS.providerName]: provider,
  ...extra,
});

function histCount(samples: Sample[], name: string, labels: Record<string, string>): number {
  return metricValue(samples, `${name}_count`, labels) ?? 0;
}

function histSum(samples: Sample[], name: string, labels: Record<string, string>): number {
  return metricValue(samples, `${name}_sum`, labels) ?? 0;
}

describe('routes', () => {
  test('forwards path, query, method and headers; the API key reaches the provider untouched', async () => {
    const before = openai.received.length;
    const res = await fetch(gw('openai', '/v1/embeddings?api-version=2024-01-01'), {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY}`, 'openai-organization': 'org-1', [GATEWAY_HEADERS.retry]: '0' },
      body: JSON.stringify({ model: 'text-embedding-3-small', input: 'hello' }),
    });
    expect(res.status).toBe(200);
    expect((await res.json()).data[0].embedding).toEqual([0.1, 0.2]);
    const got = openai.received[before];
    expect(got.url).toBe('/v1/embeddings?api-version=2024-01-01');
    expect(got.headers.authorization).toBe(`Bearer ${KEY}`);
    expect(got.headers['openai-organization']).toBe('org-1');
    expect(got.headers[GATEWAY_HEADERS.retry]).toBeUndefined();
    expect(got.headers.host).toBe(new URL(openai.url).host);
    expect(JSON.parse(got.body).input).toBe('hello');
    const samples = await scrape(sc.metricsUrl);
    const labels = { ...callLabels('openai', {}), [LABELS.operationName]: 'embeddings', [LABELS.requestModel]: 'text-embedding-3-small', [LABELS.responseModel]: 'text-embedding-3-small' };
    expect(histCount(samples, METRICS.operationDuration, labels)).toBe(1);
    expect(histSum(samples, METRICS.tokenUsage, { ...labels, [LABELS.tokenType]: 'input' })).toBe(8);
  });

  test('a provider URL with a trailing slash joins paths without doubling it', async () => {
    const before = openai.received.length;
    const res = await chat('nocache', { model: 'gpt-4o', messages: [], temperature: 0 });
    expect(res.status).toBe(200);
    expect(openai.received[before].url).toBe('/v1/chat/completions');
    expect(res.headers.get('x-sidecar-cache')).toBeNull();
  });

  test('an unknown provider is a 404 naming the registered ones; dot segments are refused', async () => {
    const res = await chat('mistral', { model: 'x' });
    expect(res.status).toBe(404);
    const body = await res.json();
    expect(body.error.code).toBe('unknown_provider');
    expect(body.error.message).toMatch(/openai, anthropic, nocache/);
    const dots = await fetch(gw('openai', '/v1/../admin'), { method: 'POST', body: '{}' });
    // fetch normalizes "..", so send it raw.
    expect([400, 404]).toContain(dots.status);
    const raw = await new Promise<number>((resolve, reject) => {
      // A path string, not a URL: WHATWG URL parsing would resolve %2e%2e itself.
      const r = http.request({ host: '127.0.0.1', port: sc.apiPort, path: '/v1/providers/openai/v1/%2e%2e/admin', method: 'POST' }, (res2) => {
        res2.resume();
        resolve(res2.statusCode ?? 0);
      });
      r.on('error', reject);
      r.end('{}');
    });
    expect(raw).toBe(400);
  });

  test('bad gateway headers are 400s', async () => {
    expect((await chat('openai', { model: 'm' }, { [GATEWAY_HEADERS.cache]: 'sometimes' })).status).toBe(400);
    expect((await chat('openai', { model: 'm' }, { [GATEWAY_HEADERS.retry]: '99' })).status).toBe(400);
  });

  test('the API key appears in no log line', async () => {
    await chat('openai', { model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] });
    expect(sc.logs()).not.toContain('SECRET');
  });
});

describe('usage metrics', () => {
  test('OpenAI JSON: tokens, request and response model, duration', async () => {
    const res = await chat('openai', { model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] });
    expect(res.status).toBe(200);
    expect((await res.json()).usage.prompt_tokens).toBe(11);
    const s = await scrape(sc.metricsUrl);
    const labels = callLabels('openai', { [LABELS.requestModel]: 'gpt-4o', [LABELS.responseModel]: 'gpt-4o-2024-08-06' });
    expect(histCount(s, METRICS.operationDuration, labels)).toBeGreaterThanOrEqual(1);
    const n = histCount(s, METRICS.tokenUsage, { ...labels, [LABELS.tokenType]: 'input' });
    expect(histSum(s, METRICS.tokenUsage, { ...labels, [LABELS.tokenType]: 'input' })).toBe(11 * n);
    expect(histSum(s, METRICS.tokenUsage, { ...labels, [LABELS.tokenType]: 'output' })).toBe(7 * n);
  });

  test('OpenAI SSE: chunks reach the agent as they arrive; final usage chunk, TTFC and per-chunk time', async () => {
    openai.chunkDelayMs = 150;
    const res = await chat('openai', { model: 'gpt-4o-mini', stream: true, messages: [] });
    expect(res.headers.get('content-type')).toMatch(/text\/event-stream/);
    const reader = res.body!.getReader();
    const first = await reader.read();
    // The provider is still writing its answer: the first chunk did not wait for the rest.
    expect(openai.open).toBe(1);
    expect(Buffer.from(first.value!).toString()).toContain('chat.completion.chunk');
    let text = Buffer.from(first.value!).toString();
    for (;;) {
      const r = await reader.read();
      if (r.done) break;
      text += Buffer.from(r.value).toString();
    }
    expect(text).toContain('data: [DONE]');
    // The gateway added include_usage (--provider-stream-usage), so the usage chunk is there.
    expect(text).toContain('"completion_tokens":5');
    const s = await scrape(sc.metricsUrl);
    const labels = callLabels('openai', { [LABELS.requestModel]: 'gpt-4o-mini', [LABELS.responseModel]: 'gpt-4o-mini-2024-08-06' });
    expect(histSum(s, METRICS.tokenUsage, { ...labels, [LABELS.tokenType]: 'input' })).toBe(13);
    expect(histSum(s, METRICS.tokenUsage, { ...labels, [LABELS.tokenType]: 'output' })).toBe(5);
    const ttfcLabels = callLabels('openai', { [LABELS.requestModel]: 'gpt-4o-mini' });
    expect(histCount(s, METRICS.timeToFirstChunk, ttfcLabels)).toBe(1);
    expect(histSum(s, METRICS.timeToFirstChunk, ttfcLabels)).toBeLessThan(0.6);
    // 8 data events (role, 5 words, stop, usage) + [DONE]: 8 gaps after the first.
    expect(histCount(s, METRICS.timePerOutputChunk, ttfcLabels)).toBe(8);
    expect(histSum(s, METRICS.timePerOutputChunk, ttfcLabels)).toBeGreaterThan(0.5);
  });

  test('Anthropic JSON: input tokens include cache reads', async () => {
    const res = await messages({ model: 'claude-sonnet-4-5', max_tokens: 100, messages: [{ role: 'user', content: 'hi' }] });
    expect(res.status).toBe(200);
    const received = anthropic.received[anthropic.received.length - 1];
    expect(received.headers['x-api-key']).toBe(KEY);
    expect(received.headers['anthropic-version']).toBe('2023-06-01');
    const s = await scrape(sc.metricsUrl);
    const labels = callLabels('anthropic', { [LABELS.requestModel]: 'claude-sonnet-4-5', [LABELS.responseModel]: 'claude-sonnet-4-5' });
    expect(histSum(s, METRICS.tokenUsage, { ...labels, [LABELS.tokenType]: 'input' })).toBe(25);
    expect(histSum(s, METRICS.tokenUsage, { ...labels, [LABELS.tokenType]: 'output' })).toBe(9);
  });

  test('Anthropic SSE: message_start input tokens and the last message_delta output tokens', async () => {
    const res = await messages({ model: 'claude-haiku-4-5', max_tokens: 100, stream: true, messages: [] });
    const text = await res.text();
    expect(text).toContain('event: message_stop');
    expect(anthropic.received[anthropic.received.length - 1].body).not.toContain('stream_options');
    const s = await scrape(sc.metricsUrl);
    const labels = callLabels('anthropic', { [LABELS.requestModel]: 'claude-haiku-4-5', [LABELS.responseModel]: 'claude-haiku-4-5' });
    expect(histSum(s, METRICS.tokenUsage, { ...labels, [LABELS.tokenType]: 'input' })).toBe(25);
    expect(histSum(s, METRICS.tokenUsage, { ...labels, [LABELS.tokenType]: 'output' })).toBe(15);
    expect(histCount(s, METRICS.timeToFirstChunk, callLabels('anthropic', { [LABELS.requestModel]: 'claude-haiku-4-5' }))).toBe(1);
  });

  test('models beyond --max-label-values are folded into "other"', async () => {
    for (let i = 0; i < 8; i++) await (await chat('openai', { model: `flood-${i}`, messages: [] })).text();
    const s = await scrape(sc.metricsUrl);
    const models = new Set(seriesOf(s, `${METRICS.operationDuration}_count`).map((x) => x.labels[LABELS.requestModel]).filter(Boolean));
    expect(models.size).toBeLessThanOrEqual(6);
    expect(models.has('other')).toBe(true);
  });
});

describe('response cache', () => {
  const det = { model: 'gpt-4o', temperature: 0, messages: [{ role: 'user', content: 'cache me' }] };

  test('a deterministic call is answered from cache the second time, whatever the key order or API key', async () => {
    const before = openai.received.length;
    const a = await chat('openai', det);
    expect(a.headers.get('x-sidecar-cache')).toBe('miss');
    const aBody = await a.text();
    const reordered = { messages: det.messages, temperature: 0, model: 'gpt-4o' };
    const b = await chat('openai', reordered, { authorization: 'Bearer sk-other-key' });
    expect(b.headers.get('x-sidecar-cache')).toBe('hit');
    expect(await b.text()).toBe(aBody);
    expect(openai.received.length - before).toBe(1);
    const s = await scrape(sc.metricsUrl);
    expect(metricValue(s, METRICS.gatewayCacheRequests, { [LABELS.agentName]: 'planner', [LABELS.providerName]: 'openai', [LABELS.cacheResult]: 'hit' })).toBeGreaterThanOrEqual(1);
    expect(metricValue(s, METRICS.gatewayCacheSavedTokens, { [LABELS.agentName]: 'planner', [LABELS.providerName]: 'openai', [LABELS.tokenType]: 'input' })).toBeGreaterThanOrEqual(11);
  });

  test('non-deterministic calls are not cached unless forced; bypass skips the cache', async () => {
    const body = { model: 'gpt-4o', temperature: 0.7, messages: [{ role: 'user', content: 'creative' }] };
    const before = openai.received.length;
    await (await chat('openai', body)).text();
    const again = await chat('openai', body);
    expect(again.headers.get('x-sidecar-cache')).toBeNull();
    await again.text();
    expect(openai.received.length - before).toBe(2);
    await (await chat('openai', body, { [GATEWAY_HEADERS.cache]: 'force' })).text();
    const forced = await chat('openai', body, { [GATEWAY_HEADERS.cache]: 'force' });
    expect(forced.headers.get('x-sidecar-cache')).toBe('hit');
    await forced.text();
    const bypass = await chat('openai', det, { [GATEWAY_HEADERS.cache]: 'bypass' });
    expect(bypass.headers.get('x-sidecar-cache')).toBeNull();
    await bypass.text();
  });

  test('a streamed answer is cached once complete and replayed as the same SSE stream', async () => {
    const body = { model: 'claude-haiku-4-5', max_tokens: 50, temperature: 0, stream: true, messages: [{ role: 'user', content: 'stream me' }] };
    const before = anthropic.received.length;
    const first = await messages(body);
    expect(first.headers.get('x-sidecar-cache')).toBe('miss');
    const firstText = await first.text();
    const second = await messages(body);
    expect(second.headers.get('x-sidecar-cache')).toBe('hit');
    expect(second.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(await second.text()).toBe(firstText);
    expect(anthropic.received.length - before).toBe(1);
  });

  test('an error answer is never cached', async () => {
    openai.handler = (_req, res) => {
      res.writeHead(500, { 'content-type': 'application/json' });
      res.end('{"error":{"message":"boom"}}');
    };
    const body = { model: 'gpt-4o', temperature: 0, messages: [{ role: 'user', content: 'fails' }] };
    expect((await chat('openai', body)).status).toBe(500);
    openai.handler = undefined;
    const ok = await chat('openai', body);
    expect(ok.status).toBe(200);
    expect(ok.headers.get('x-sidecar-cache')).toBe('miss');
  });
});

describe('retries, only when asked', () => {
  test('a 429 is passed back at once without the header, retried honoring Retry-After with it', async () => {
    let calls = 0;
    openai.handler = (_req, res) => {
      calls++;
      if (calls <= 2) {
        res.writeHead(429, { 'content-type': 'application/json', 'retry-after': '1' });
        res.end('{"error":{"message":"rate limited"}}');
        return;
      }
      const text = JSON.stringify(openaiCompletion('gpt-4o', 'ok'));
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(text);
    };
    const plain = await chat('openai', { model: 'gpt-4o', messages: [] });
    expect(plain.status).toBe(429);
    expect(plain.headers.get('retry-after')).toBe('1');
    expect(calls).toBe(1);
    const t0 = Date.now();
    const retried = await chat('openai', { model: 'gpt-4o', messages: [] }, { [GATEWAY_HEADERS.retry]: '2' });
    expect(retried.status).toBe(200);
    expect(calls).toBe(3);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(950);
    const s = await scrape(sc.metricsUrl);
    expect(metricValue(s, METRICS.gatewayRetries, { [LABELS.agentName]: 'planner', [LABELS.providerName]: 'openai', [LABELS.reason]: '429' })).toBe(1);
    expect(histCount(s, METRICS.operationDuration, callLabels('openai', { [LABELS.requestModel]: 'gpt-4o', [LABELS.errorType]: '429' }))).toBeGreaterThanOrEqual(1);
  });

  test('retries stop after the asked count and the last answer is passed back', async () => {
    let calls = 0;
    openai.handler = (_req, res) => {
      calls++;
      res.writeHead(503, { 'content-type': 'application/json', 'retry-after': '0' });
      res.end('{"error":{"message":"overloaded"}}');
    };
    const res = await chat('openai', { model: 'gpt-4o', messages: [] }, { [GATEWAY_HEADERS.retry]: '2' });
    expect(res.status).toBe(503);
    expect((await res.json()).error.message).toBe('overloaded');
    expect(calls).toBe(3);
  });
});

describe('budgets', () => {
  let b: SidecarProcess;
  afterAll(async () => {
    await b?.stop();
  });

  test('beyond the token budget calls get 429 + Retry-After without reaching the provider', async () => {
    b = await startSidecar(['--provider', `openai=${openai.url}`, '--max-tokens-per-minute', '30', '--max-requests-per-minute', '100']);
    const url = `${b.apiUrl}/v1/providers/openai/v1/chat/completions`;
    const call = () => fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'gpt-4o', messages: [] }) });
    // 18 tokens per call: the second call brings the minute to 36 >= 30.
    expect((await call()).status).toBe(200);
    expect((await call()).status).toBe(200);
    const before = openai.received.length;
    const refused = await call();
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(Number(refused.headers.get('retry-after'))).toBeLessThanOrEqual(60);
    expect((await refused.json()).error.code).toBe('budget_exceeded');
    expect(openai.received.length).toBe(before);
    const s = await scrape(b.metricsUrl);
    expect(metricValue(s, METRICS.gatewayBudgetRejections, { [LABELS.agentName]: 'agent', [LABELS.budget]: 'tokens' })).toBe(1);
    expect(metricValue(s, METRICS.gatewayTokensLastMinute, { [LABELS.agentName]: 'agent' })).toBe(36);
    expect(metricValue(s, METRICS.gatewayTokenBudget, { [LABELS.agentName]: 'agent' })).toBe(30);
  });
});
