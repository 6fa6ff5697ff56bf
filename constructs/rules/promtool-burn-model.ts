/** The burn-rate model the promtool tests compute expected alerts with (promtool.ts). */
import { parseDuration } from '../validation';
import { formatDuration } from './context';
import { BURN_RATE_WINDOWS } from './slo-rules';
import { cumulative, minutes, Phase } from './promtool-series';

/** A burn-rate window pair as the tests expect it. */
export interface ModelWindow {
  readonly burnRate: number;
  readonly long: string;
  readonly short: string;
  readonly for: string;
  readonly page: boolean;
}

/**
 * The windows an SLO period should get, derived here rather than taken from the rules: the
 * 30-day table of the SRE workbook scaled by period / 30d, whole minutes (at least 1m).
 */
export function modelWindows(period: string, forOverride?: string): ModelWindow[] {
  const scale = parseDuration(period) / parseDuration('30d');
  const scaled = (d: string) => formatDuration(Math.max(1, Math.round((minutes(d) * scale))) * 60);
  return BURN_RATE_WINDOWS.map((w) => ({ burnRate: w.burnRate, page: w.page, long: scaled(w.long), short: scaled(w.short), for: forOverride ?? scaled(w.for) }));
}

/**
 * The burn-rate rules over a piecewise-constant traffic model, evaluated once a minute the way
 * Prometheus 2.x does: ratios over [t - window, t], pending once the condition holds, firing
 * after `for`, with the minimum-traffic guard.
 */
export class BurnModel {
  private readonly total: number[];
  private readonly bad: number[];
  constructor(phases: readonly Phase[], private readonly minInvocations: number) {
    this.total = cumulative(phases, (p) => p.total);
    this.bad = cumulative(phases, (p) => p.total * p.bad);
  }

  private delta(series: number[], window: string, t: number): number | undefined {
    const from = Math.max(0, t - minutes(window));
    if (t - from < 1 || t >= series.length) return undefined;
    return series[t] - series[from];
  }

  ratio(window: string, t: number): number | undefined {
    const total = this.delta(this.total, window, t);
    const bad = this.delta(this.bad, window, t);
    if (total === undefined || bad === undefined || total === 0) return undefined;
    return bad / total;
  }

  private invocations(window: string, t: number): number {
    // rate() x window: counters starting at 0 inside the window are not extrapolated below zero.
    return this.delta(this.total, window, t) ?? 0;
  }

  condition(budget: number, w: ModelWindow, t: number): boolean {
    const threshold = w.burnRate * budget;
    const long = this.ratio(w.long, t);
    const short = this.ratio(w.short, t);
    return long !== undefined && short !== undefined && long > threshold && short > threshold && this.invocations(w.long, t) >= this.minInvocations;
  }

  firing(budget: number, w: ModelWindow, t: number): boolean {
    const forMinutes = minutes(w.for);
    let since: number | undefined;
    for (let i = 0; i <= t; i++) {
      if (this.condition(budget, w, i)) since ??= i;
      else since = undefined;
    }
    return since !== undefined && t - since >= forMinutes;
  }
}
