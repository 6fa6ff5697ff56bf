/**
 * The operator's summary (GET /v1/stats): per agent counts, rates, latency quantiles, top error
 * types, recent throughput and a ranking.
 *
 * Quantiles come from a DDSketch with 1% relative accuracy: any reported quantile q is within
 * ±1% of a value whose rank is the exact q-rank. Memory per agent is bounded (at most 2048
 * bins, ~16 KiB) no matter how many records arrive, unlike sorting a list of every sample.
 */
import { LogCollapsingLowestDenseDDSketch } from '@datadog/sketches-js';
import { FOLDED_LABEL_VALUE } from './contract';
import type { ExecutionRecord } from './metrics';

/** Relative accuracy of every quantile the sidecar reports. */
export const SKETCH_RELATIVE_ACCURACY = 0.01;
const SKETCH_BIN_LIMIT = 2048;
/** Window of the "recent" throughput figure. */
const WINDOW_SECONDS = 60;
const TOP_ERRORS = 5;

export function newSketch(): LogCollapsingLowestDenseDDSketch {
  return new LogCollapsingLowestDenseDDSketch({ relativeAccuracy: SKETCH_RELATIVE_ACCURACY, binLimit: SKETCH_BIN_LIMIT });
}

/** Per-second counts over the last WINDOW_SECONDS, in a ring. */
class RateWindow {
  private readonly counts = new Float64Array(WINDOW_SECONDS);
  private readonly stamps = new Float64Array(WINDOW_SECONDS);
  add(nowSec: number, n = 1): void {
    const i = nowSec % WINDOW_SECONDS;
    if (this.stamps[i] !== nowSec) {
      this.stamps[i] = nowSec;
      this.counts[i] = 0;
    }
    this.counts[i] += n;
  }
  /** Records per second over the last full window (the current second excluded, it is partial). */
  rate(nowSec: number): number {
    let total = 0;
    for (let i = 0; i < WINDOW_SECONDS; i++) {
      const age = nowSec - this.stamps[i];
      if (age >= 1 && age <= WINDOW_SECONDS) total += this.counts[i];
    }
    return total / WINDOW_SECONDS;
  }
}

class AgentStats {
  count = 0;
  success = 0;
  failure = 0;
  sumMs = 0;
  minMs = Infinity;
  maxMs = 0;
  firstSeen = 0;
  lastSeen = 0;
  readonly sketch = newSketch();
  readonly errors = new Map<string, number>();
  readonly operations = new Map<string, number>();
  readonly window = new RateWindow();
  inputTokens = 0;
  outputTokens = 0;
}

export interface LatencySummary {
  p50: number;
  p95: number;
  p99: number;
  min: number;
  max: number;
  avg: number;
}

export interface AgentSummary {
  agent: string;
  taskCount: number;
  successCount: number;
  failureCount: number;
  successRate: number;
  failureRate: number;
  latencyMs: LatencySummary;
  /** Lifetime average since the agent's first record. */
  throughputPerSecond: number;
  /** Average over the last 60 s. */
  recentThroughputPerSecond: number;
  topErrors: { errorType: string; count: number }[];
  operations: { operation: string; count: number }[];
  tokens: { input: number; output: number };
  lastSeen: string | null;
  /** successRate / (1 + p95 in seconds): rewards reliable, fast agents. */
  score: number;
}

export interface StatsSummary {
  uptimeSeconds: number;
  startedAt: string;
  totals: { taskCount: number; successCount: number; failureCount: number; successRate: number; throughputPerSecond: number };
  quantiles: { method: string; relativeAccuracy: number };
  agents: AgentSummary[];
  ranking: { rank: number; agent: string; score: number; successRate: number; p95Ms: number }[];
}

const round = (x: number, digits = 3) => (Number.isFinite(x) ? Math.round(x * 10 ** digits) / 10 ** digits : 0);

export class StatsCollector {
  private readonly agents = new Map<string, AgentStats>();
  readonly startedAt = Date.now();

  /** `maxLabelValues` bounds the error types and operations kept per agent. */
  constructor(private readonly maxLabelValues: number) {}

  /** `agent` must already be the folded value (the series tuple's agent). */
  observe(agent: string, r: ExecutionRecord, nowMs: number): void {
    let a = this.agents.get(agent);
    if (!a) {
      a = new AgentStats();
      a.firstSeen = nowMs;
      this.agents.set(agent, a);
    }
    a.count++;
    a.lastSeen = nowMs;
    const d = r.durationMs;
    a.sumMs += d;
    if (d < a.minMs) a.minMs = d;
    if (d > a.maxMs) a.maxMs = d;
    a.sketch.accept(d);
    a.window.add(Math.floor(nowMs / 1000));
    if (r.success) a.success++;
    else {
      a.failure++;
      bump(a.errors, r.errorType ?? '_OTHER', this.maxLabelValues);
    }
    bump(a.operations, r.operation, this.maxLabelValues);
    if (r.inputTokens) a.inputTokens += r.inputTokens;
    if (r.outputTokens) a.outputTokens += r.outputTokens;
  }

  summary(nowMs = Date.now()): StatsSummary {
    const uptime = (nowMs - this.startedAt) / 1000;
    const nowSec = Math.floor(nowMs / 1000);
    const agents: AgentSummary[] = [];
    let total = 0;
    let ok = 0;
    for (const [name, a] of this.agents) {
      total += a.count;
      ok += a.success;
      const q = (p: number) => (a.count > 0 ? round(a.sketch.getValueAtQuantile(p)) : 0);
      const p95 = q(0.95);
      const successRate = a.count > 0 ? a.success / a.count : 0;
      const activeSeconds = Math.max(1, (nowMs - a.firstSeen) / 1000);
      agents.push({
        agent: name,
        taskCount: a.count,
        successCount: a.success,
        failureCount: a.failure,
        successRate: round(successRate, 4),
        failureRate: round(a.count > 0 ? a.failure / a.count : 0, 4),
        latencyMs: {
          p50: q(0.5),
          p95,
          p99: q(0.99),
          min: a.count > 0 ? round(a.minMs) : 0,
          max: round(a.maxMs),
          avg: round(a.count > 0 ? a.sumMs / a.count : 0),
        },
        throughputPerSecond: round(a.count / activeSeconds),
        recentThroughputPerSecond: round(a.window.rate(nowSec)),
        topErrors: top(a.errors, TOP_ERRORS).map(([errorType, count]) => ({ errorType, count })),
        operations: top(a.operations, this.maxLabelValues).map(([operation, count]) => ({ operation, count })),
        tokens: { input: a.inputTokens, output: a.outputTokens },
        lastSeen: a.lastSeen ? new Date(a.lastSeen).toISOString() : null,
        score: round(successRate / (1 + p95 / 1000), 4),
      });
    }
    agents.sort((x, y) => x.agent.localeCompare(y.agent));
    const ranking = [...agents]
      .sort((x, y) => y.score - x.score || y.taskCount - x.taskCount || x.agent.localeCompare(y.agent))
      .map((a, i) => ({ rank: i + 1, agent: a.agent, score: a.score, successRate: a.successRate, p95Ms: a.latencyMs.p95 }));
    return {
      uptimeSeconds: round(uptime, 3),
      startedAt: new Date(this.startedAt).toISOString(),
      totals: {
        taskCount: total,
        successCount: ok,
        failureCount: total - ok,
        successRate: round(total > 0 ? ok / total : 0, 4),
        throughputPerSecond: round(total / Math.max(1, uptime)),
      },
      quantiles: { method: 'DDSketch', relativeAccuracy: SKETCH_RELATIVE_ACCURACY },
      agents,
      ranking,
    };
  }

  get agentCount(): number {
    return this.agents.size;
  }
}

/** Increments a bounded counter map: new keys beyond `cap` are counted under `other`. */
function bump(m: Map<string, number>, key: string, cap: number): void {
  const v = m.get(key);
  if (v !== undefined) m.set(key, v + 1);
  else if (m.size < cap) m.set(key, 1);
  else m.set(FOLDED_LABEL_VALUE, (m.get(FOLDED_LABEL_VALUE) ?? 0) + 1);
}

function top(m: Map<string, number>, n: number): [string, number][] {
  return [...m].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).slice(0, n);
}
