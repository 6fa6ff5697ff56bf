/**
 * The model-provider gateway on the API listener: /v1/providers/NAME/<path> → URL/<path>.
 *
 * Per call: bounded request body, response cache lookup (deterministic calls only), budget
 * check, the provider call with optional caller-requested retries, then the response streamed to
 * the agent chunk by chunk (backpressure respected) while usage and chunk timing are read on
 * the way. Only complete, successful answers are cached. API keys (any header) are forwarded
 * and never logged, stored or hashed.
 */
import type * as http from 'node:http';
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import type { SidecarCache } from '../cache';
import type { SidecarConfig } from '../config';
import { GATEWAY_HEADERS, SIDECAR_PATHS } from '../contract';
import type { SidecarMetrics } from '../metrics';
import { Budget } from './budget';
import { CacheMode, cacheKey, cacheModeOf, decodeEntry, encodeEntry, isDeterministic } from './cache-key';
import { clientResponseHeaders } from '../proxy/headers';
import { agentFor, classify, send, UpstreamError, upstreamHeaders } from './forward';
import { GatewayMetrics } from './metrics';
import { operationOf, Provider, resolveProviders, upstreamUrl } from './providers';
import { isRetryableStatus, retriesOf, retryDelayMs } from './retry';
import { SseUsageParser, Usage, usageFromJson } from './usage';

const PREFIX = `${SIDECAR_PATHS.providers}/`;
/** Largest JSON response read for usage; larger ones pass through uncounted. */
const MAX_JSON_CAPTURE = 8 * 1024 * 1024;
/** Bytes captured (usage JSON, cache copies) across all calls at once. */
const CAPTURE_BUDGET = 64 * 1024 * 1024;

interface Call {
  provider: Provider;
  operation: string;
  requestModel?: string;
  started: number;
  cacheKey?: string;
}

function sendError(res: http.ServerResponse, status: number, code: string, message: string, extra?: Record<string, string>): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const text = JSON.stringify({ error: { code, message, type: 'sidecar_gateway_error' } });
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), ...extra });
  res.end(text);
}

const STATUS_OF: Record<UpstreamError['kind'], [number, string]> = {
  unreachable: [502, 'provider_unreachable'],
  tls: [502, 'provider_tls_error'],
  timeout: [504, 'provider_timeout'],
  reset: [502, 'provider_reset'],
  error: [502, 'provider_error'],
};

export class Gateway {
  readonly providers: Map<string, Provider>;
  readonly metrics: GatewayMetrics;
  readonly budget: Budget;
  private readonly agents = new Map<string, http.Agent>();
  private captured = 0;

  constructor(
    private readonly config: SidecarConfig,
    private readonly cache: SidecarCache,
    core: SidecarMetrics,
    private readonly log: Logger,
  ) {
    this.providers = resolveProviders(config);
    for (const p of this.providers.values()) this.agents.set(p.name, agentFor(p));
    this.budget = new Budget(config.maxTokensPerMinute, config.maxRequestsPerMinute);
    this.metrics = new GatewayMetrics(config.agentName, core.limiter.model, core.limiter.errorType, config.maxLabelValues, config.maxSeries, core.limiter);
    this.metrics.register(core.registry, core, this.budget);
  }

  static matches(path: string): boolean {
    return path.startsWith(PREFIX);
  }

  close(): void {
    for (const a of this.agents.values()) a.destroy();
  }

  async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = req.url ?? '/';
    const rest = url.slice(PREFIX.length);
    const slash = rest.indexOf('/');
    const name = slash < 0 ? rest.split('?')[0] : rest.slice(0, slash);
    const provider = this.providers.get(name);
    if (!provider) {
      const known = [...this.providers.keys()].join(', ') || 'none (start the sidecar with --provider NAME=URL)';
      return sendError(res, 404, 'unknown_provider', `no provider "${name.slice(0, 64)}"; registered: ${known}`);
    }
    const path = slash < 0 ? '/' : rest.slice(slash);
    if (/(^|\/)(\.|%2e){1,2}(\/|\?|$)/i.test(path.split('?')[0])) return sendError(res, 400, 'invalid_path', 'dot segments are not allowed in provider paths');
    const mode = cacheModeOf(req.headers[GATEWAY_HEADERS.cache]);
    if (mode === undefined) return sendError(res, 400, 'invalid_header', `${GATEWAY_HEADERS.cache} must be bypass, force or default`);
    const retries = retriesOf(req.headers[GATEWAY_HEADERS.retry]);
    if (retries === undefined) return sendError(res, 400, 'invalid_header', `${GATEWAY_HEADERS.retry} must be a whole number from 0 to 5`);
    // A model call may take minutes: the listener's idle timeout must not cut it.
    req.socket.setTimeout(this.config.providerTimeoutMs + 5000);

    let body: Buffer | undefined;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      try {
        body = await this.readBody(req);
      } catch (e) {
        return sendError(res, 413, 'payload_too_large', (e as Error).message, { connection: 'close' });
      }
    }
    const json = body && body.length > 0 ? parseObject(body) : undefined;
    const call: Call = { provider, operation: operationOf(path.split('?')[0]), requestModel: typeof json?.model === 'string' ? json.model : undefined, started: 0 };
    if (json && this.config.providerStreamUsage && provider.api === 'openai' && json.stream === true && json.stream_options === undefined && call.operation === 'chat') {
      json.stream_options = { include_usage: true };
      body = Buffer.from(JSON.stringify(json));
    }

    if (json && req.method === 'POST' && this.cacheable(provider, mode, json)) {
      call.cacheKey = cacheKey(provider.name, path, json);
      if (await this.serveCached(res, call)) return;
    }

    const verdict = this.budget.admit();
    if (!verdict.ok) {
      return sendError(res, 429, 'budget_exceeded', `this agent's ${verdict.budget} budget per minute is spent (--max-${verdict.budget}-per-minute); retry in ${verdict.retryAfterSeconds} s`, {
        'retry-after': String(verdict.retryAfterSeconds),
      });
    }
    const target = upstreamUrl(provider, path);
    const headers = upstreamHeaders(req.headers, body?.length, target.host);
    call.started = performance.now();
    let clientGone = false;
    let current: http.ClientRequest | undefined;
    res.once('close', () => {
      if (res.writableFinished) return;
      clientGone = true;
      current?.destroy(new UpstreamError('reset', 'client disconnected'));
    });

    for (let attempt = 0; ; attempt++) {
      if (clientGone) return this.finish(call, 'client_closed');
      const sent = send(target, req.method ?? 'GET', headers, body, this.agents.get(provider.name)!, this.config.providerTimeoutMs);
      current = sent.req;
      let upstream: http.IncomingMessage;
      try {
        upstream = await sent.response;
      } catch (e) {
        const err = classify(e);
        if (clientGone) return this.finish(call, 'client_closed');
        if (attempt < retries && err.kind !== 'tls') {
          const wait = retryDelayMs(attempt + 1, undefined);
          if (wait !== undefined) {
            this.metrics.retried(provider.name, err.kind);
            await sleep(wait);
            continue;
          }
        }
        this.log.warn({ provider: provider.name, path: path.split('?')[0].slice(0, 200), error: err.kind }, err.message);
        this.finish(call, err.kind);
        const [status, code] = STATUS_OF[err.kind];
        return sendError(res, status, code, `${provider.name}: ${err.message}`);
      }
      const status = upstream.statusCode ?? 502;
      if (attempt < retries && isRetryableStatus(status) && !clientGone) {
        const wait = retryDelayMs(attempt + 1, upstream.headers['retry-after']);
        if (wait !== undefined) {
          upstream.resume();
          upstream.once('error', () => undefined);
          this.metrics.retried(provider.name, String(status));
          await sleep(wait);
          continue;
        }
      }
      return this.relay(res, upstream, call, () => clientGone);
    }
  }

  private cacheable(p: Provider, mode: CacheMode, body: Record<string, unknown>): boolean {
    if (p.cacheTtlSeconds === 0 || mode === 'bypass') return false;
    return mode === 'force' || isDeterministic(body);
  }

  private async serveCached(res: http.ServerResponse, call: Call): Promise<boolean> {
    const key = call.cacheKey!;
    const entry = this.cache.getLocal(key) ?? (this.cache.redis ? await this.cache.getAfterLocalMiss(key) : undefined);
    const decoded = entry && decodeEntry(entry.v);
    this.metrics.cacheLookup(call.provider.name, !!decoded);
    if (!decoded) return false;
    this.metrics.saved(call.provider.name, decoded.meta.i, decoded.meta.o);
    res.writeHead(200, ['content-type', entry!.t, 'content-length', String(decoded.body.length), 'x-sidecar-cache', 'hit']);
    res.end(decoded.body, 'latin1');
    return true;
  }

  /** Streams the provider's answer to the agent, reading usage and timing on the way. */
  private relay(res: http.ServerResponse, upstream: http.IncomingMessage, call: Call, clientGone: () => boolean): void {
    const status = upstream.statusCode ?? 502;
    const sse = /^text\/event-stream/i.test(String(upstream.headers['content-type'] ?? ''));
    const parser = sse ? new SseUsageParser(call.provider.api) : undefined;
    // The provider's response headers by the inbound proxy's rules (hop-by-hop ones dropped).
    const headers = clientResponseHeaders(upstream.rawHeaders);
    if (call.cacheKey) headers.push('x-sidecar-cache', 'miss');
    res.writeHead(status, headers);

    // Capture: the JSON body for usage, or the SSE stream when it may be cached; bounded.
    const cacheLimit = status === 200 && call.cacheKey ? this.config.cacheMaxValueBytes : 0;
    let limit = sse ? cacheLimit : Math.max(cacheLimit, status < 400 ? MAX_JSON_CAPTURE : 64 * 1024);
    const chunks: Buffer[] = [];
    let size = 0;
    let overflow = false;
    const release = () => {
      this.captured -= size;
      size = 0;
      chunks.length = 0;
    };
    const series = this.metrics.seriesOf(call.provider.name, call.operation, call.requestModel, undefined, '');
    let lastEvent = 0;
    let failed: string | undefined;
    // A stall counts only while we read: a pause for a slow agent (backpressure) is not the provider's.
    const stall = () => upstream.destroy(new UpstreamError('timeout', 'provider stalled mid-response'));
    upstream.setTimeout(this.config.providerTimeoutMs, stall);

    upstream.on('data', (chunk: Buffer) => {
      if (parser) {
        const n = parser.feed(chunk);
        if (n > 0) {
          const now = performance.now();
          if (lastEvent === 0) {
            series.ttfc.observe((now - call.started) / 1000);
            if (n > 1) for (let i = 1; i < n; i++) series.perChunk.observe(0);
          } else {
            const each = (now - lastEvent) / 1000 / n;
            for (let i = 0; i < n; i++) series.perChunk.observe(each);
          }
          lastEvent = now;
        }
      }
      if (!overflow && limit > 0) {
        if (size + chunk.length > limit || this.captured + chunk.length > CAPTURE_BUDGET) {
          overflow = true;
          release();
        } else {
          chunks.push(chunk);
          size += chunk.length;
          this.captured += chunk.length;
        }
      }
      if (!res.write(chunk)) {
        upstream.pause();
        upstream.setTimeout(0);
        res.once('drain', () => {
          upstream.setTimeout(this.config.providerTimeoutMs, stall);
          upstream.resume();
        });
      }
    });
    upstream.once('error', (e) => {
      failed = clientGone() ? 'client_closed' : classify(e).kind;
    });
    upstream.once('close', () => {
      const complete = upstream.complete && failed === undefined && !clientGone();
      if (!complete) {
        release();
        this.finish(call, failed ?? (clientGone() ? 'client_closed' : 'reset'));
        // The agent must see a broken stream, not a clean end of a partial answer.
        if (!res.writableEnded) res.destroy();
        return;
      }
      res.end();
      let usage: Usage | undefined;
      let cacheable = !!call.cacheKey && status === 200 && !overflow;
      if (parser) {
        usage = parser.usage;
        if (!parser.complete || parser.malformed || parser.streamError) cacheable = false;
        if (parser.streamError) return this.done(call, usage, 'stream_error', release);
        if (parser.malformed) this.metrics.missingUsage(call.provider.name, 'malformed');
        else if (!parser.complete) return this.done(call, usage, 'incomplete', release);
      } else if (!overflow && size > 0) {
        const text = Buffer.concat(chunks, size).toString('utf8');
        usage = usageFromJson(call.provider.api, text);
        if (!usage && status < 400) {
          this.metrics.missingUsage(call.provider.name, 'malformed');
          cacheable = false;
        }
      } else if (overflow && status < 400) {
        this.metrics.missingUsage(call.provider.name, 'too_large');
      }
      if (status < 400 && usage && usage.inputTokens === undefined && usage.outputTokens === undefined && !parser?.malformed) {
        this.metrics.missingUsage(call.provider.name, 'absent');
      }
      if (cacheable && size > 0) {
        const body = Buffer.concat(chunks, size).toString('latin1');
        const ct = String(upstream.headers['content-type'] ?? 'application/json');
        this.cache.set(call.cacheKey!, encodeEntry({ i: usage?.inputTokens, o: usage?.outputTokens, m: usage?.responseModel }, body), ct, call.provider.cacheTtlSeconds);
      }
      this.done(call, usage, status >= 400 ? String(status) : '', release);
    });
  }

  private done(call: Call, usage: Usage | undefined, errorType: string, release: () => void): void {
    release();
    this.finish(call, errorType, usage);
  }

  private finish(call: Call, errorType: string, usage?: Usage): void {
    const seconds = call.started > 0 ? (performance.now() - call.started) / 1000 : 0;
    this.metrics.observe({
      provider: call.provider.name,
      operation: call.operation,
      requestModel: call.requestModel,
      responseModel: usage?.responseModel,
      errorType,
      durationSeconds: seconds,
      inputTokens: usage?.inputTokens,
      outputTokens: usage?.outputTokens,
    });
    this.budget.charge((usage?.inputTokens ?? 0) + (usage?.outputTokens ?? 0));
  }

  private readBody(req: http.IncomingMessage): Promise<Buffer> {
    const limit = this.config.providerMaxBodyBytes;
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > limit) {
      req.resume();
      return Promise.reject(new Error(`request body of ${declared} bytes exceeds --provider-max-body-bytes (${limit})`));
    }
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      req.on('data', (c: Buffer) => {
        size += c.length;
        if (size > limit) {
          req.removeAllListeners('data');
          req.resume();
          reject(new Error(`request body exceeds --provider-max-body-bytes (${limit})`));
          return;
        }
        chunks.push(c);
      });
      req.once('end', () => resolve(Buffer.concat(chunks, size)));
      req.once('error', reject);
    });
  }
}

function parseObject(body: Buffer): Record<string, unknown> | undefined {
  try {
    const v = JSON.parse(body.toString('utf8'));
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
