/**
 * A loopback TCP proxy for fault injection: forwards 127.0.0.1:<port> to a target port and can
 * add latency, stop forwarding (a black hole that keeps the sockets open) or reset every
 * connection. Test-only; binds 127.0.0.1 on a free port.
 */
import * as net from 'node:net';

export interface TcpProxy {
  readonly port: number;
  /** Delay added to every chunk in both directions (0: none). */
  latencyMs: number;
  /** While true, bytes are held back (not forwarded, not dropped) and sockets stay open. */
  blackhole: boolean;
  /** Destroys every open connection (both sides see a reset). */
  resetAll(): void;
  /** While true, new connections are reset as soon as they arrive. */
  refuse: boolean;
  readonly connections: number;
  close(): Promise<void>;
}

export async function startTcpProxy(targetPort: number): Promise<TcpProxy> {
  const open = new Set<net.Socket>();
  const state = { latencyMs: 0, blackhole: false, refuse: false };
  const held: (() => void)[] = [];

  const pipe = (from: net.Socket, to: net.Socket) => {
    from.on('data', (chunk: Buffer) => {
      const send = () => {
        if (!to.destroyed) to.write(chunk);
      };
      const forward = () => (state.latencyMs > 0 ? setTimeout(send, state.latencyMs) : send());
      if (state.blackhole) held.push(forward);
      else forward();
    });
  };

  const server = net.createServer((client) => {
    if (state.refuse) {
      client.resetAndDestroy();
      return;
    }
    const upstream = net.connect({ host: '127.0.0.1', port: targetPort });
    for (const s of [client, upstream]) {
      open.add(s);
      s.on('close', () => {
        open.delete(s);
        client.destroy();
        upstream.destroy();
      });
      s.on('error', () => undefined);
    }
    pipe(client, upstream);
    pipe(upstream, client);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    get latencyMs() {
      return state.latencyMs;
    },
    set latencyMs(v: number) {
      state.latencyMs = v;
    },
    get blackhole() {
      return state.blackhole;
    },
    set blackhole(v: boolean) {
      state.blackhole = v;
      if (!v) for (const f of held.splice(0)) f();
    },
    get refuse() {
      return state.refuse;
    },
    set refuse(v: boolean) {
      state.refuse = v;
    },
    resetAll() {
      held.length = 0;
      for (const s of [...open]) s.resetAndDestroy();
    },
    get connections() {
      return open.size / 2;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of [...open]) s.destroy();
        server.close(() => resolve());
      }),
  };
}
