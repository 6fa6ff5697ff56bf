/** JSON responses, errors and small request helpers of the sidecar's listeners (API, metrics, proxy). */
import { STATUS_CODES } from 'node:http';
import type * as http from 'node:http';

export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
    readonly headers?: Record<string, string>,
    /** Close the connection after the response (the body was not read). */
    readonly close = false,
  ) {
    super(message);
  }
}

const JSON_HEADERS = { 'content-type': 'application/json; charset=utf-8' };

export function sendJson(res: http.ServerResponse, status: number, body: unknown, extra?: Record<string, string>): void {
  const text = JSON.stringify(body);
  res.writeHead(status, extra ? { ...JSON_HEADERS, ...extra, 'content-length': Buffer.byteLength(text) } : { ...JSON_HEADERS, 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** `{ "error": { code, message } }` as the response. */
export function sendJsonError(res: http.ServerResponse, status: number, code: string, message: string, extra?: Record<string, string>): void {
  sendJson(res, status, { error: { code, message } }, extra);
}

/** A response head for a raw socket (`headers`: flat name/value pairs). */
export function rawResponseHead(status: number, message: string, headers: readonly string[]): string {
  let head = `HTTP/1.1 ${status} ${message}\r\n`;
  for (let i = 0; i < headers.length; i += 2) head += `${headers[i]}: ${headers[i + 1]}\r\n`;
  return `${head}\r\n`;
}

/**
 * A whole JSON error response for a raw socket, where no http.ServerResponse exists (parse
 * errors, CONNECT, upgrades), with `connection: close`; `extra` are more flat header pairs.
 */
export function rawJsonError(status: number, code: string, message: string, extra: readonly string[] = []): string {
  const body = JSON.stringify({ error: { code, message } });
  return rawResponseHead(status, STATUS_CODES[status] ?? 'Error', ['content-type', JSON_HEADERS['content-type'], 'content-length', String(Buffer.byteLength(body)), 'connection', 'close', ...extra]) + body;
}

/** Status and code for a request Node's HTTP parser refused (a server's `clientError`). */
export function clientErrorStatus(err: NodeJS.ErrnoException): { status: number; code: string } {
  if (err.code === 'HPE_HEADER_OVERFLOW') return { status: 431, code: 'headers_too_large' };
  if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') return { status: 408, code: 'request_timeout' };
  return { status: 400, code: 'bad_request' };
}

export function sendEntry(req: http.IncomingMessage, res: http.ServerResponse, v: string, t: string, xcache: string): void {
  // Flat header array: skips the per-request object walk of writeHead(status, {..}).
  res.writeHead(200, ['content-type', t, 'content-length', String(v.length), 'x-cache', xcache]);
  if (req.method === 'HEAD') res.end();
  else res.end(v, 'latin1');
}

const MISS_HEADERS = { ...JSON_HEADERS, 'x-cache': 'miss' };
export function sendMiss(res: http.ServerResponse, ns: string, key: string): void {
  const text = JSON.stringify({ error: { code: 'cache_miss', message: `no entry for ${ns}/${key.slice(0, 100)}` } });
  res.writeHead(404, { ...MISS_HEADERS, 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

export function pathOf(url: string | undefined): string {
  if (!url) return '/';
  const q = url.indexOf('?');
  return q < 0 ? url : url.slice(0, q);
}

export function allow(req: http.IncomingMessage, method: 'GET' | 'POST' | 'DELETE'): void {
  if (req.method === method || (method === 'GET' && req.method === 'HEAD')) return;
  const allowed = method === 'GET' ? 'GET, HEAD' : method;
  throw new HttpError(405, 'method_not_allowed', `${req.method} is not allowed here; use ${allowed}`, undefined, { allow: allowed });
}

export function notFound(path: string): HttpError {
  return new HttpError(404, 'not_found', `no route for ${path.slice(0, 200)}`);
}

/** `?ttl=` in whole seconds, 1..max; absent means the default. */
export function parseTtl(url: string, def: number, max: number): number {
  const q = url.indexOf('?');
  if (q < 0) return def;
  const raw = new URLSearchParams(url.slice(q + 1)).get('ttl');
  if (raw === null) return def;
  if (!/^\d+$/.test(raw)) throw new HttpError(400, 'invalid_ttl', `ttl must be a whole number of seconds, got "${raw.slice(0, 40)}"`);
  const n = Number(raw);
  if (n < 1 || n > max) throw new HttpError(400, 'invalid_ttl', `ttl must be between 1 and ${max} seconds, got ${n}`);
  return n;
}
