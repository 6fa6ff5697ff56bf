/**
 * Forwarding of one proxied request to the agent: node:http over a bounded keep-alive pool,
 * bodies streamed both ways chunk by chunk with backpressure (never buffered whole), the
 * outcome classified for the metrics. Every path ends the Invocation exactly once, which keeps
 * the in-flight gauge and the concurrency slots exact whatever the client or the agent does.
 */
import * as http from 'node:http';
import type { Logger } from 'pino';
import { sendJsonError } from '../http-responses';
import { clientResponseHeaders, hasHeader, upstreamRequestHeaders } from './headers';
import type { Invocation, Meter } from './meter';
import { statusOutcome } from './status';

export interface UpstreamTarget {
  readonly hostname: string;
  readonly port: number;
}

/** Why the proxy answered instead of the agent: status, code (also the metric's error_type). */
export interface UpstreamFailure {
  readonly status: number;
  readonly code: string;
  readonly message: string;
}

const RETRYABLE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** Maps an upstream error to the status and error type the client and the metrics see. */
export function classifyUpstreamError(err: NodeJS.ErrnoException): UpstreamFailure {
  const code = err.code ?? '';
  if (code === 'ECONNREFUSED') return { status: 502, code: 'upstream_refused', message: 'the agent refused the connection (is it listening on its port?)' };
  if (code === 'UPSTREAM_TIMEOUT' || code === 'ETIMEDOUT') return { status: 504, code: 'upstream_timeout', message: 'the agent did not answer in time' };
  if (code.startsWith('HPE_')) return { status: 502, code: 'upstream_malformed', message: `the agent sent a malformed HTTP response (${code})` };
  if (code === 'ECONNRESET' || code === 'EPIPE' || /socket hang up/.test(err.message)) return { status: 502, code: 'upstream_reset', message: 'the agent closed the connection before answering' };
  return { status: 502, code: 'upstream_error', message: `cannot reach the agent (${code || err.message})` };
}

export class Forwarder {
  constructor(
    private readonly target: UpstreamTarget,
    private readonly pool: http.Agent,
    private readonly timeoutMs: number,
    private readonly meter: Meter,
    private readonly log: Logger,
    /** True while draining: responses then carry `connection: close`. */
    private readonly draining: () => boolean,
  ) {}

  /**
   * Forwards `req` and streams the answer into `res`. `inv` is undefined for unmeasured paths
   * (probes). Client disconnects abort the upstream request.
   */
  forward(req: http.IncomingMessage, res: http.ServerResponse, inv: Invocation | undefined, retried = false): void {
    const headers = upstreamRequestHeaders(req.rawHeaders, { remoteAddress: req.socket.remoteAddress });
    const ureq = http.request({
      agent: this.pool,
      hostname: this.target.hostname,
      port: this.target.port,
      method: req.method,
      path: req.url,
      headers,
      setHost: false,
      timeout: this.timeoutMs,
      maxHeaderSize: 32768,
    });
    let responded = false;
    let timedOut = false;

    const onClientClose = () => {
      if (res.writableFinished) return;
      // The client went away mid-request or mid-stream: stop the agent's work too.
      ureq.destroy();
      inv?.end(false, 'client_closed');
    };
    res.once('close', onClientClose);

    ureq.on('timeout', () => {
      const e: NodeJS.ErrnoException = new Error('upstream timeout');
      e.code = 'UPSTREAM_TIMEOUT';
      timedOut = true;
      ureq.destroy(e);
    });

    ureq.on('error', (err: NodeJS.ErrnoException) => {
      if (responded) return; // handled by the response's close
      if (res.destroyed || inv?.done) return;
      // A pooled socket the agent closed while idle: safe to retry once for bodiless, idempotent requests.
      if (!retried && ureq.reusedSocket && RETRYABLE_METHODS.has(req.method ?? '') && req.complete && (inv?.requestBytes ?? 0) === 0 && err.code === 'ECONNRESET') {
        res.off('close', onClientClose);
        this.forward(req, res, inv, true);
        return;
      }
      const f = classifyUpstreamError(err);
      this.meter.reject(f.code);
      this.log.debug({ err: err.message, code: f.code, url: req.url?.slice(0, 200) }, 'upstream request failed');
      if (!res.headersSent) {
        sendJsonError(res, f.status, f.code, f.message, this.draining() ? { connection: 'close' } : {});
        inv?.respond(f.status);
      } else res.destroy();
      inv?.end(false, f.code);
    });

    ureq.on('response', (ures) => {
      responded = true;
      inv?.firstByte();
      const raw = clientResponseHeaders(ures.rawHeaders);
      if (this.draining()) raw.push('connection', 'close');
      const status = ures.statusCode ?? 502;
      res.writeHead(status, ures.statusMessage, raw);
      if (!res.destroyed) inv?.respond(status);
      // Streams (SSE, chunked) get their headers now, not with the first chunk.
      if (!hasHeader(ures.rawHeaders, 'content-length')) res.flushHeaders();
      ures.on('data', (chunk: Buffer) => {
        inv?.addResponseBytes(chunk.length);
        if (!res.write(chunk)) ures.pause();
      });
      res.on('drain', () => ures.resume());
      ures.on('end', () => {
        if (ures.trailers && Object.keys(ures.trailers).length > 0) res.addTrailers(ures.trailers);
        res.end();
        const o = statusOutcome(status);
        inv?.end(o.success, o.errorType);
      });
      ures.on('error', () => {
        /* reported through 'close' */
      });
      ures.on('close', () => {
        if (ures.complete) return;
        // The agent closed (or timed out) mid-response: the client must see a cut stream, not a clean end.
        const code = timedOut ? 'upstream_timeout' : 'upstream_reset';
        if (inv && !inv.done && !res.destroyed) this.meter.reject(code);
        res.destroy();
        inv?.end(false, code);
      });
    });

    req.on('data', (chunk: Buffer) => {
      inv?.addRequestBytes(chunk.length);
      if (!ureq.write(chunk)) req.pause();
    });
    ureq.on('drain', () => req.resume());
    if (req.complete && req.readableEnded) ureq.end();
    else req.once('end', () => ureq.end());
  }
}
