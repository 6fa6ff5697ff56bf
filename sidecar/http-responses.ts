/** JSON responses, errors and small request helpers of the sidecar API (server.ts). */
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
