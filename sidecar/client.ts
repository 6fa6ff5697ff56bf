/**
 * Typed client for agent code written in TypeScript: reports executions and in-flight counts
 * to the sidecar, wraps calls with timeouts and retries, and caches results through it.
 *
 * The client never makes the agent fail because the sidecar is slow or down: reporting is
 * batched and best effort (errors go to `onError`), and `cached()` falls back to calling the
 * function. Only programming errors (an invalid record) throw.
 *
 *     const sidecar = new SidecarClient({ agent: 'planner' });
 *     const plan = await sidecar.track('planner', 'chat', ({ signal }) => llm.chat(prompt, { signal }),
 *       { timeoutMs: 30_000, retries: 2 });
 *     const doc = await sidecar.cached('docs', url, 600, () => fetchDoc(url));
 */
import { AGENT_SIDECAR_URL_ENV, SIDECAR_API_HOST, SIDECAR_API_PORT, SIDECAR_ENV, SIDECAR_PATHS } from './contract';
import type { ExecutionInput } from './contract';

export type { ExecutionInput };
import { FieldError, validateRecord } from './validate';

/** What `record()` takes: the body of POST /v1/executions. */

export interface SidecarClientOptions {
  /** Base URL of the sidecar API. @default env AGENT_SIDECAR_URL, else http://127.0.0.1:9465 */
  readonly baseUrl?: string;
  /** Agent name put on records that have none. @default env SIDECAR_AGENT_NAME, else the sidecar's default */
  readonly agent?: string;
  /** Timeout of each HTTP call to the sidecar. @default 2000 */
  readonly requestTimeoutMs?: number;
  /** Records sent per POST. @default 100 */
  readonly batchSize?: number;
  /** Longest a record waits in the queue before it is sent; 0 sends every record at once. @default 100 */
  readonly flushIntervalMs?: number;
  /** Records kept while the sidecar is unreachable; older ones are dropped beyond it. @default 10000 */
  readonly maxQueue?: number;
  /** Called with reporting errors (sidecar down, rejected batch). @default ignore */
  readonly onError?: (err: Error) => void;
}

export interface BackoffOptions {
  /** First retry delay ceiling. @default 100 */
  readonly baseMs?: number;
  /** Largest delay. @default 10000 */
  readonly maxMs?: number;
  /** Growth per attempt. @default 2 */
  readonly factor?: number;
  /** `full`: a uniformly random delay in [0, ceiling] (AWS "full jitter"); `none`: the ceiling. @default 'full' */
  readonly jitter?: 'full' | 'none';
}

export interface TrackOptions<T> {
  /** Timeout of each attempt; the attempt's AbortSignal fires when it elapses. @default no timeout */
  readonly timeoutMs?: number;
  /** Retries after the first attempt. @default 0 */
  readonly retries?: number;
  readonly backoff?: BackoffOptions;
  /** Decides whether an error is worth another attempt. @default retry every error */
  readonly retryOn?: (err: unknown, attempt: number) => boolean;
  /** gen_ai_request_model for the record. */
  readonly model?: string;
  /** Extracts token usage (and the model actually used) from the result. */
  readonly usage?: (result: T) => { inputTokens?: number; outputTokens?: number; model?: string } | undefined;
  /** Cancels the whole call, including the wait between attempts. */
  readonly signal?: AbortSignal;
}

/** Context given to a tracked function. */
export interface AttemptContext {
  /** Aborts when the attempt times out or the caller's signal aborts. */
  readonly signal: AbortSignal;
  /** 0 for the first attempt. */
  readonly attempt: number;
}

/** Thrown by track() when an attempt exceeds timeoutMs (error type `timeout`). */
export class TrackTimeoutError extends Error {
  readonly errorType = 'timeout';
  constructor(readonly timeoutMs: number) {
    super(`attempt timed out after ${timeoutMs} ms`);
    this.name = 'TimeoutError';
  }
}

/** Thrown by record() for a record the sidecar would refuse (a bug in the caller). */
export class InvalidRecordError extends Error {
  constructor(readonly errors: FieldError[]) {
    super(`invalid execution record: ${errors.map((e) => `${e.field || 'record'} ${e.message}`).join('; ')}`);
    this.name = 'InvalidRecordError';
  }
}

/** Error type of a failure, as the record reports it: low cardinality, OTel error.type style. */
export function errorTypeOf(err: unknown): string {
  if (err && typeof err === 'object') {
    const e = err as { errorType?: unknown; name?: unknown };
    if (typeof e.errorType === 'string' && e.errorType) return e.errorType.slice(0, 128);
    if (typeof e.name === 'string' && e.name) return e.name === 'AbortError' ? 'aborted' : e.name.slice(0, 128);
  }
  return '_OTHER';
}

/** Delay before retry number `attempt` (0-based), per the backoff options. */
export function backoffDelay(attempt: number, b: BackoffOptions = {}, random: () => number = Math.random): number {
  const ceiling = Math.min(b.maxMs ?? 10000, (b.baseMs ?? 100) * (b.factor ?? 2) ** attempt);
  return (b.jitter ?? 'full') === 'full' ? Math.floor(random() * ceiling) : ceiling;
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal!.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

interface Pending {
  records: ExecutionInput[];
  done: Promise<void>;
  resolve: () => void;
}

export class SidecarClient {
  readonly baseUrl: string;
  readonly agent?: string;
  /** Records dropped because the queue was full or the sidecar refused them. */
  dropped = 0;
  private readonly requestTimeoutMs: number;
  private readonly batchSize: number;
  private readonly flushIntervalMs: number;
  private readonly maxQueue: number;
  private readonly onError: (err: Error) => void;
  private pending?: Pending;
  private timer?: NodeJS.Timeout;
  private readonly sending = new Set<Promise<void>>();
  private readonly inflightPending = new Map<string, number>();
  private inflightLoop?: Promise<void>;
  private readonly cacheInflight = new Map<string, Promise<unknown>>();

  constructor(opts: SidecarClientOptions = {}) {
    this.baseUrl = (opts.baseUrl ?? process.env[AGENT_SIDECAR_URL_ENV] ?? `http://${SIDECAR_API_HOST}:${SIDECAR_API_PORT}`).replace(/\/+$/, '');
    this.agent = opts.agent ?? process.env[SIDECAR_ENV.agentName] ?? undefined;
    this.requestTimeoutMs = opts.requestTimeoutMs ?? 2000;
    this.batchSize = Math.max(1, opts.batchSize ?? 100);
    this.flushIntervalMs = Math.max(0, opts.flushIntervalMs ?? 100);
    this.maxQueue = Math.max(1, opts.maxQueue ?? 10000);
    this.onError = opts.onError ?? (() => undefined);
  }

  // -------------------------------------------------------------------------------------------
  // Executions
  // -------------------------------------------------------------------------------------------

  /**
   * Queues one record or several; resolves once they were sent (it never rejects for sidecar
   * errors, so it is safe not to await). Throws InvalidRecordError for a malformed record.
   */
  record(input: ExecutionInput | ExecutionInput[]): Promise<void> {
    const list = Array.isArray(input) ? input : [input];
    const errors: FieldError[] = [];
    const records = list.map((r, i) => {
      const withAgent = r.agent === undefined && this.agent !== undefined ? { ...r, agent: this.agent } : r;
      validateRecord(withAgent, i, 'agent', errors);
      return withAgent;
    });
    if (errors.length > 0) throw new InvalidRecordError(errors);
    let last: Promise<void> = Promise.resolve();
    for (const r of records) {
      if (!this.pending) {
        let resolve!: () => void;
        const done = new Promise<void>((r2) => (resolve = r2));
        this.pending = { records: [], done, resolve };
      }
      if (this.queued() >= this.maxQueue) {
        this.dropped++;
        continue;
      }
      this.pending.records.push(r);
      last = this.pending.done;
      if (this.pending.records.length >= this.batchSize) this.flushPending();
    }
    if (this.pending && this.pending.records.length > 0) {
      if (this.flushIntervalMs === 0) this.flushPending();
      else if (!this.timer) {
        this.timer = setTimeout(() => this.flushPending(), this.flushIntervalMs);
        this.timer.unref?.();
      }
    }
    return last;
  }

  /** Sends everything queued now; resolves when all sends finished. */
  async flush(): Promise<void> {
    this.flushPending();
    await Promise.all([...this.sending]);
  }

  private queued(): number {
    return this.pending?.records.length ?? 0;
  }

  private flushPending(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    const batch = this.pending;
    this.pending = undefined;
    if (!batch || batch.records.length === 0) {
      batch?.resolve();
      return;
    }
    const p = this.request('POST', SIDECAR_PATHS.executions, JSON.stringify(batch.records), 'application/json')
      .then(async (res) => {
        if (res.status !== 202) {
          this.dropped += batch.records.length;
          this.onError(new Error(`sidecar refused ${batch.records.length} records: HTTP ${res.status} ${await res.text()}`));
        } else {
          await res.arrayBuffer();
        }
      })
      .catch((err: Error) => {
        this.dropped += batch.records.length;
        this.onError(err);
      })
      .finally(() => {
        this.sending.delete(p);
        batch.resolve();
      });
    this.sending.add(p);
  }

  // -------------------------------------------------------------------------------------------
  // In-flight gauge
  // -------------------------------------------------------------------------------------------

  /**
   * Adds `delta` to the agent's in-flight gauge. Updates are coalesced and sent one at a time,
   * in order, so a quick +1/-1 pair can never arrive reversed (which the sidecar's clamp at 0
   * would turn into a stuck +1). A failed update is retried with the next one.
   */
  inflight(delta: number, agent?: string): Promise<void> {
    const a = agent ?? this.agent ?? '';
    this.inflightPending.set(a, (this.inflightPending.get(a) ?? 0) + delta);
    if (!this.inflightLoop) {
      this.inflightLoop = this.drainInflight().finally(() => (this.inflightLoop = undefined));
    }
    return this.inflightLoop;
  }

  private async drainInflight(): Promise<void> {
    let failures = 0;
    while (this.inflightPending.size > 0) {
      const [agent, delta] = this.inflightPending.entries().next().value as [string, number];
      this.inflightPending.delete(agent);
      if (delta === 0) continue;
      try {
        const body = JSON.stringify(agent ? { agent, delta } : { delta });
        const res = await this.request('POST', SIDECAR_PATHS.inflight, body, 'application/json');
        await res.arrayBuffer();
        if (res.status >= 500) throw new Error(`sidecar answered HTTP ${res.status} to an in-flight update`);
        failures = 0;
      } catch (err) {
        this.onError(err as Error);
        this.inflightPending.set(agent, (this.inflightPending.get(agent) ?? 0) + delta);
        if (++failures >= 3) return; // sidecar down: keep the delta for the next update
        await sleep(backoffDelay(failures, { baseMs: 50, maxMs: 1000 }));
      }
    }
  }

  // -------------------------------------------------------------------------------------------
  // track()
  // -------------------------------------------------------------------------------------------

  /**
   * Runs `fn` with a per-attempt timeout and retries (exponential backoff with jitter), keeps
   * the in-flight gauge up to date, and records one execution for the whole call: its total
   * duration, its outcome and, on failure, the last error's type. Returns fn's result or
   * throws its last error.
   */
  async track<T>(agent: string | undefined, operation: string, fn: (ctx: AttemptContext) => Promise<T>, opts: TrackOptions<T> = {}): Promise<T> {
    const agentName = agent ?? this.agent;
    const retries = Math.max(0, opts.retries ?? 0);
    const start = performance.now();
    void this.inflight(1, agentName);
    let lastError: unknown;
    try {
      for (let attempt = 0; ; attempt++) {
        try {
          const result = await this.attempt(fn, attempt, opts.timeoutMs, opts.signal);
          const usage = opts.usage?.(result);
          this.safeRecord({
            agent: agentName,
            operation,
            durationMs: performance.now() - start,
            success: true,
            model: usage?.model ?? opts.model,
            inputTokens: usage?.inputTokens,
            outputTokens: usage?.outputTokens,
          });
          return result;
        } catch (err) {
          lastError = err;
          const canRetry = attempt < retries && !opts.signal?.aborted && (opts.retryOn ? opts.retryOn(err, attempt) : true);
          if (!canRetry) break;
          await sleep(backoffDelay(attempt, opts.backoff), opts.signal).catch(() => undefined);
          if (opts.signal?.aborted) break;
        }
      }
      this.safeRecord({
        agent: agentName,
        operation,
        durationMs: performance.now() - start,
        success: false,
        errorType: errorTypeOf(lastError),
        model: opts.model,
      });
      throw lastError;
    } finally {
      void this.inflight(-1, agentName);
    }
  }

  private async attempt<T>(fn: (ctx: AttemptContext) => Promise<T>, attempt: number, timeoutMs: number | undefined, outer?: AbortSignal): Promise<T> {
    const controller = new AbortController();
    const onOuterAbort = () => controller.abort(outer!.reason);
    if (outer?.aborted) throw outer.reason;
    outer?.addEventListener('abort', onOuterAbort, { once: true });
    let timer: NodeJS.Timeout | undefined;
    try {
      const run = fn({ signal: controller.signal, attempt });
      if (timeoutMs === undefined) return await run;
      // The race settles on time even when fn ignores its signal.
      return await Promise.race([
        run,
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => {
            const err = new TrackTimeoutError(timeoutMs);
            controller.abort(err);
            reject(err);
          }, timeoutMs);
        }),
      ]);
    } finally {
      if (timer) clearTimeout(timer);
      outer?.removeEventListener('abort', onOuterAbort);
    }
  }

  private safeRecord(r: ExecutionInput): void {
    try {
      void this.record(r);
    } catch (err) {
      this.onError(err as Error);
    }
  }

  // -------------------------------------------------------------------------------------------
  // Cache
  // -------------------------------------------------------------------------------------------

  /**
   * Returns the cached JSON value of namespace/key, or computes it with `fn`, stores it for
   * `ttlSeconds` and returns it. Concurrent calls for the same key share one computation.
   * If the sidecar is unreachable, `fn` runs and its result is returned uncached.
   */
  cached<T>(namespace: string, key: string, ttlSeconds: number | undefined, fn: () => Promise<T>): Promise<T> {
    const id = `${namespace}/${key}`;
    const running = this.cacheInflight.get(id);
    if (running) return running as Promise<T>;
    const p = (async () => {
      const hit = await this.cacheGet<T>(namespace, key).catch((err: Error) => {
        this.onError(err);
        return undefined;
      });
      if (hit !== undefined) return hit;
      const value = await fn();
      if (value !== undefined) await this.cachePut(namespace, key, value, ttlSeconds).catch((err: Error) => this.onError(err));
      return value;
    })().finally(() => this.cacheInflight.delete(id));
    this.cacheInflight.set(id, p);
    return p;
  }

  /** The JSON value stored under namespace/key, or undefined on a miss. */
  async cacheGet<T = unknown>(namespace: string, key: string): Promise<T | undefined> {
    const res = await this.request('GET', cachePath(namespace, key));
    if (res.status === 404) {
      await res.arrayBuffer();
      return undefined;
    }
    if (res.status !== 200) throw new Error(`sidecar cache GET failed: HTTP ${res.status} ${await res.text()}`);
    return JSON.parse(await res.text()) as T;
  }

  /** Stores a JSON value; `ttlSeconds` undefined means the sidecar's default TTL. */
  async cachePut(namespace: string, key: string, value: unknown, ttlSeconds?: number): Promise<void> {
    const q = ttlSeconds === undefined ? '' : `?ttl=${Math.max(1, Math.round(ttlSeconds))}`;
    const res = await this.request('PUT', cachePath(namespace, key) + q, JSON.stringify(value), 'application/json');
    if (res.status !== 204) throw new Error(`sidecar cache PUT failed: HTTP ${res.status} ${await res.text()}`);
  }

  async cacheDelete(namespace: string, key: string): Promise<boolean> {
    const res = await this.request('DELETE', cachePath(namespace, key));
    if (res.status !== 200) throw new Error(`sidecar cache DELETE failed: HTTP ${res.status} ${await res.text()}`);
    return ((await res.json()) as { deleted: boolean }).deleted;
  }

  /** GET /v1/stats. */
  async stats(): Promise<any> {
    return this.getJson(SIDECAR_PATHS.stats);
  }

  /** GET /v1/cache/stats. */
  async cacheStats(): Promise<any> {
    return this.getJson(SIDECAR_PATHS.cacheStats);
  }

  /** Flushes queued records and waits for in-flight updates. */
  async close(): Promise<void> {
    await this.flush();
    await this.inflightLoop;
  }

  private async getJson(path: string): Promise<any> {
    const res = await this.request('GET', path);
    if (res.status !== 200) throw new Error(`sidecar GET ${path} failed: HTTP ${res.status} ${await res.text()}`);
    return res.json();
  }

  private request(method: string, path: string, body?: string, contentType?: string): Promise<Response> {
    return fetch(this.baseUrl + path, {
      method,
      body,
      headers: contentType ? { 'content-type': contentType } : undefined,
      signal: AbortSignal.timeout(this.requestTimeoutMs),
    });
  }
}

function cachePath(namespace: string, key: string): string {
  return `${SIDECAR_PATHS.cache}/${encodeURIComponent(namespace)}/${encodeURIComponent(key)}`;
}
