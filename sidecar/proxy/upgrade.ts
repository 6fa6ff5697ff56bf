/**
 * HTTP/1.1 upgrades (websockets) are passed through: the handshake is forwarded to the agent
 * on a connection of its own (never a pooled one), and once the agent answers 101 the two
 * sockets are piped together until either side closes. The session counts as one invocation
 * (its duration is the session's) and holds a concurrency slot while open; its bytes count in
 * the proxy's byte counters as they flow. An agent that refuses the upgrade has its answer relayed
 * as is.
 */
import * as http from 'node:http';
import type * as net from 'node:net';
import { rawJsonError, rawResponseHead } from '../http-responses';
import { clientResponseHeaders, upstreamRequestHeaders } from './headers';
import { classifyUpstreamError, UpstreamTarget } from './forward';
import type { Invocation, Meter } from './meter';
import { statusOutcome } from './status';

const MAX_REFUSAL_BODY = 65536;

/**
 * Writes a small JSON error on a raw socket (no http.ServerResponse exists for an upgrade) and
 * closes it; false when the client was already gone (no response went out).
 */
export function socketError(socket: net.Socket, status: number, code: string, message: string, extra: string[] = []): boolean {
  if (socket.writable) {
    socket.end(rawJsonError(status, code, message, extra));
    return true;
  }
  socket.destroy();
  return false;
}

export class Upgrader {
  /** Open tunnels (client side), so a drain can wait for them and the grace end can cut them. */
  readonly tunnels = new Set<net.Socket>();

  constructor(
    private readonly target: UpstreamTarget,
    private readonly timeoutMs: number,
    private readonly meter: Meter,
  ) {}

  upgrade(req: http.IncomingMessage, socket: net.Socket, head: Buffer, inv: Invocation): void {
    const upgrade = String(req.headers.upgrade ?? '');
    const ureq = http.request({
      agent: false,
      hostname: this.target.hostname,
      port: this.target.port,
      method: req.method,
      path: req.url,
      headers: upstreamRequestHeaders(req.rawHeaders, { remoteAddress: socket.remoteAddress }, upgrade),
      setHost: false,
      timeout: this.timeoutMs,
    });
    const onEarlyClose = () => {
      ureq.destroy();
      inv.end(false, 'client_closed');
    };
    socket.once('close', onEarlyClose);

    ureq.on('timeout', () => {
      const e: NodeJS.ErrnoException = new Error('upstream timeout');
      e.code = 'UPSTREAM_TIMEOUT';
      ureq.destroy(e);
    });
    ureq.on('error', (err: NodeJS.ErrnoException) => {
      if (inv.done) return;
      const f = classifyUpstreamError(err);
      this.meter.reject(f.code);
      if (socketError(socket, f.status, f.code, f.message)) inv.respond(f.status);
      inv.end(false, f.code);
    });
    // The agent did not switch protocols: relay its answer (up to 64 KiB of body) and close.
    ureq.on('response', (ures) => {
      inv.firstByte();
      const status = ures.statusCode ?? 502;
      // The body is relayed whole, with its own length: the agent's framing headers go too.
      const kept = clientResponseHeaders(ures.rawHeaders);
      const headers: string[] = [];
      for (let i = 0; i < kept.length; i += 2) if (kept[i].toLowerCase() !== 'content-length') headers.push(kept[i], kept[i + 1]);
      const chunks: Buffer[] = [];
      let size = 0;
      ures.on('data', (c: Buffer) => {
        if (size < MAX_REFUSAL_BODY) chunks.push(c);
        size += c.length;
      });
      ures.on('end', () => {
        const body = Buffer.concat(chunks).subarray(0, MAX_REFUSAL_BODY);
        socket.off('close', onEarlyClose);
        headers.push('content-length', String(body.length), 'connection', 'close');
        if (socket.writable) {
          socket.end(Buffer.concat([Buffer.from(rawResponseHead(status, ures.statusMessage ?? '', headers), 'latin1'), body]));
          inv.respond(status);
          inv.addResponseBytes(body.length);
        }
        const o = statusOutcome(status);
        inv.end(o.success, o.errorType);
      });
      ures.on('error', () => socket.destroy());
    });
    ureq.on('upgrade', (ures, usocket: net.Socket, uhead: Buffer) => {
      inv.firstByte();
      socket.off('close', onEarlyClose);
      if (!socket.writable) {
        usocket.destroy();
        inv.end(false, 'client_closed');
        return;
      }
      socket.write(rawResponseHead(ures.statusCode ?? 101, ures.statusMessage ?? 'Switching Protocols', ures.rawHeaders));
      inv.respond(ures.statusCode ?? 101);
      // Bytes that came with the handshakes are tunnelled bytes too (the headers are not counted).
      if (uhead.length) {
        socket.write(uhead);
        inv.addResponseBytes(uhead.length);
      }
      if (head.length) {
        usocket.write(head);
        inv.addRequestBytes(head.length);
      }
      this.tunnels.add(socket);
      usocket.on('error', () => usocket.destroy());
      usocket.setTimeout(0);
      socket.setTimeout(0);
      socket.on('data', (c: Buffer) => inv.addRequestBytes(c.length));
      usocket.on('data', (c: Buffer) => inv.addResponseBytes(c.length));
      socket.pipe(usocket);
      usocket.pipe(socket);
      const close = () => {
        socket.destroy();
        usocket.destroy();
        this.tunnels.delete(socket);
        inv.end(true);
      };
      socket.once('close', close);
      usocket.once('close', close);
    });
    ureq.end();
  }

  /** Cuts every open tunnel (end of the shutdown grace). */
  destroyAll(): void {
    for (const s of this.tunnels) s.destroy();
  }
}
