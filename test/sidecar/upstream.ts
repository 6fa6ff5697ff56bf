/**
 * A real agent stand-in for the proxy tests: a node:http server on 127.0.0.1 whose behaviour
 * per path the test controls, recording what reached it. Also raw TCP servers for answers no
 * HTTP library would send (malformed responses).
 */
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import { freePort, startSidecar, SidecarProcess } from '../support/servers';

export interface Seen {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  rawHeaders: string[];
  body: string;
}

export type Handler = (req: http.IncomingMessage, res: http.ServerResponse, body: string) => void;

export interface Upstream {
  readonly port: number;
  readonly url: string;
  readonly seen: Seen[];
  /** Requests whose connection closed before they were answered (aborted by the proxy). */
  readonly aborted: string[];
  /** Open server-side connections right now. */
  connections(): number;
  route(path: string, h: Handler): void;
  onUpgrade(h: (req: http.IncomingMessage, socket: net.Socket, head: Buffer) => void): void;
  close(): Promise<void>;
  /** Same as close (for stopAll). */
  stop(): Promise<void>;
}

export async function startUpstream(): Promise<Upstream> {
  const routes = new Map<string, Handler>();
  const seen: Seen[] = [];
  const aborted: string[] = [];
  const sockets = new Set<net.Socket>();
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    const path = (req.url ?? '/').split('?')[0];
    res.once('close', () => {
      if (!res.writableFinished) aborted.push(path);
    });
    // Streaming handlers get the request before its body has arrived.
    const h = routes.get(path);
    if (h && path.startsWith('/stream-in')) return h(req, res, '');
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, rawHeaders: req.rawHeaders, body });
      if (h) return h(req, res, body);
      const text = JSON.stringify({ ok: true, url: req.url });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
      res.end(text);
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  let upgradeHandler: ((req: http.IncomingMessage, socket: net.Socket, head: Buffer) => void) | undefined;
  server.on('upgrade', (req, socket: net.Socket, head) => {
    if (upgradeHandler) upgradeHandler(req, socket, head);
    else socket.destroy();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as net.AddressInfo).port;
  const close = () =>
    new Promise<void>((r) => {
      for (const s of sockets) s.destroy();
      server.close(() => r());
    });
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    seen,
    aborted,
    connections: () => sockets.size,
    route: (path, h) => routes.set(path, h),
    onUpgrade: (h) => (upgradeHandler = h),
    close,
    stop: close,
  };
}

/** A TCP server that answers every connection with `reply` (raw bytes) and then does `then`. */
export async function startRawUpstream(reply: (socket: net.Socket) => void): Promise<{ port: number; url: string; stop(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('error', () => undefined);
    s.once('close', () => sockets.delete(s));
    s.once('data', () => reply(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    stop: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

export interface ProxiedSidecar extends SidecarProcess {
  readonly proxyPort: number;
  readonly proxyUrl: string;
}

/** The real sidecar process with its inbound proxy on a free loopback port in front of `upstreamUrl`. */
export async function startProxySidecar(upstreamUrl: string, args: string[] = [], env: Record<string, string> = {}): Promise<ProxiedSidecar> {
  const proxyPort = await freePort();
  const sc = await startSidecar(['--proxy', '--proxy-host', '127.0.0.1', '--proxy-port', String(proxyPort), '--upstream', upstreamUrl, ...args], env);
  return Object.assign(sc, { proxyPort, proxyUrl: `http://127.0.0.1:${proxyPort}` });
}

/** Open file descriptors of a process (sockets included), from /proc. */
export function openFds(pid: number): number {
  return fs.readdirSync(`/proc/${pid}/fd`).length;
}

/** A plain HTTP/1.1 request with node:http (no pooling), resolving with status, headers and body. */
export function request(url: string, opts: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<{ status: number; headers: http.IncomingHttpHeaders; rawHeaders: string[]; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: opts.method ?? 'GET', headers: opts.headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, rawHeaders: res.rawHeaders, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}
