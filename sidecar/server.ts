/**
 * The sidecar process: two HTTP listeners sharing one state.
 *
 * - metrics listener (pod IP, read-only): GET /metrics, /healthz, /readyz
 * - API listener (loopback): executions, in-flight, stats, cache
 *
 * Every failure mode answers a JSON error `{ "error": { "code", "message", "details"? } }` with
 * a 4xx/5xx status; nothing a client sends can throw out of a handler. Memory is bounded by
 * the cache limits, the label caps, the body limit and a global budget for buffered bodies.
 */
import * as http from 'node:http';
import * as v8 from 'node:v8';
import type { AddressInfo } from 'node:net';
import pino, { Logger } from 'pino';
import { SidecarCache } from './cache';
import { SidecarConfig } from './config';
import { SIDECAR_PATHS, SIDECAR_VERSION } from './contract';
import { Gateway } from './gateway/gateway';
import { ConnectionGuard, guardConnections, guardProtocol } from './limits';
import { exceedsJsonDepth, MAX_JSON_DEPTH } from './validate';
import { SidecarMetrics } from './metrics';
import { InboundProxy } from './proxy/listener';
import { StatsCollector } from './stats';
import { validateBatch, validateInflight } from './validate';
import { allow, clientErrorStatus, HttpError, notFound, parseTtl, pathOf, rawJsonError, sendEntry, sendJson, sendMiss } from './http-responses';

export { parseTtl } from './http-responses';

const NAMESPACE_RE = /^[A-Za-z0-9_.-]{1,64}$/;
/** Longest cache key, in characters after URL decoding. */
export const MAX_KEY_LENGTH = 512;
const CACHE_PREFIX = `${SIDECAR_PATHS.cache}/`;
const RESERVED_NAMESPACE = SIDECAR_PATHS.cacheStats.slice(CACHE_PREFIX.length);


/** Heap the sidecar needs besides the cache and buffered bodies: code, series, parsed batches. */
const HEAP_BASELINE_BYTES = 64 * 1024 * 1024;

/** Bytes of an over-limit body discarded before the connection is cut. */
const MAX_DRAIN_BYTES = 8 * 1024 * 1024;


export interface SidecarOptions {
  config: SidecarConfig;
  logger?: Logger;
}

export class Sidecar {
  readonly config: SidecarConfig;
  readonly log: Logger;
  readonly metrics: SidecarMetrics;
  readonly stats: StatsCollector;
  readonly cache: SidecarCache;
  /** Model-provider routes (/v1/providers/NAME/...). */
  readonly gateway: Gateway;
  private readonly metricsServer: http.Server;
  private readonly apiServer: http.Server;
  private ready = false;
  private shuttingDown?: Promise<void>;
  /** Bytes of request bodies currently buffered, across all connections. */
  private bufferedBytes = 0;
  /** Per socket, how to give back the body budget of the request being read on it (408 path). */
  private readonly bodyReaders = new WeakMap<import('node:net').Socket, () => void>();
  /** Connection caps of the metrics and API listeners. */
  readonly connections: { metrics: ConnectionGuard; api: ConnectionGuard };
  private readonly bodyBudget: number;
  private readonly metricsContentType: string;
  /** The inbound proxy (the agent's front door), when --proxy is on. */
  readonly proxy?: InboundProxy;

  constructor(opts: SidecarOptions) {
    const c = (this.config = opts.config);
    this.log =
      opts.logger ??
      pino({
        level: c.logLevel,
        base: { service: 'agent-sidecar', version: SIDECAR_VERSION, agent: c.agentName },
        timestamp: pino.stdTimeFunctions.isoTime,
        formatters: { level: (label) => ({ level: label }) },
      });
    this.metrics = new SidecarMetrics({ maxLabelValues: c.maxLabelValues, maxSeries: c.maxSeries, maxLabelBytes: c.maxLabelBytes, processMetrics: c.processMetrics });
    this.metricsContentType = this.metrics.registry.contentType;
    this.stats = new StatsCollector(c.maxLabelValues);
    this.cache = new SidecarCache(
      {
        maxEntries: c.cacheMaxEntries,
        maxBytes: c.cacheMaxBytes,
        defaultTtlSeconds: c.cacheDefaultTtlSeconds,
        purgeIntervalSeconds: c.cachePurgeIntervalSeconds,
        redisUrl: c.redisUrl,
        redisPassword: c.redisPassword,
        redisKeyPrefix: c.redisKeyPrefix,
        redisTimeoutMs: c.redisTimeoutMs,
        redisMaxInflightBytes: c.redisMaxInflightBytes,
        redisMaxInflightCommands: c.redisMaxInflightCommands,
        redisHealthIntervalMs: c.redisHealthIntervalMs,
        maxValueBytes: c.cacheMaxValueBytes,
      },
      this.log,
    );
    this.cache.registerMetrics(this.metrics.registry);
    this.gateway = new Gateway(c, this.cache, this.metrics, this.log);
    if (c.proxy) this.proxy = new InboundProxy(c, this.metrics, this.stats, this.log);
    // Enough for a few maximal bodies at once; beyond it clients get 503 instead of the process growing.
    this.bodyBudget = Math.max(16 * 1024 * 1024, 4 * Math.max(c.maxBodyBytes, c.cacheMaxValueBytes));

    const serverOptions: http.ServerOptions = {
      requestTimeout: c.requestTimeoutMs,
      headersTimeout: Math.min(c.requestTimeoutMs, 60000),
      keepAliveTimeout: 5000,
      connectionsCheckingInterval: Math.min(1000, c.requestTimeoutMs),
      maxHeaderSize: 16384,
    };
    this.metricsServer = http.createServer(serverOptions, (req, res) => this.guard(req, res, this.handleMetrics));
    this.apiServer = http.createServer(serverOptions, (req, res) => this.guard(req, res, this.handleApi));
    this.connections = { metrics: guardConnections(this.metricsServer, c.maxConnections), api: guardConnections(this.apiServer, c.maxConnections) };
    guardProtocol(this.metricsServer, { bodyLimit: () => 0, handle: (req, res) => this.guard(req, res, this.handleMetrics), reject: (code) => this.metrics.reject(code) });
    guardProtocol(this.apiServer, { bodyLimit: (req) => this.bodyLimitOf(req), handle: (req, res) => this.guard(req, res, this.handleApi), reject: (code) => this.metrics.reject(code) });
    for (const s of [this.metricsServer, this.apiServer]) {
      // A client that stops reading its response cannot hold a socket forever.
      s.timeout = Math.max(60000, c.requestTimeoutMs * 2);
      s.on('clientError', (err: NodeJS.ErrnoException, socket) => {
        if (!socket.writable) {
          socket.destroy();
          return;
        }
        const { status, code } = clientErrorStatus(err);
        this.metrics.reject(code);
        // A body half-read when the request timed out gives its budget back now, not when the
        // client finally closes (the socket is destroyed once the answer is written).
        this.bodyReaders.get(socket as import('node:net').Socket)?.();
        socket.end(rawJsonError(status, code, err.code ?? err.message), () => socket.destroy());
      });
    }
  }

  /** Starts both listeners; resolves with the bound ports (useful with port 0). */
  async start(): Promise<{ metricsPort: number; apiPort: number; proxyPort?: number }> {
    const listen = (s: http.Server, port: number, host: string) =>
      new Promise<number>((resolve, reject) => {
        s.once('error', reject);
        s.listen(port, host, () => {
          s.off('error', reject);
          resolve((s.address() as AddressInfo).port);
        });
      });
    this.checkHeapLimit();
    const metricsPort = await listen(this.metricsServer, this.config.metricsPort, this.config.metricsHost);
    const apiPort = await listen(this.apiServer, this.config.apiPort, this.config.apiHost);
    const proxyPort = this.proxy ? await this.proxy.listen() : undefined;
    this.ready = true;
    this.log.info(
      {
        metrics: `${this.config.metricsHost}:${metricsPort}`,
        api: `${this.config.apiHost}:${apiPort}`,
        metricsPort,
        apiPort,
        ...(this.proxy ? { proxy: `${this.config.proxyHost}:${proxyPort}`, proxyPort, upstream: this.config.upstream } : {}),
        cache: { maxEntries: this.config.cacheMaxEntries, maxBytes: this.config.cacheMaxBytes, redis: !!this.config.redisUrl },
        providers: [...this.gateway.providers.values()].map((p) => `${p.name}=${p.url.origin}${p.url.pathname} (${p.api}${p.cacheTtlSeconds ? `, cache ${p.cacheTtlSeconds}s` : ''})`),
      },
      'listening',
    );
    return { metricsPort, apiPort, proxyPort };
  }

  /**
   * Warns when a full cache plus working memory may not fit the V8 heap limit
   * (--max-old-space-size): the process would then die of heap exhaustion instead of evicting.
   */
  private checkHeapLimit(): void {
    const limit = v8.getHeapStatistics().heap_size_limit;
    const needed = this.config.cacheMaxBytes + this.bodyBudget + HEAP_BASELINE_BYTES;
    if (needed > limit) {
      this.log.warn(
        { heapLimitBytes: limit, cacheMaxBytes: this.config.cacheMaxBytes, neededBytes: needed },
        'the V8 heap limit is below cache max bytes + working memory: raise --max-old-space-size or lower --cache-max-bytes',
      );
    }
  }

  get isReady(): boolean {
    return this.ready;
  }

  /**
   * Graceful shutdown: readiness goes false at once, the listeners keep serving for
   * shutdownDelayMs (so the agent can flush), then stop accepting, in-flight requests finish
   * (at most shutdownGraceMs), and the Redis connection closes.
   */
  shutdown(reason = 'shutdown'): Promise<void> {
    if (this.shuttingDown) return this.shuttingDown;
    this.ready = false;
    this.proxy?.startDrain();
    this.log.info({ reason, delayMs: this.config.shutdownDelayMs, graceMs: this.config.shutdownGraceMs }, 'shutting down: readiness is now false');
    this.shuttingDown = (async () => {
      if (this.config.shutdownDelayMs > 0) await new Promise((r) => setTimeout(r, this.config.shutdownDelayMs));
      const closed = Promise.all([
        ...[this.metricsServer, this.apiServer].map((s) => new Promise<void>((r) => (s.listening ? s.close(() => r()) : r()))),
        this.proxy?.close(),
      ]);
      // Keep-alive sockets between requests are closed at once; busy ones after their response.
      const sweep = setInterval(() => {
        this.metricsServer.closeIdleConnections();
        this.apiServer.closeIdleConnections();
      }, 50);
      let timer: NodeJS.Timeout | undefined;
      const timedOut = await Promise.race([
        closed.then(() => false),
        new Promise<boolean>((r) => (timer = setTimeout(() => r(true), this.config.shutdownGraceMs))),
      ]);
      clearInterval(sweep);
      if (timer) clearTimeout(timer);
      if (timedOut) {
        this.log.warn({ graceMs: this.config.shutdownGraceMs }, 'in-flight requests did not finish in time: closing their connections');
        this.metricsServer.closeAllConnections();
        this.apiServer.closeAllConnections();
        this.proxy?.destroyAll();
      }
      this.gateway.close();
      await this.cache.close();
      this.log.info('shutdown complete');
    })();
    return this.shuttingDown;
  }

  // ---------------------------------------------------------------------------------------
  // Request plumbing
  // ---------------------------------------------------------------------------------------

  private guard(req: http.IncomingMessage, res: http.ServerResponse, handler: (req: http.IncomingMessage, res: http.ServerResponse) => void | Promise<void>): void {
    try {
      const p = handler.call(this, req, res);
      if (p) p.catch((e) => this.fail(req, res, e));
    } catch (e) {
      this.fail(req, res, e);
    }
  }

  private fail(req: http.IncomingMessage, res: http.ServerResponse, e: unknown): void {
    if (e instanceof HttpError) {
      this.metrics.reject(e.code);
      this.log.debug({ method: req.method, url: req.url?.slice(0, 200), status: e.status, code: e.code }, e.message);
      if (!res.headersSent) {
        // After refusing a body we did not read, the connection cannot be reused.
        sendJson(res, e.status, { error: { code: e.code, message: e.message, ...(e.details ? { details: e.details } : {}) } }, e.close ? { ...e.headers, connection: 'close' } : e.headers);
      }
      return;
    }
    this.metrics.reject('internal');
    this.log.error({ err: e, method: req.method, url: req.url?.slice(0, 200) }, 'request failed');
    if (!res.headersSent) sendJson(res, 500, { error: { code: 'internal', message: 'internal error' } });
    else res.destroy();
  }

  /** Reads the body up to `limit` bytes, as a latin1 string (lossless, compact). */
  private readBody(req: http.IncomingMessage, limit: number): Promise<string> {
    const declared = req.headers['content-length'];
    if (declared !== undefined && Number(declared) > limit) {
      return Promise.reject(new HttpError(413, 'payload_too_large', `body of ${declared} bytes exceeds the limit of ${limit} bytes`, undefined, undefined, true));
    }
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      let done = false;
      const release = () => {
        this.bufferedBytes -= size;
      };
      const finish = (err?: HttpError) => {
        if (done) return;
        done = true;
        release();
        if (this.bodyReaders.get(req.socket) === onTimeout) this.bodyReaders.delete(req.socket);
        req.removeAllListeners('data');
        if (err) {
          // Discard the rest rather than close at once: closing a socket with unread data sends
          // a TCP reset that can destroy the error response before the client reads it. The
          // drain is bounded by MAX_DRAIN_BYTES here and by the request timeout.
          let drained = 0;
          req.on('data', (c: Buffer) => {
            drained += c.length;
            if (drained > MAX_DRAIN_BYTES) req.socket.destroy();
          });
          reject(err);
        }
      };
      const onTimeout = () => finish(new HttpError(408, 'request_timeout', 'the request did not arrive in time'));
      if (req.socket) this.bodyReaders.set(req.socket, onTimeout);
      req.on('data', (chunk: Buffer) => {
        if (done) return;
        size += chunk.length;
        this.bufferedBytes += chunk.length;
        if (size > limit) return finish(new HttpError(413, 'payload_too_large', `body exceeds the limit of ${limit} bytes`));
        if (this.bufferedBytes > this.bodyBudget) {
          return finish(new HttpError(503, 'server_busy', 'too many request bodies in flight; retry shortly', undefined, { 'retry-after': '1' }));
        }
        chunks.push(chunk);
      });
      req.once('end', () => {
        if (done) return;
        const text = chunks.length === 1 ? chunks[0].toString('latin1') : Buffer.concat(chunks, size).toString('latin1');
        finish();
        resolve(text);
      });
      req.once('error', () => finish(new HttpError(400, 'bad_request', 'request aborted')));
      req.once('aborted', () => finish(new HttpError(400, 'bad_request', 'request aborted')));
    });
  }

  private async readJson(req: http.IncomingMessage): Promise<unknown> {
    // The body is parsed as JSON whatever the Content-Type says (curl -d sends a form type);
    // only multipart, which is never JSON, is refused up front.
    const ct = req.headers['content-type'];
    if (ct !== undefined && ct.slice(0, 10).toLowerCase() === 'multipart/') {
      throw new HttpError(415, 'unsupported_media_type', `expected application/json, got ${ct.slice(0, 100)}`);
    }
    const latin1 = await this.readBody(req, this.config.maxBodyBytes);
    if (latin1.length === 0) throw new HttpError(400, 'bad_json', 'request body is empty; expected JSON');
    // Bodies are UTF-8; only decode when a byte above 0x7f is present.
    const text = /[\u0080-\u00ff]/.test(latin1) ? Buffer.from(latin1, 'latin1').toString('utf8') : latin1;
    if (exceedsJsonDepth(text, MAX_JSON_DEPTH)) throw new HttpError(400, 'bad_json', `JSON nested deeper than ${MAX_JSON_DEPTH} levels`);
    try {
      return JSON.parse(text);
    } catch (e) {
      throw new HttpError(400, 'bad_json', `malformed JSON: ${(e as Error).message.slice(0, 200)}`);
    }
  }

  // ---------------------------------------------------------------------------------------
  // Metrics listener
  // ---------------------------------------------------------------------------------------

  private async handleMetrics(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const path = pathOf(req.url);
    switch (path) {
      case SIDECAR_PATHS.metrics: {
        allow(req, 'GET');
        const text = await this.metrics.registry.metrics();
        res.writeHead(200, { 'content-type': this.metricsContentType, 'content-length': Buffer.byteLength(text) });
        res.end(req.method === 'HEAD' ? undefined : text);
        return;
      }
      case SIDECAR_PATHS.healthz:
      case SIDECAR_PATHS.readyz:
        return this.handleProbe(req, res, path);
      default:
        throw notFound(path);
    }
  }

  /** Largest body the API route of `req` accepts (for Expect: 100-continue). */
  private bodyLimitOf(req: http.IncomingMessage): number {
    const path = pathOf(req.url);
    if (path.startsWith(CACHE_PREFIX)) return this.config.cacheMaxValueBytes;
    if (Gateway.matches(path)) return this.config.providerMaxBodyBytes;
    return this.config.maxBodyBytes;
  }

  private handleProbe(req: http.IncomingMessage, res: http.ServerResponse, path: string): void {
    allow(req, 'GET');
    if (path === SIDECAR_PATHS.healthz) return sendJson(res, 200, { status: 'ok' });
    if (this.ready && this.proxy && !this.proxy.upstreamReady) return sendJson(res, 503, { status: 'agent_not_ready' });
    if (this.ready) return sendJson(res, 200, { status: 'ready' });
    return sendJson(res, 503, { status: this.shuttingDown ? 'shutting_down' : 'starting' });
  }

  // ---------------------------------------------------------------------------------------
  // API listener
  // ---------------------------------------------------------------------------------------

  private handleApi(req: http.IncomingMessage, res: http.ServerResponse): void | Promise<void> {
    const path = pathOf(req.url);
    // The cache read path comes first and stays synchronous: it is the one agents hit hardest.
    if (path.startsWith(CACHE_PREFIX) && path !== SIDECAR_PATHS.cacheStats) return this.handleCache(req, res, path);
    if (Gateway.matches(path)) return this.gateway.handle(req, res);
    switch (path) {
      case SIDECAR_PATHS.executions:
        allow(req, 'POST');
        return this.handleExecutions(req, res);
      case SIDECAR_PATHS.inflight:
        allow(req, 'POST');
        return this.handleInflight(req, res);
      case SIDECAR_PATHS.stats:
        allow(req, 'GET');
        return this.handleStats(res);
      case SIDECAR_PATHS.cacheStats:
        allow(req, 'GET');
        return sendJson(res, 200, this.cache.stats());
      case SIDECAR_PATHS.healthz:
      case SIDECAR_PATHS.readyz:
        return this.handleProbe(req, res, path);
      default:
        throw notFound(path);
    }
  }

  private handleStats(res: http.ServerResponse): void {
    const summary = this.stats.summary();
    const agents = summary.agents.map((a) => ({ ...a, inflight: this.metrics.inflightOf(a.agent) }));
    sendJson(res, 200, { ...summary, agents, cache: this.cache.stats() });
  }

  private async handleExecutions(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const body = await this.readJson(req);
    const { records, errors, tooMany } = validateBatch(body, this.config.agentName, this.config.maxBatchSize);
    if (tooMany !== undefined) {
      throw new HttpError(413, 'batch_too_large', `batch of ${tooMany} records exceeds the limit of ${this.config.maxBatchSize}`);
    }
    if (errors.length > 0) {
      const first = errors[0];
      const where = Array.isArray(body) ? `record ${first.index}` : 'record';
      throw new HttpError(400, 'invalid_record', `${where}: ${first.field ? `${first.field} ` : ''}${first.message} (nothing was recorded)`, errors);
    }
    const now = Date.now();
    for (let i = 0; i < records.length; i++) {
      const r = records[i];
      const series = this.metrics.observe(r);
      // With the proxy, /v1/stats counts each invocation once, from the proxy.
      if (!this.proxy) this.stats.observe(series.tuple.agent, r, now);
    }
    sendJson(res, 202, { accepted: records.length });
  }

  private async handleInflight(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const body = await this.readJson(req);
    const { agent, delta, value, errors } = validateInflight(body, this.config.agentName);
    if (errors.length > 0) throw new HttpError(400, 'invalid_request', `${errors[0].field ? `${errors[0].field} ` : ''}${errors[0].message}`, errors);
    const now = this.metrics.adjustInflight(agent, delta, value);
    sendJson(res, 200, { agent, inflight: now });
  }

  private handleCache(req: http.IncomingMessage, res: http.ServerResponse, path: string): void | Promise<void> {
    const rest = path.slice(CACHE_PREFIX.length);
    const slash = rest.indexOf('/');
    const ns = slash < 0 ? rest : rest.slice(0, slash);
    if (!NAMESPACE_RE.test(ns)) {
      throw new HttpError(400, 'invalid_namespace', `namespace must match ${NAMESPACE_RE.source}, got "${ns.slice(0, 80)}"`);
    }
    // /v1/cache/stats is the statistics route: a namespace of that name could be written but never cleared.
    if (ns === RESERVED_NAMESPACE) throw new HttpError(400, 'invalid_namespace', `namespace "${RESERVED_NAMESPACE}" is reserved (GET /v1/cache/stats is the statistics route)`);
    if (slash < 0 || slash === rest.length - 1) {
      // /v1/cache/{namespace}: only DELETE (clear the namespace).
      allow(req, 'DELETE');
      const removed = this.cache.deletePrefix(`${ns}/`);
      return sendJson(res, 200, { namespace: ns, deleted: removed });
    }
    let key = rest.slice(slash + 1);
    // Internal keys are "namespace/key"; without escapes that is the path remainder as is.
    let fullKey = rest;
    if (key.includes('%')) {
      try {
        key = decodeURIComponent(key);
      } catch {
        throw new HttpError(400, 'invalid_key', 'key is not valid percent-encoding');
      }
      fullKey = `${ns}/${key}`;
    }
    if (key.length > MAX_KEY_LENGTH) throw new HttpError(400, 'invalid_key', `key is longer than ${MAX_KEY_LENGTH} characters`);
    switch (req.method) {
      case 'GET':
      case 'HEAD': {
        const e = this.cache.getLocal(fullKey);
        if (e !== undefined) return sendEntry(req, res, e.v, e.t, 'hit; tier=local');
        if (!this.cache.redis) {
          this.cache.localMisses++;
          this.cache.misses++;
          return sendMiss(res, ns, key);
        }
        return this.cache.getAfterLocalMiss(fullKey).then((remote) => {
          if (remote) sendEntry(req, res, remote.v, remote.t, 'hit; tier=redis');
          else sendMiss(res, ns, key);
        });
      }
      case 'PUT':
        return this.handleCachePut(req, res, fullKey);
      case 'DELETE': {
        const existed = this.cache.delete(fullKey);
        return sendJson(res, 200, { deleted: existed });
      }
      default:
        throw new HttpError(405, 'method_not_allowed', `${req.method} is not allowed here; use GET, PUT or DELETE`, undefined, { allow: 'GET, HEAD, PUT, DELETE' });
    }
  }

  private async handleCachePut(req: http.IncomingMessage, res: http.ServerResponse, fullKey: string): Promise<void> {
    const ttl = parseTtl(req.url!, this.config.cacheDefaultTtlSeconds, this.config.cacheMaxTtlSeconds);
    const value = await this.readBody(req, this.config.cacheMaxValueBytes);
    const contentType = (req.headers['content-type'] ?? 'application/octet-stream').slice(0, 200);
    if (!this.cache.set(fullKey, value, contentType, ttl)) {
      throw new HttpError(413, 'payload_too_large', 'entry is larger than the whole cache');
    }
    res.writeHead(204, { 'x-cache-ttl': String(ttl) });
    res.end();
  }
}
