/**
 * One HTTP call to a provider: headers passed through (hop-by-hop ones and the gateway's own
 * x-sidecar-* headers removed), TLS originated here with Node's default certificate
 * verification, keep-alive connections per provider, and transport failures classified.
 */
import * as http from 'node:http';
import * as https from 'node:https';
import type { Provider } from './providers';

/** Hop-by-hop headers (RFC 9110 7.6.1) and those this hop recomputes. */
const DROP_REQUEST = new Set([
  'connection', 'keep-alive', 'proxy-connection', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding', 'upgrade',
  'host', 'content-length', 'expect', 'accept-encoding',
]);

/**
 * The caller's headers as the provider gets them; API keys pass through untouched. No
 * x-forwarded-* (unlike the inbound proxy): the provider has no use for the pod's addresses.
 */
export function upstreamHeaders(incoming: http.IncomingHttpHeaders, bodyLength: number | undefined, host: string): http.OutgoingHttpHeaders {
  const listed = new Set(String(incoming.connection ?? '').split(',').map((t) => t.trim().toLowerCase()).filter(Boolean));
  const out: http.OutgoingHttpHeaders = {};
  for (const [k, v] of Object.entries(incoming)) {
    if (v === undefined || DROP_REQUEST.has(k) || listed.has(k) || k.startsWith('x-sidecar-')) continue;
    out[k] = v;
  }
  out.host = host;
  // Usage is read from the body: ask for it uncompressed.
  out['accept-encoding'] = 'identity';
  if (bodyLength !== undefined) out['content-length'] = bodyLength;
  return out;
}

/** A transport failure, classified for error_type and the agent's error response. */
export class UpstreamError extends Error {
  constructor(
    /** unreachable | tls | timeout | reset | error */
    readonly kind: 'unreachable' | 'tls' | 'timeout' | 'reset' | 'error',
    message: string,
  ) {
    super(message);
  }
}

const TLS_CODES = /^(ERR_TLS_|CERT_|UNABLE_TO_|DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|ERR_SSL_|HOSTNAME_MISMATCH|ERR_OSSL)/;

export function classify(e: unknown): UpstreamError {
  if (e instanceof UpstreamError) return e;
  const err = e as NodeJS.ErrnoException;
  const code = err?.code ?? '';
  if (TLS_CODES.test(code) || /certificate|SSL routines|self[- ]signed/i.test(err?.message ?? '')) {
    return new UpstreamError('tls', `TLS to the provider failed: ${code || err.message}`);
  }
  if (code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'EAI_AGAIN' || code === 'EHOSTUNREACH' || code === 'ENETUNREACH') {
    return new UpstreamError('unreachable', `provider unreachable: ${code}`);
  }
  if (code === 'ETIMEDOUT') return new UpstreamError('timeout', 'provider timed out');
  if (code === 'ECONNRESET' || code === 'EPIPE' || code === 'ERR_STREAM_PREMATURE_CLOSE' || err?.message === 'aborted') {
    return new UpstreamError('reset', 'the provider closed the connection');
  }
  return new UpstreamError('error', `provider call failed: ${code || err?.message || 'unknown error'}`);
}

/** Keep-alive agents, one per provider. */
export function agentFor(p: Provider): http.Agent {
  const opts = { keepAlive: true, maxSockets: 256, maxFreeSockets: 32, scheduling: 'lifo' as const };
  return p.url.protocol === 'https:' ? new https.Agent(opts) : new http.Agent(opts);
}

export interface SentRequest {
  readonly req: http.ClientRequest;
  /** Resolves with the response head, rejects with an UpstreamError. */
  readonly response: Promise<http.IncomingMessage>;
}

/**
 * Starts a call. `timeoutMs` bounds the wait for the response head; the caller bounds the gaps
 * between body chunks with the same socket timeout.
 */
export function send(url: URL, method: string, headers: http.OutgoingHttpHeaders, body: Buffer | undefined, agent: http.Agent, timeoutMs: number): SentRequest {
  const mod = url.protocol === 'https:' ? https : http;
  const req = mod.request(url, { method, headers, agent });
  const response = new Promise<http.IncomingMessage>((resolve, reject) => {
    const timer = setTimeout(() => req.destroy(new UpstreamError('timeout', `no response from the provider within ${timeoutMs} ms`)), timeoutMs);
    req.once('response', (res) => {
      clearTimeout(timer);
      resolve(res);
    });
    req.once('error', (e) => {
      clearTimeout(timer);
      reject(classify(e));
    });
  });
  // A rejection nobody awaits (the caller aborted first) must not surface as unhandled.
  response.catch(() => undefined);
  req.end(body);
  return { req, response };
}
