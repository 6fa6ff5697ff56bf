/**
 * SidecarClient against the real sidecar process: batching, track() with timeouts, retries and
 * the in-flight gauge, cached() with in-flight de-duplication, and degradation when the
 * sidecar is unreachable.
 */
import { backoffDelay, errorTypeOf, InvalidRecordError, SidecarClient, TrackTimeoutError } from '../../sidecar/client';
import { METRICS } from '../../sidecar/contract';
import { freePort, SidecarProcess, sleep, startSidecar, waitFor } from '../support/servers';
import { metricValue, scrape } from './helpers';

let sc: SidecarProcess;
let client: SidecarClient;

beforeAll(async () => {
  sc = await startSidecar([], { SIDECAR_AGENT_NAME: 'default-agent' });
  client = new SidecarClient({ baseUrl: sc.apiUrl, agent: 'coder', flushIntervalMs: 20 });
});

afterAll(async () => {
  await client?.close();
  await sc?.stop();
});

const agentStats = async (agent: string) => (await client.stats()).agents.find((a: any) => a.agent === agent);

describe('record()', () => {
  test('records are batched and all arrive', async () => {
    const c = new SidecarClient({ baseUrl: sc.apiUrl, agent: 'batcher', batchSize: 100, flushIntervalMs: 1000 });
    const before = metricValue(await scrape(sc.metricsUrl), METRICS.recordsAccepted, {}) ?? 0;
    const sends: Promise<void>[] = [];
    for (let i = 0; i < 250; i++) sends.push(c.record({ operation: 'step', durationMs: i, success: true }));
    await c.flush();
    await Promise.all(sends);
    expect(metricValue(await scrape(sc.metricsUrl), METRICS.recordsAccepted, {})).toBe(before + 250);
    expect((await agentStats('batcher')).taskCount).toBe(250);
    expect(c.dropped).toBe(0);
  });

  test('a malformed record throws at the call site', () => {
    expect(() => client.record({ operation: 'x', durationMs: -1, success: true })).toThrow(InvalidRecordError);
    expect(() => client.record({ operation: '', durationMs: 1, success: true })).toThrow(/operation/);
  });

  test('without an agent name the sidecar default applies', async () => {
    const c = new SidecarClient({ baseUrl: sc.apiUrl, flushIntervalMs: 0 });
    await c.record({ operation: 'anon', durationMs: 1, success: true });
    expect((await agentStats('default-agent')).taskCount).toBe(1);
  });
});

describe('track()', () => {
  test('records a success with usage and keeps the in-flight gauge accurate', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const p = client.track('tracker', 'chat', async () => {
      await gate;
      return { text: 'hi', usage: { in: 120, out: 30 } };
    }, { model: 'gpt-4o', usage: (r) => ({ inputTokens: r.usage.in, outputTokens: r.usage.out }) });
    await waitFor(async () => metricValue(await scrape(sc.metricsUrl), METRICS.inflight, { gen_ai_agent_name: 'tracker' }) === 1, { what: 'inflight 1' });
    release();
    expect((await p).text).toBe('hi');
    await client.flush();
    await waitFor(async () => metricValue(await scrape(sc.metricsUrl), METRICS.inflight, { gen_ai_agent_name: 'tracker' }) === 0, { what: 'inflight 0' });
    const s = await agentStats('tracker');
    expect(s.taskCount).toBe(1);
    expect(s.tokens).toEqual({ input: 120, output: 30 });
  });

  test('retries with backoff until success and records one execution', async () => {
    let attempts = 0;
    const result = await client.track('retrier', 'tool_call', async ({ attempt }) => {
      attempts++;
      if (attempt < 2) throw new Error('flaky');
      return 'ok';
    }, { retries: 3, backoff: { baseMs: 5 } });
    expect(result).toBe('ok');
    expect(attempts).toBe(3);
    await client.flush();
    const s = await agentStats('retrier');
    expect(s).toMatchObject({ taskCount: 1, successCount: 1 });
  });

  test('a timed-out attempt aborts its signal, is retried, and the final failure is recorded as timeout', async () => {
    const signals: AbortSignal[] = [];
    const started = Date.now();
    await expect(
      client.track('slowpoke', 'chat', async ({ signal }) => {
        signals.push(signal);
        // Ignores its signal: the race still settles on time. (unref: do not hold jest open.)
        await new Promise((r) => setTimeout(r, 2000).unref());
        return 'late';
      }, { timeoutMs: 50, retries: 1, backoff: { baseMs: 1 } }),
    ).rejects.toBeInstanceOf(TrackTimeoutError);
    expect(Date.now() - started).toBeLessThan(1000);
    expect(signals).toHaveLength(2);
    expect(signals.every((s) => s.aborted)).toBe(true);
    await client.flush();
    const s = await agentStats('slowpoke');
    expect(s).toMatchObject({ taskCount: 1, failureCount: 1, topErrors: [{ errorType: 'timeout', count: 1 }] });
    await waitFor(async () => metricValue(await scrape(sc.metricsUrl), METRICS.inflight, { gen_ai_agent_name: 'slowpoke' }) === 0, { what: 'inflight back to 0' });
  });

  test('retryOn can refuse a retry; the error type is the error name', async () => {
    class QuotaError extends Error {
      name = 'QuotaError';
    }
    let attempts = 0;
    await expect(
      client.track('quota', 'chat', async () => {
        attempts++;
        throw new QuotaError('no');
      }, { retries: 5, retryOn: (e) => !(e instanceof QuotaError) }),
    ).rejects.toThrow('no');
    expect(attempts).toBe(1);
    await client.flush();
    expect((await agentStats('quota')).topErrors).toEqual([{ errorType: 'QuotaError', count: 1 }]);
  });

  test('many concurrent calls leave the gauge at zero', async () => {
    await Promise.all(Array.from({ length: 50 }, (_, i) => client.track('crowd', 'op', async () => sleep(i % 5), {})));
    await client.close();
    await waitFor(async () => metricValue(await scrape(sc.metricsUrl), METRICS.inflight, { gen_ai_agent_name: 'crowd' }) === 0, { what: 'inflight 0' });
    expect((await agentStats('crowd')).taskCount).toBe(50);
  });
});

describe('cached()', () => {
  test('concurrent calls share one computation; later calls are served by the sidecar', async () => {
    let calls = 0;
    const compute = async () => {
      calls++;
      await sleep(50);
      return { doc: 'expensive', n: calls };
    };
    const results = await Promise.all(Array.from({ length: 10 }, () => client.cached('docs', 'k1', 60, compute)));
    expect(calls).toBe(1);
    expect(results.every((r) => r.n === 1)).toBe(true);
    // A second client (another process, say) gets the cached value without computing.
    const other = new SidecarClient({ baseUrl: sc.apiUrl });
    expect(await other.cached('docs', 'k1', 60, compute)).toEqual({ doc: 'expensive', n: 1 });
    expect(calls).toBe(1);
    expect(await client.cacheGet('docs', 'k1')).toEqual({ doc: 'expensive', n: 1 });
    expect(await client.cacheDelete('docs', 'k1')).toBe(true);
    expect(await client.cacheGet('docs', 'k1')).toBeUndefined();
    expect((await client.cacheStats()).hits).toBeGreaterThanOrEqual(2);
  });

  test('errors in the computation are not cached and reach every waiter', async () => {
    let calls = 0;
    const failing = async () => {
      calls++;
      await sleep(10);
      throw new Error('boom');
    };
    const all = await Promise.allSettled([client.cached('docs', 'bad', 60, failing), client.cached('docs', 'bad', 60, failing)]);
    expect(all.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect(calls).toBe(1);
    expect(await client.cacheGet('docs', 'bad')).toBeUndefined();
  });
});

describe('sidecar unreachable', () => {
  test('the agent keeps working: cached() computes, record() and track() do not throw', async () => {
    const port = await freePort();
    const errors: Error[] = [];
    const c = new SidecarClient({ baseUrl: `http://127.0.0.1:${port}`, flushIntervalMs: 0, requestTimeoutMs: 300, onError: (e) => errors.push(e) });
    expect(await c.cached('x', 'y', 10, async () => 'computed')).toBe('computed');
    await c.record({ operation: 'o', durationMs: 1, success: true });
    expect(await c.track('a', 'o', async () => 7)).toBe(7);
    await c.close();
    expect(c.dropped).toBeGreaterThanOrEqual(2);
    expect(errors.length).toBeGreaterThan(0);
  });
});

describe('pure helpers', () => {
  test('backoffDelay grows exponentially, is capped, and full jitter stays within the ceiling', () => {
    const top = () => 0.999999;
    expect([0, 1, 2, 3].map((n) => backoffDelay(n, { baseMs: 100, jitter: 'none' }))).toEqual([100, 200, 400, 800]);
    expect(backoffDelay(20, { baseMs: 100, maxMs: 5000, jitter: 'none' })).toBe(5000);
    expect(backoffDelay(3, { baseMs: 100 }, top)).toBe(799);
    expect(backoffDelay(3, { baseMs: 100 }, () => 0)).toBe(0);
  });

  test('errorTypeOf prefers errorType, then the name', () => {
    expect(errorTypeOf(new TrackTimeoutError(5))).toBe('timeout');
    expect(errorTypeOf(new TypeError('x'))).toBe('TypeError');
    expect(errorTypeOf('a string')).toBe('_OTHER');
  });
});
