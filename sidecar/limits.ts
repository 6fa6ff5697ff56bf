/**
 * Connection- and protocol-level guards for the sidecar's HTTP listeners: a connection cap that
 * idle connections cannot use to starve the kubelet's probes, and JSON answers for the requests
 * Node would otherwise answer (or not) on its own: CONNECT, `Expect` other than 100-continue, and
 * `Expect: 100-continue` on a body that is too large (413 instead of 100).
 */
import type * as http from 'node:http';
import type { Socket } from 'node:net';
import { rawJsonError, sendJsonError } from './http-responses';

interface Tracked {
  /** A request is being read or answered on it. */
  busy: boolean;
}

export interface ConnectionGuard {
  /** Open connections. */
  readonly open: number;
  /** Idle connections closed to make room for a new one. */
  readonly evicted: number;
  /** New connections refused because every open one was busy. */
  readonly refused: number;
}

/**
 * Caps the open connections of `server` at `max`. At the cap, a new connection closes the oldest
 * idle one (connected without a request in progress: never sent one, or keep-alive between two)
 * instead of being refused: a flood of idle connections cannot keep a kubelet probe, which sends
 * its request at once, from being served. Only when all `max` are busy is the new one refused.
 * Node's own `server.maxConnections` refuses the newcomer whatever the others do, so it is unset.
 */
export function guardConnections(server: http.Server, max: number): ConnectionGuard {
  const sockets = new Map<Socket, Tracked>();
  const stats = { evicted: 0, refused: 0 };
  server.maxConnections = Infinity;
  server.on('connection', (socket: Socket) => {
    if (sockets.size >= max) {
      let victim: Socket | undefined;
      for (const [s, t] of sockets) {
        if (!t.busy) {
          victim = s;
          break;
        }
      }
      if (victim) {
        stats.evicted++;
        sockets.delete(victim);
        victim.destroy();
      } else {
        stats.refused++;
        socket.destroy();
        return;
      }
    }
    const t: Tracked = { busy: false };
    sockets.set(socket, t);
    socket.once('close', () => sockets.delete(socket));
  });
  const onRequest = (req: http.IncomingMessage, res: http.ServerResponse) => {
    const t = sockets.get(req.socket);
    if (!t) return;
    t.busy = true;
    res.once('close', () => {
      t.busy = false;
      // Re-queue as the newest: eviction takes the connection idle the longest.
      if (sockets.delete(req.socket)) sockets.set(req.socket, t);
    });
  };
  server.prependListener('request', onRequest);
  server.prependListener('checkContinue', onRequest);
  server.prependListener('checkExpectation', onRequest);
  return {
    get open() {
      return sockets.size;
    },
    get evicted() {
      return stats.evicted;
    },
    get refused() {
      return stats.refused;
    },
  };
}

export interface ProtocolGuardOptions {
  /** Largest body accepted for this request (by route), or undefined when it takes none. */
  bodyLimit(req: http.IncomingMessage): number;
  /** Handles a request once its Expect: 100-continue was accepted. */
  handle(req: http.IncomingMessage, res: http.ServerResponse): void;
  /** Counts a rejection by code. */
  reject(code: string): void;
}

/** JSON answers for CONNECT, unknown expectations and over-limit `Expect: 100-continue`. */
export function guardProtocol(server: http.Server, opts: ProtocolGuardOptions): void {
  // Without a listener Node closes a CONNECT socket without a word.
  server.on('connect', (req: http.IncomingMessage, socket: Socket) => {
    opts.reject('method_not_allowed');
    socket.on('error', () => undefined);
    socket.end(rawJsonError(405, 'method_not_allowed', 'CONNECT is not supported: the sidecar is not a proxy', ['allow', 'GET, HEAD, POST, PUT, DELETE']));
  });
  // Node's default 417 has no body.
  server.on('checkExpectation', (req: http.IncomingMessage, res: http.ServerResponse) => {
    opts.reject('expectation_failed');
    sendJsonError(res, 417, 'expectation_failed', `unsupported Expect header "${String(req.headers.expect).slice(0, 100)}"; only 100-continue is`, { connection: 'close' });
  });
  // Node sends 100 Continue by itself: the client would then upload a body we refuse anyway.
  server.on('checkContinue', (req: http.IncomingMessage, res: http.ServerResponse) => {
    const declared = Number(req.headers['content-length']);
    const limit = opts.bodyLimit(req);
    if (Number.isFinite(declared) && declared > limit) {
      opts.reject('payload_too_large');
      sendJsonError(res, 413, 'payload_too_large', `body of ${declared} bytes exceeds the limit of ${limit} bytes`, { connection: 'close' });
      return;
    }
    res.writeContinue();
    opts.handle(req, res);
  });
}
