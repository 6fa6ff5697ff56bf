/** Pure parts of the gateway: provider flags, SSE/JSON usage parsing, cache keys, budgets, retry waits. */
import { ConfigError, parseConfig } from '../../sidecar/config';
import { Budget } from '../../sidecar/gateway/budget';
import { cacheKey, canonicalJson, decodeEntry, encodeEntry, isDeterministic } from '../../sidecar/gateway/cache-key';
import { operationOf, resolveProviders, upstreamUrl } from '../../sidecar/gateway/providers';
import { retriesOf, retryDelayMs } from '../../sidecar/gateway/retry';
import { MAX_SSE_LINE, SseUsageParser, usageFromJson } from '../../sidecar/gateway/usage';

describe('provider flags', () => {
  test('repeatable flags, the env comma list, and api defaults by name', () => {
    const c = parseConfig(['--provider', 'openai=https://api.openai.com', '--provider=anthropic=https://api.anthropic.com', '--provider-api', 'openai=openai']);
    const p = resolveProviders(c);
    expect([...p.keys()]).toEqual(['openai', 'anthropic']);
    expect(p.get('anthropic')!.api).toBe('anthropic');
    const fromEnv = resolveProviders(parseConfig([], { SIDECAR_PROVIDERS: 'vllm=http://vllm:8000, claude=https://api.anthropic.com', SIDECAR_PROVIDER_APIS: 'claude=anthropic', SIDECAR_PROVIDER_CACHE: 'vllm=600' }));
    expect(fromEnv.get('vllm')).toMatchObject({ api: 'openai', cacheTtlSeconds: 600 });
    expect(fromEnv.get('claude')!.api).toBe('anthropic');
  });

  test.each([
    [['--provider', 'openai'], /NAME=VALUE/],
    [['--provider', 'Open AI=https://x'], /lowercase/],
    [['--provider', 'a=ftp://x'], /http/],
    [['--provider', 'a=https://user:pw@x'], /credentials/],
    [['--provider', 'a=https://x', '--provider', 'a=https://y'], /twice/],
    [['--provider', 'a=https://x', '--provider-api', 'a=gemini'], /openai, anthropic/],
    [['--provider-api', 'b=openai'], /not a --provider/],
    [['--provider', 'a=https://x', '--provider-cache', 'a=0'], /TTL/],
    [['--provider', 'a=https://x', '--provider-cache', 'a=999999999'], /TTL/],
  ])('%j is a ConfigError', (argv, message) => {
    expect(() => parseConfig(argv as string[], {})).toThrow(ConfigError);
    expect(() => parseConfig(argv as string[], {})).toThrow(message);
  });

  test('paths join onto the base path; operations from the path', () => {
    const p = resolveProviders(parseConfig(['--provider', 'azure=https://r.openai.azure.com/openai/'], {})).get('azure')!;
    expect(upstreamUrl(p, '/deployments/gpt/chat/completions?api-version=1').href).toBe('https://r.openai.azure.com/openai/deployments/gpt/chat/completions?api-version=1');
    expect(operationOf('/v1/chat/completions')).toBe('chat');
    expect(operationOf('/v1/messages')).toBe('chat');
    expect(operationOf('/v1/embeddings')).toBe('embeddings');
    expect(operationOf('/v1/completions')).toBe('text_completion');
    expect(operationOf('/v1/models')).toBe('other');
  });
});

describe('SSE usage parser', () => {
  const openaiStream = [
    'data: {"id":"c","model":"gpt-4o-2024","choices":[{"delta":{"content":"a"}}],"usage":null}\n\n',
    'data: {"id":"c","model":"gpt-4o-2024","choices":[{"delta":{"content":"b"}}],"usage":null}\n\n',
    'data: {"id":"c","model":"gpt-4o-2024","choices":[],"usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5}}\n\n',
    'data: [DONE]\n\n',
  ].join('');

  test.each([1, 2, 3, 7, 64, 4096])('OpenAI stream split every %i bytes gives the same usage', (size) => {
    const p = new SseUsageParser('openai');
    const buf = Buffer.from(openaiStream);
    let events = 0;
    for (let i = 0; i < buf.length; i += size) events += p.feed(buf.subarray(i, i + size));
    expect(events).toBe(4);
    expect(p.usage).toEqual({ inputTokens: 3, outputTokens: 2, responseModel: 'gpt-4o-2024' });
    expect(p.complete).toBe(true);
    expect(p.malformed).toBe(false);
  });

  test('Anthropic stream with CRLF line ends, ping and a multi-byte character split across chunks', () => {
    const text = [
      'event: message_start\r\ndata: {"type":"message_start","message":{"model":"claude-x","usage":{"input_tokens":10,"cache_read_input_tokens":5,"output_tokens":1}}}\r\n\r\n',
      'event: ping\r\ndata: {"type": "ping"}\r\n\r\n',
      'event: content_block_delta\r\ndata: {"type":"content_block_delta","delta":{"text":"é"}}\r\n\r\n',
      'event: message_delta\r\ndata: {"type":"message_delta","usage":{"output_tokens":7}}\r\n\r\n',
      'event: message_delta\r\ndata: {"type":"message_delta","usage":{"output_tokens":9}}\r\n\r\n',
      'event: message_stop\r\ndata: {"type":"message_stop"}\r\n\r\n',
    ].join('');
    const buf = Buffer.from(text);
    const cut = buf.indexOf(Buffer.from('é')) + 1;
    const p = new SseUsageParser('anthropic');
    p.feed(buf.subarray(0, cut));
    p.feed(buf.subarray(cut));
    expect(p.usage).toEqual({ inputTokens: 15, outputTokens: 9, responseModel: 'claude-x' });
    expect(p.complete).toBe(true);
  });

  test('malformed data, an error event and an overlong line are reported, never thrown', () => {
    const bad = new SseUsageParser('openai');
    bad.feed(Buffer.from('data: {"model": "m", "usage": {"prompt_tokens": 1\n\ndata: not json\n\n'));
    expect(bad.malformed).toBe(true);
    const err = new SseUsageParser('anthropic');
    err.feed(Buffer.from('event: error\ndata: {"type":"error","error":{"type":"overloaded_error"}}\n\n'));
    expect(err.streamError).toBe(true);
    const long = new SseUsageParser('openai');
    const chunk = Buffer.alloc(64 * 1024, 'x');
    for (let i = 0; i < MAX_SSE_LINE / chunk.length + 2; i++) long.feed(chunk);
    long.feed(Buffer.from('\n\ndata: [DONE]\n\n'));
    expect(long.malformed).toBe(true);
    expect(long.complete).toBe(true);
  });

  test('JSON usage of both APIs; non-objects give undefined', () => {
    expect(usageFromJson('openai', '{"model":"m","usage":{"prompt_tokens":4,"completion_tokens":6}}')).toEqual({ responseModel: 'm', inputTokens: 4, outputTokens: 6 });
    expect(usageFromJson('openai', '{"model":"m","usage":{"input_tokens":4,"output_tokens":6}}')).toEqual({ responseModel: 'm', inputTokens: 4, outputTokens: 6 });
    expect(usageFromJson('anthropic', '{"model":"c","usage":{"input_tokens":4,"cache_creation_input_tokens":2,"output_tokens":6}}')).toEqual({ responseModel: 'c', inputTokens: 6, outputTokens: 6 });
    expect(usageFromJson('openai', '{"model":"m"}')).toEqual({ responseModel: 'm' });
    expect(usageFromJson('openai', '[1]')).toBeUndefined();
    expect(usageFromJson('openai', '{"trunc')).toBeUndefined();
  });
});

describe('cache keys', () => {
  test('canonical JSON sorts keys at every level and keeps array order', () => {
    expect(canonicalJson({ b: 1, a: { d: [3, { z: 1, y: 2 }], c: null } })).toBe('{"a":{"c":null,"d":[3,{"y":2,"z":1}]},"b":1}');
    expect(cacheKey('p', '/v1/x', { a: 1, b: 2 })).toBe(cacheKey('p', '/v1/x', { b: 2, a: 1 }));
    expect(cacheKey('p', '/v1/x', { a: 1 })).not.toBe(cacheKey('q', '/v1/x', { a: 1 }));
    expect(cacheKey('p', '/v1/x', { a: 1 })).not.toBe(cacheKey('p', '/v1/y', { a: 1 }));
  });

  test('deterministic: temperature 0 and at most one choice', () => {
    expect(isDeterministic({ temperature: 0 })).toBe(true);
    expect(isDeterministic({ temperature: 0, n: 1 })).toBe(true);
    expect(isDeterministic({ temperature: 0, n: 3 })).toBe(false);
    expect(isDeterministic({})).toBe(false);
    expect(isDeterministic({ temperature: 0.2 })).toBe(false);
  });

  test('entries round-trip metadata and bytes', () => {
    const body = Buffer.from('data: é\n\n').toString('latin1');
    expect(decodeEntry(encodeEntry({ i: 1, o: 2, m: 'm' }, body))).toEqual({ meta: { i: 1, o: 2, m: 'm' }, body });
  });
});

describe('budget', () => {
  test('requests per minute: the next slot frees after the oldest call leaves the window', () => {
    const b = new Budget(0, 2);
    const t0 = 1_000_000_000;
    expect(b.admit(t0).ok).toBe(true);
    expect(b.admit(t0 + 10_000).ok).toBe(true);
    const refused = b.admit(t0 + 20_000);
    expect(refused).toEqual({ ok: false, budget: 'requests', retryAfterSeconds: 40 });
    expect(b.admit(t0 + 60_000).ok).toBe(true);
    expect(b.rejected.requests).toBe(1);
  });

  test('tokens per minute are charged after the call', () => {
    const b = new Budget(100, 0);
    const t0 = 2_000_000_000;
    expect(b.admit(t0).ok).toBe(true);
    b.charge(120, t0);
    const v = b.admit(t0 + 5000);
    expect(v.ok).toBe(false);
    expect(b.tokensLastMinute(t0 + 5000)).toBe(120);
    expect(b.tokensLastMinute(t0 + 61_000)).toBe(0);
  });
});

describe('retry waits', () => {
  test('Retry-After in seconds or as a date; too long gives up; bad header values refused', () => {
    expect(retryDelayMs(1, '2')).toBe(2000);
    expect(retryDelayMs(1, new Date(Date.now() + 3000).toUTCString())).toBeGreaterThan(1000);
    expect(retryDelayMs(1, '3600')).toBeUndefined();
    const backoff = retryDelayMs(3, undefined)!;
    expect(backoff).toBeGreaterThanOrEqual(400);
    expect(backoff).toBeLessThanOrEqual(1200);
    expect(retriesOf(undefined)).toBe(0);
    expect(retriesOf('3')).toBe(3);
    expect(retriesOf('9')).toBeUndefined();
    expect(retriesOf('x')).toBeUndefined();
  });
});
