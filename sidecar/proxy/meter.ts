/**
 * Measurement of proxied requests. Each one is an invocation in the sidecar's existing metrics
 * (duration histogram, invocations by outcome, errors by type, in-flight gauge, /v1/stats),
 * under the operation name from the header or route table and through the same label caps.
 * The proxy's own figures (time to first byte, bytes, rejections, queue, sockets) are exported
 * here, at scrape time, like the rest of the sidecar's metrics.
 */
import type * as http from 'node:http';
import type * as client from 'prom-client';
import { LABELS, METRICS, PROXY_DEFAULT_OPERATION, TTFB_BUCKETS_SECONDS } from '../contract';
import { HistogramState, registerCollected, Series, SidecarMetrics } from '../metrics';
import type { StatsCollector } from '../stats';
import type { Breaker } from './breaker';
import { STATUS_CLASSES, statusClassIndex } from './status';

/** Per (agent, operation) figures of the proxy; bounded by the label caps. */
class ProxySeries {
  readonly ttfb = new HistogramState(TTFB_BUCKETS_SECONDS);
  requestBytes = 0;
  responseBytes = 0;
  /** Responses the clients got, by status class (index into STATUS_CLASSES). */
  readonly responses = new Float64Array(STATUS_CLASSES.length);
  constructor(
    readonly agent: string,
    readonly operation: string,
  ) {}
}

/**
 * One proxied request from arrival to its end; `end()` counts it exactly once. Bytes go into the
 * series as they flow (a long stream or websocket tunnel is visible at every scrape); the
 * invocation keeps its request total (the retry of a request whose body was sent must not happen).
 */
export class Invocation {
  readonly started = performance.now();
  requestBytes = 0;
  private ended = false;
  /** Set when the request holds a concurrency slot, so the slot is released exactly once. */
  release: (() => void) | undefined;

  constructor(
    private readonly meter: Meter,
    private readonly proxy: ProxySeries,
    readonly agent: string,
    readonly operation: string,
  ) {}

  get done(): boolean {
    return this.ended;
  }

  /** Bytes forwarded from the client to the agent (body, or tunnelled after a 101). */
  addRequestBytes(n: number): void {
    this.requestBytes += n;
    this.proxy.requestBytes += n;
  }

  /** Bytes forwarded from the agent to the client (body, or tunnelled after a 101). */
  addResponseBytes(n: number): void {
    this.proxy.responseBytes += n;
  }

  /** The agent's response headers arrived (time to first byte). */
  firstByte(): void {
    this.proxy.ttfb.observe((performance.now() - this.started) / 1000);
  }

  /** A status line (the agent's or the proxy's own) went out to the client. */
  respond(status: number): void {
    this.proxy.responses[statusClassIndex(status)]++;
  }

  end(success: boolean, errorType?: string): void {
    if (this.ended) return;
    this.ended = true;
    const release = this.release;
    this.release = undefined;
    if (release) release();
    this.meter.end(this, performance.now() - this.started, success, errorType);
  }
}

export class Meter {
  private readonly series = new Map<string, ProxySeries>();
  private readonly rejected = new Map<string, number>();

  constructor(
    private readonly metrics: SidecarMetrics,
    private readonly stats: StatsCollector,
    private readonly agentName: string,
  ) {}

  begin(operation: string): Invocation {
    this.metrics.adjustProxied(this.agentName, 1);
    return new Invocation(this, this.proxySeries(this.agentName, operation), this.agentName, operation);
  }

  /** A request the proxy answered itself (queue full, upstream down, ...). */
  reject(reason: string): void {
    this.rejected.set(reason, (this.rejected.get(reason) ?? 0) + 1);
  }

  /** A response to a request that could not be parsed (no invocation exists for it): the default operation. */
  respondUnparsed(status: number): void {
    this.proxySeries(this.agentName, PROXY_DEFAULT_OPERATION).responses[statusClassIndex(status)]++;
  }

  end(inv: Invocation, durationMs: number, success: boolean, errorType: string | undefined): void {
    this.metrics.adjustProxied(inv.agent, -1);
    const s: Series = this.metrics.seriesFor(inv.agent, inv.operation, '', success ? '' : (errorType ?? '_OTHER'));
    this.metrics.observeInvocation(s, durationMs, success);
    this.stats.observe(s.tuple.agent, { agent: s.tuple.agent, operation: s.tuple.operation, durationMs, success, errorType: success ? undefined : errorType }, Date.now());
  }

  private proxySeries(agentName: string, operationName: string): ProxySeries {
    const key = `${agentName}\u0001${operationName}`;
    let p = this.series.get(key);
    if (!p) {
      // Resolve through the same caps as the invocation series: folded names share one entry.
      const l = this.metrics.limiter;
      const agent = l.agent.resolve(agentName);
      const operation = l.operation.resolve(operationName);
      const folded = `${agent}\u0001${operation}`;
      p = this.series.get(folded) ?? new ProxySeries(agent, operation);
      this.series.set(folded, p);
      // Only names kept as they are get a memo entry of their own (a flood of folded names must not grow the map).
      if (folded === key) this.series.set(key, p);
    }
    return p;
  }

  /** Registers the proxy's metrics; `breaker`, `pool` and `ready` are read at scrape time. */
  register(registry: client.Registry, breaker: Breaker, pool: http.Agent, ready: () => boolean): void {
    const labels = (p: ProxySeries) => ({ [LABELS.agentName]: p.agent, [LABELS.operationName]: p.operation });
    const unique = () => [...new Set(this.series.values())];
    registerCollected(registry, METRICS.proxyTimeToFirstByte, 'Inbound proxy: seconds from request arrival to the agent\'s response headers.', 'histogram', () =>
      unique().filter((p) => p.ttfb.count > 0).flatMap((p) => p.ttfb.values(METRICS.proxyTimeToFirstByte, labels(p))),
    );
    registerCollected(registry, METRICS.proxyRequestBytes, 'Inbound proxy: request body bytes (and websocket bytes client to agent) forwarded to the agent.', 'counter', () =>
      unique().map((p) => ({ labels: labels(p), value: p.requestBytes })),
    );
    registerCollected(registry, METRICS.proxyResponseBytes, 'Inbound proxy: response body bytes (and websocket bytes agent to client) forwarded from the agent.', 'counter', () =>
      unique().map((p) => ({ labels: labels(p), value: p.responseBytes })),
    );
    registerCollected(registry, METRICS.proxyResponses, 'Inbound proxy: responses sent to clients (the agent\'s and the proxy\'s own), by status class.', 'counter', () =>
      unique().flatMap((p) =>
        STATUS_CLASSES.flatMap((c, i) => (p.responses[i] > 0 ? [{ labels: { ...labels(p), [LABELS.statusClass]: c }, value: p.responses[i] }] : [])),
      ),
    );
    registerCollected(registry, METRICS.proxyRejected, 'Inbound proxy: requests answered by the proxy itself, by reason.', 'counter', () =>
      [...this.rejected].map(([reason, value]) => ({ labels: { [LABELS.reason]: reason }, value })),
    );
    registerCollected(registry, METRICS.proxyQueued, 'Inbound proxy: requests waiting for a concurrency slot.', 'gauge', () => [{ labels: {}, value: breaker.queued }]);
    registerCollected(registry, METRICS.proxyConcurrencyLimit, 'Inbound proxy: concurrency limit (0: none).', 'gauge', () => [{ labels: {}, value: breaker.capacity }]);
    registerCollected(registry, METRICS.proxyUpstreamSockets, 'Inbound proxy: sockets to the agent by state.', 'gauge', () => {
      const count = (m: NodeJS.ReadOnlyDict<unknown[]>) => Object.values(m).reduce((n, l) => n + (l?.length ?? 0), 0);
      const idle = count(pool.freeSockets);
      return [
        { labels: { [LABELS.socketState]: 'active' }, value: count(pool.sockets) },
        { labels: { [LABELS.socketState]: 'idle' }, value: idle },
      ];
    });
    registerCollected(registry, METRICS.proxyUpstreamReady, 'Inbound proxy: 1 while the agent\'s readiness path answers.', 'gauge', () => [{ labels: {}, value: ready() ? 1 : 0 }]);
  }
}
