/** Series notation and small numeric helpers of the promtool test generator (promtool.ts). */
import { DURATION_BUCKETS_SECONDS } from '../../sidecar/contract';
import { AgentSpec } from '../spec';
import { parseDuration } from '../validation';
import { jobName, num } from './context';
import type { ResolvedMonitoringOptions } from './options';

export type Labels = Record<string, string>;

export function series(name: string, labels: Labels): string {
  return `${name}{${Object.entries(labels).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(', ')}}`;
}

/** Counter values, one sample per minute: `segments` of [increase per minute, minutes]. */
export function counter(segments: readonly (readonly [number, number])[]): string {
  const parts: string[] = [];
  let v = 0;
  segments.forEach(([inc, minutes], i) => {
    if (i === 0) {
      parts.push(`${num(round(v))}+${num(round(inc))}x${minutes}`);
    } else if (minutes > 0) {
      parts.push(minutes === 1 ? `${num(round(v + inc))}` : `${num(round(v + inc))}+${num(round(inc))}x${minutes - 1}`);
    }
    v += inc * minutes;
  });
  return parts.join(' ');
}

export function gauge(value: number, minutes: number): string {
  return `${num(round(value))}x${minutes}`;
}

export function round(n: number): number {
  return Math.round(n * 1e6) / 1e6;
}

/** Cumulative per-minute counts of a piecewise-constant traffic model. */
export interface Phase {
  readonly minutes: number;
  /** Invocations per minute. */
  readonly total: number;
  /** Share of them that fail (availability) or are slow (latency), 0-1. */
  readonly bad: number;
}

export function cumulative(phases: readonly Phase[], pick: (p: Phase) => number): number[] {
  const out = [0];
  for (const p of phases) for (let i = 0; i < p.minutes; i++) out.push(out[out.length - 1] + pick(p));
  return out;
}

export function totalMinutes(phases: readonly Phase[]): number {
  return phases.reduce((a, p) => a + p.minutes, 0);
}

export function minutes(d: string): number {
  return parseDuration(d) / 60;
}

/** histogram_quantile when every observation is in the bucket (lo, hi]. */
export function quantileOf(q: number, lo: number, hi: number): number {
  if (hi === Infinity) return lo;
  return lo + (hi - lo) * q;
}

export function nextBucket(le: number): number {
  const i = DURATION_BUCKETS_SECONDS.indexOf(le);
  return i >= 0 && i + 1 < DURATION_BUCKETS_SECONDS.length ? DURATION_BUCKETS_SECONDS[i + 1] : Infinity;
}

export function podOf(spec: AgentSpec): string {
  return `${spec.name}-7d9f8b6c5-x2x4z`;
}

/** The labels of a sidecar's series as the scrape writes them, for the pod of podOf(spec). */
export function scrapeTarget(opts: ResolvedMonitoringOptions, spec: AgentSpec): Labels {
  return {
    ...(opts.cluster ? { cluster: opts.cluster } : {}),
    job: jobName(opts, spec.system),
    namespace: spec.namespace,
    system: spec.system,
    agent: spec.name,
    component: spec.component,
    pod: podOf(spec),
    instance: `${podOf(spec)}:${spec.sidecar.metricsPort}`,
  };
}
