/**
 * SLO rules: error-ratio windows, error budgets and the multi-window, multi-burn-rate alerts,
 * with the windows scaled to each agent's `slo.window`. Pure.
 */
import { DURATION_BUCKETS_SECONDS, LABELS, METRICS } from '../../sidecar/contract';
import { AgentSpec } from '../spec';
import { parseDuration } from '../validation';
import { formatDuration, group, latencyBucket, num, promRegex, rec, sel, SystemContext, win } from './context';
import { AlertName } from './options';
import { RecordingRule, RuleGroup } from './types';

/** One burn-rate alert: both ratios (long and short window) above `burnRate` x the error budget for `for`. */
export interface BurnRateWindow {
  readonly burnRate: number;
  readonly long: string;
  readonly short: string;
  readonly for: string;
  /** Pages (`emergency`) or opens a ticket (`warning`). */
  readonly page: boolean;
}

/**
 * The burn-rate windows of a 30-day SLO (Google SRE workbook, sloth's defaults): 14.4x over 1h
 * spends 2% of the budget, 6x over 6h 5%, 3x over 1d 10%, 1x over 3d 10%.
 */
export const BURN_RATE_WINDOWS: readonly BurnRateWindow[] = [
  { burnRate: 14.4, long: '1h', short: '5m', for: '2m', page: true },
  { burnRate: 6, long: '6h', short: '30m', for: '15m', page: true },
  { burnRate: 3, long: '1d', short: '2h', for: '1h', page: false },
  { burnRate: 1, long: '3d', short: '6h', for: '3h', page: false },
];

/** The SLO period BURN_RATE_WINDOWS are written for. */
export const BURN_RATE_BASE_WINDOW = '30d';

/**
 * Burn-rate windows for an SLO period: BURN_RATE_WINDOWS with every window and `for:` scaled by
 * `sloWindow / 30d` (as pyrra does), rounded to the minute (at least 1m). The factors stay, so
 * each alert still means the same share of the budget spent (14.4x over 1/720 of the period = 2%).
 */
export function burnRateWindows(sloWindow: string): BurnRateWindow[] {
  const scale = parseDuration(sloWindow) / parseDuration(BURN_RATE_BASE_WINDOW);
  const s = (d: string) => formatDuration(Math.max(60, Math.round((parseDuration(d) * scale) / 60) * 60));
  return BURN_RATE_WINDOWS.map((w) => ({ ...w, long: s(w.long), short: s(w.short), for: s(w.for) }));
}

/** The latency SLO is a p95 objective: at most 5% of invocations may be slower than it. */
export const LATENCY_SLO_OBJECTIVE = 0.95;

const DURATION = METRICS.operationDuration;

/** Histogram boundary the agent's latency objective is measured at (rounded up to the next bucket). */
export function latencyBucketOf(spec: AgentSpec): number {
  return latencyBucket(spec.slo?.latencyP95Seconds ?? Infinity, DURATION_BUCKETS_SECONDS);
}

/** Distinct SLO periods of the agents, sorted. */
function periods(specs: readonly AgentSpec[]): string[] {
  return [...new Set(specs.map((s) => s.slo!.window))].sort();
}

/**
 * Windows the SLO rules record ratios over (every burn-rate window of every SLO period, shortest
 * first, then the SLO periods themselves), each with the SLO periods that need it.
 */
function sloWindows(specs: readonly AgentSpec[]): { window: string; periods: string[] }[] {
  const all = periods(specs);
  const need = new Map<string, Set<string>>();
  for (const p of all) {
    for (const w of burnRateWindows(p)) for (const d of [w.short, w.long]) need.set(d, (need.get(d) ?? new Set()).add(p));
  }
  const burn = [...need.keys()].sort((a, b) => parseDuration(a) - parseDuration(b));
  const out = burn.map((window) => ({ window, periods: [...need.get(window)!].sort() }));
  for (const p of all) {
    const existing = out.find((o) => o.window === p);
    if (existing) existing.periods = [...new Set([...existing.periods, p])].sort();
    else out.push({ window: p, periods: [p] });
  }
  return out;
}

/** `slo_window` matcher for the objective series when only some SLO periods need a window. */
function periodMatcher(needed: readonly string[], all: readonly string[]): string[] {
  return needed.length === all.length ? [] : [`slo_window=~"${promRegex(needed)}"`];
}

export function sloGroup(ctx: SystemContext): RuleGroup | undefined {
  const slo = ctx.specs.filter((s) => s.slo);
  if (slo.length === 0) return undefined;
  const latency = slo.filter((s) => s.slo?.latencyP95Seconds !== undefined);
  const rules: RecordingRule[] = [];
  const { by, on } = ctx;

  // Joins with the objective series pick the SLO agents (and each agent's latency bucket), so the
  // rules stay the same size however many agents have an SLO.
  const all = periods(slo);
  for (const { window: w, periods: needed } of sloWindows(slo)) {
    if (w === '5m') continue; // recorded for every agent in the recording group
    const availability = rec(ctx, 'agent:slo_objective:ratio', 'slo="availability"', ...periodMatcher(needed, all));
    const range = win(ctx, w);
    rules.push(
      { record: `agent:invocations:rate${w}`, expr: `sum by (${by}) (rate(${METRICS.invocations}${sel(ctx)}[${range}])) and on(${on}) ${availability}` },
      {
        record: `agent:errors:ratio_rate${w}`,
        expr: `(sum by (${by}) (rate(${METRICS.invocations}${sel(ctx, `${LABELS.outcome}="error"`)}[${range}])) or 0 * ${rec(ctx, `agent:invocations:rate${w}`)}) / ${rec(ctx, `agent:invocations:rate${w}`)}`,
      },
    );
  }
  if (latency.length > 0) {
    // Share of calls slower than the objective: the bucket whose `le` the objective series names.
    const les = [...new Set(latency.map(latencyBucketOf))].sort((a, b) => a - b).map(num);
    const allLatency = periods(latency);
    for (const { window: w, periods: needed } of sloWindows(latency)) {
      const objective = `(0 * ${rec(ctx, 'agent:slo_objective:ratio', 'slo="latency"', ...periodMatcher(needed, allLatency))} + 1)`;
      const range = win(ctx, w);
      rules.push({
        record: `agent:slow_invocations:ratio_rate${w}`,
        expr:
          `1 - sum by (${by}) (rate(${DURATION}_bucket${sel(ctx, `le=~"${promRegex(les)}"`)}[${range}]) * on(${on}, le) group_left() ${objective})` +
          ` / sum by (${by}) (rate(${DURATION}_count${sel(ctx)}[${range}]))`,
      });
    }
  }
  // One rule per series name (promtool rejects two rules recording the same name and labels): one
  // term per SLO period, each joined with the objectives of that period only.
  const budget = (kind: 'availability' | 'latency', ratio: string, ps: readonly string[]) =>
    ps
      .map((w) => `(1 - ${rec(ctx, `${ratio}${w}`)} / on(${on}) group_left() (1 - ${rec(ctx, 'agent:slo_objective:ratio', `slo="${kind}"`, `slo_window="${w}"`)}))`)
      .join(' or ');
  const unwrap = (e: string, n: number) => (n === 1 ? e.slice(1, -1) : e);
  rules.push({ record: 'agent:error_budget:remaining_ratio', expr: unwrap(budget('availability', 'agent:errors:ratio_rate', all), all.length) });
  const latencyPeriods = periods(latency);
  if (latencyPeriods.length > 0) {
    rules.push({ record: 'agent:latency_budget:remaining_ratio', expr: unwrap(budget('latency', 'agent:slow_invocations:ratio_rate', latencyPeriods), latencyPeriods.length) });
  }
  return group(ctx, `${ctx.system}-agents.slo`, rules);
}

/** One burn-rate alert rule to add: name, expression, `for:` and labels. */
export interface BurnAlert {
  readonly name: AlertName;
  readonly expr: string;
  readonly for: string;
  readonly labels: Record<string, string>;
  readonly params: { burnRate: string; longWindow: string; shortWindow: string };
}

/**
 * The burn-rate alerts: per kind (availability, latency), per SLO period, per window pair.
 * `withInfo` adds the routing labels; `guard` is the minimum-traffic guard of a rate.
 */
export function burnAlerts(ctx: SystemContext, withInfo: (e: string) => string, guard: (rate: string, window: string) => string): BurnAlert[] {
  const { on } = ctx;
  const out: BurnAlert[] = [];
  const slo = ctx.specs.filter((s) => s.slo);
  const latency = slo.filter((s) => s.slo?.latencyP95Seconds !== undefined);
  for (const kind of ['availability', 'latency'] as const) {
    const agents = kind === 'availability' ? slo : latency;
    if (agents.length === 0) continue;
    const ratio = kind === 'availability' ? 'agent:errors:ratio_rate' : 'agent:slow_invocations:ratio_rate';
    const all = periods(agents);
    for (const period of all) {
      // One period: its objective series are exactly the SLO agents, no period matcher needed.
      const objective = rec(ctx, 'agent:slo_objective:ratio', `slo="${kind}"`, ...(all.length > 1 ? [`slo_window="${period}"`] : []));
      for (const w of burnRateWindows(period)) {
        const name: AlertName =
          kind === 'availability'
            ? (w.page ? 'AgentErrorBudgetBurn' : 'AgentErrorBudgetBurnSlow')
            : (w.page ? 'AgentLatencyBudgetBurn' : 'AgentLatencyBudgetBurnSlow');
        const over = (window: string) => `(${rec(ctx, `${ratio}${window}`)} > on(${on}) group_left() (${num(w.burnRate)} * (1 - ${objective})))`;
        out.push({
          name,
          expr: withInfo(`${over(w.long)} and on(${on}) ${over(w.short)} and on(${on}) ${guard(`agent:invocations:rate${w.long}`, w.long)}`),
          for: w.for,
          labels: { slo: kind, burn_rate: num(w.burnRate), long_window: w.long, short_window: w.short },
          params: { burnRate: num(w.burnRate), longWindow: w.long, shortWindow: w.short },
        });
      }
    }
  }
  return out;
}
