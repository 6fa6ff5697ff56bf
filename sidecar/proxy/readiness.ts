/**
 * The agent's readiness, polled: the sidecar's /readyz is only 200 while the agent's own
 * readiness path answers 2xx/3xx, so the Service routes only to pods whose agent is ready.
 * Without a path the agent counts as ready (nothing to ask).
 */
import * as http from 'node:http';
import type { Logger } from 'pino';
import type { UpstreamTarget } from './forward';

export class UpstreamReadiness {
  private state: boolean;
  private timer: NodeJS.Timeout | undefined;
  private polling = false;

  constructor(
    private readonly target: UpstreamTarget,
    private readonly path: string | undefined,
    private readonly intervalMs: number,
    private readonly log: Logger,
  ) {
    this.state = path === undefined;
  }

  get ready(): boolean {
    return this.state;
  }

  start(): void {
    if (this.path === undefined || this.timer) return;
    this.poll();
    this.timer = setInterval(() => this.poll(), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** One check now; resolves with the new state (tests and startup use it). */
  check(): Promise<boolean> {
    return new Promise((resolve) => {
      if (this.path === undefined) return resolve(true);
      // A fresh connection each time: the pool's sockets are for traffic, and a probe must not queue behind it.
      const req = http.get({ hostname: this.target.hostname, port: this.target.port, path: this.path, agent: false, timeout: Math.min(this.intervalMs, 2000), headers: { 'user-agent': 'agent-sidecar-readiness' } }, (res) => {
        res.resume();
        res.once('end', () => resolve(res.statusCode !== undefined && res.statusCode < 400));
        res.once('error', () => resolve(false));
      });
      req.once('timeout', () => req.destroy());
      req.once('error', () => resolve(false));
    });
  }

  private poll(): void {
    if (this.polling) return;
    this.polling = true;
    void this.check().then((ok) => {
      this.polling = false;
      if (ok !== this.state) this.log.info({ ready: ok, path: this.path }, ok ? 'agent is ready' : 'agent is not ready');
      this.state = ok;
    });
  }
}
