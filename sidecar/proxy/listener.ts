/**
 * The inbound proxy listener: the agent's front door (modelled on Knative's queue-proxy).
 * Requests pass the concurrency limit (FIFO queue), are forwarded to the agent and measured;
 * probe paths are forwarded without either. Drain: while the sidecar shuts down, responses
 * carry `connection: close` so callers reconnect to other pods; after the drain window the
 * listener stops accepting and waits for every in-flight, queued and upgraded request.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import type * as net from 'node:net';
import type { Logger } from 'pino';
import type { SidecarConfig } from '../config';
import { PROXY_OPERATION_HEADER } from '../contract';
import type { SidecarMetrics } from '../metrics';
import type { StatsCollector } from '../stats';
import { Breaker, RejectReason } from './breaker';
import { clientErrorStatus, pathOf, sendJsonError } from '../http-responses';
import { guardConnections } from '../limits';
import { Forwarder, UpstreamTarget } from './forward';
import { Invocation, Meter } from './meter';
import { UpstreamReadiness } from './readiness';
import { OperationResolver, parsePaths, parseRoutes } from './routes';
import { socketError, Upgrader } from './upgrade';

const REJECT_MESSAGES: Record<RejectReason, string> = {
  queue_full: 'the agent is at its concurrency limit and the queue is full; retry shortly',
  queue_timeout: 'the agent is at its concurrency limit and the request waited too long in the queue; retry shortly',
};

export class InboundProxy {
  readonly server: http.Server;
  readonly pool: http.Agent;
  readonly breaker: Breaker;
  readonly meter: Meter;
  readonly readiness: UpstreamReadiness;
  private readonly forwarder: Forwarder;
  private readonly upgrader: Upgrader;
  private readonly operations: OperationResolver;
  private readonly unmeasured: Set<string>;
  private readonly target: UpstreamTarget;
  private draining = false;
  private readonly retryAfter: string;

  constructor(
    private readonly config: SidecarConfig,
    metrics: SidecarMetrics,
    stats: StatsCollector,
    private readonly log: Logger,
  ) {
    const u = new URL(config.upstream);
    this.target = { hostname: u.hostname.replace(/^\[|\]$/g, ''), port: Number(u.port || 80) };
    // Bounded keep-alive pool: requests beyond maxSockets wait in the agent's own queue.
    this.pool = new http.Agent({ keepAlive: true, maxSockets: config.upstreamMaxSockets, maxFreeSockets: Math.min(config.upstreamMaxSockets, 64), scheduling: 'lifo', timeout: config.upstreamTimeoutMs });
    this.breaker = new Breaker({ maxConcurrency: config.maxConcurrency, maxQueue: config.maxQueue, queueTimeoutMs: config.queueTimeoutMs });
    this.meter = new Meter(metrics, stats, config.agentName);
    this.readiness = new UpstreamReadiness(this.target, config.upstreamReadyPath, config.upstreamReadyIntervalMs, log);
    this.forwarder = new Forwarder(this.target, this.pool, config.upstreamTimeoutMs, this.meter, log, () => this.draining);
    this.upgrader = new Upgrader(this.target, config.upstreamTimeoutMs, this.meter);
    this.operations = new OperationResolver(parseRoutes(config.proxyRoutes));
    this.unmeasured = parsePaths(config.proxyUnmeasuredPaths);
    this.retryAfter = String(Math.max(1, Math.ceil(config.queueTimeoutMs / 1000)));
    metrics.frontDoor = true;
    this.meter.register(metrics.registry, this.breaker, this.pool, () => this.readiness.ready);

    this.server = http.createServer(
      {
        // The whole request may legitimately take long (streamed uploads); slow headers may not.
        requestTimeout: 0,
        headersTimeout: Math.min(config.requestTimeoutMs, 60000),
        keepAliveTimeout: 5000,
        maxHeaderSize: 16384,
        noDelay: true,
      },
      (req, res) => this.handle(req, res),
    );
    // At the cap, the oldest idle connection goes (not the newcomer): the kubelet probes come through here too.
    guardConnections(this.server, config.maxConnections);
    // Idle sockets (no bytes either way) are closed after the upstream timeout: SSE keep-alives keep streams open.
    this.server.timeout = config.upstreamTimeoutMs + 5000;
    this.server.on('upgrade', (req: http.IncomingMessage, socket: net.Socket, head: Buffer) => this.handleUpgrade(req, socket, head));
    this.server.on('clientError', (err: NodeJS.ErrnoException, socket: net.Socket) => {
      const { status, code } = clientErrorStatus(err);
      // Parse errors include request smuggling attempts (Content-Length with Transfer-Encoding, duplicate lengths).
      this.meter.reject(code);
      this.log.debug({ code: err.code }, 'proxy: unparseable request refused');
      if (!socket.writable) {
        socket.destroy();
        return;
      }
      if (socketError(socket, status, code, err.code ?? err.message)) this.meter.respondUnparsed(status);
    });
  }

  get upstreamReady(): boolean {
    return this.readiness.ready;
  }

  async listen(): Promise<number> {
    this.readiness.start();
    return new Promise<number>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.config.proxyPort, this.config.proxyHost, () => {
        this.server.off('error', reject);
        resolve((this.server.address() as AddressInfo).port);
      });
    });
  }

  /** SIGTERM: keep serving, but ask every caller to reconnect elsewhere after its response. */
  startDrain(): void {
    this.draining = true;
  }

  /** Stops accepting; resolves once every in-flight, queued and upgraded request is done. */
  close(): Promise<void> {
    this.draining = true;
    const sweep = setInterval(() => this.server.closeIdleConnections(), 50);
    const closed = new Promise<void>((r) => (this.server.listening ? this.server.close(() => r()) : r()));
    const tunnels = new Promise<void>((resolve) => {
      const check = setInterval(() => {
        if (this.upgrader.tunnels.size === 0) {
          clearInterval(check);
          resolve();
        }
      }, 50);
    });
    return Promise.all([closed, tunnels]).then(() => {
      clearInterval(sweep);
      this.readiness.stop();
      this.pool.destroy();
    });
  }

  /** End of the grace period: cut whatever is still open. */
  destroyAll(): void {
    this.server.closeAllConnections();
    this.upgrader.destroyAll();
    this.readiness.stop();
    this.pool.destroy();
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const path = pathOf(req.url);
    if (this.unmeasured.has(path)) {
      this.forwarder.forward(req, res, undefined);
      return;
    }
    const inv = this.meter.begin(this.operations.resolve(req.headers[PROXY_OPERATION_HEADER], path));
    this.admit(inv, res, () => this.forwarder.forward(req, res, inv), (reason) => {
      if (res.destroyed) return;
      sendJsonError(res, 503, reason, REJECT_MESSAGES[reason], { 'retry-after': this.retryAfter, ...(this.draining ? { connection: 'close' } : {}) });
      inv.respond(503);
    });
  }

  private handleUpgrade(req: http.IncomingMessage, socket: net.Socket, head: Buffer): void {
    socket.on('error', () => socket.destroy());
    const inv = this.meter.begin(this.operations.resolve(req.headers[PROXY_OPERATION_HEADER], pathOf(req.url)));
    this.admit(inv, socket, () => this.upgrader.upgrade(req, socket, head, inv), (reason) => {
      if (socketError(socket, 503, reason, REJECT_MESSAGES[reason], ['retry-after', this.retryAfter])) inv.respond(503);
    });
  }

  /**
   * Through the concurrency limit: `start` once a slot is free (unless the invocation already ended
   * while queued, which gives the slot back), `refuse` when the queue is full or times out. A
   * queued client that leaves (`closer` emits 'close') gives its place up.
   */
  private admit(inv: Invocation, closer: NodeJS.EventEmitter, start: () => void, refuse: (reason: RejectReason) => void): void {
    const cancel = this.breaker.acquire(
      () => {
        if (inv.done) {
          this.breaker.release();
          return;
        }
        inv.release = () => this.breaker.release();
        start();
      },
      (reason) => {
        this.meter.reject(reason);
        refuse(reason);
        inv.end(false, reason);
      },
    );
    if (!inv.done && inv.release === undefined) {
      closer.once('close', () => {
        if (inv.release !== undefined || inv.done) return;
        cancel();
        inv.end(false, 'client_closed');
      });
    }
  }
}
