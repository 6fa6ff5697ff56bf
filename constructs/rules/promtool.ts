/**
 * Generates `promtool test rules` unit tests for the built-in alerts of a stack: for every
 * alert rule one series history that fires it and at least one that keeps it silent.
 *
 * The expected alerts (labels, rendered annotations, which rules of the same name fire) are
 * computed by a small model of the rules over the synthetic counters, so the tests check the
 * rules against an independent calculation, not against their own output. Pure.
 */
import { DURATION_BUCKETS_SECONDS, LABELS, METRICS } from '../../sidecar/contract';
import { AgentSpec, maxReplicasOf, minReplicasOf } from '../spec';
import { parseCpu, parseDuration, parseMemory } from '../validation';
import { BuiltInAlert, builtInAlertRules, BURN_RATE_WINDOWS, latencyBucketOf, ruleGroups } from './agent-rules';
import { ALERT_DOCS, renderValue, TemplateVars } from './catalog';
import { infoLabels, jobName, num, systemsOf, thresholdOf, SystemContext, systemContext } from './context';
import { modelPromtoolTests } from './model-rules';
import { MonitoringOptions, resolveOptions, ResolvedMonitoringOptions } from './options';
import { RuleGroup } from './types';

/** One input series of a promtool test (expanding notation values). */
export interface PromtoolInputSeries {
  readonly series: string;
  readonly values: string;
}

export interface PromtoolAlert {
  readonly exp_labels: Record<string, string>;
  readonly exp_annotations: Record<string, string>;
}

export interface PromtoolAlertTest {
  readonly eval_time: string;
  readonly alertname: string;
  readonly exp_alerts: readonly PromtoolAlert[];
}

/** A test group of a promtool unit test file. */
export interface PromtoolTest {
  readonly name: string;
  readonly interval: string;
  readonly input_series: readonly PromtoolInputSeries[];
  readonly alert_rule_test: readonly PromtoolAlertTest[];
}

/** A whole promtool test file (`rule_files` relative to the test file). */
export interface PromtoolTestFile {
  readonly rule_files: readonly string[];
  readonly evaluation_interval: string;
  /** Recording groups first, so alerts see this minute's recorded values. */
  readonly group_eval_order: readonly string[];
  readonly tests: readonly PromtoolTest[];
}

/** Rules and tests of one system, ready to be written as two YAML files. */
export interface PromtoolSuite {
  readonly system: string;
  readonly ruleGroups: readonly RuleGroup[];
  readonly tests: readonly PromtoolTest[];
  /** Alert rules without a firing test, and why (e.g. an SLO too loose for a 14.4x burn to be possible). */
  readonly untestable: readonly string[];
}

const STEP = '1m';

/**
 * promtool unit tests for the built-in alerts of `specs`, one suite per system.
 * Tests assume `timeScale: 1` (the real windows).
 */
export function promtoolSuites(specs: readonly AgentSpec[], options: MonitoringOptions = {}): PromtoolSuite[] {
  const opts = resolveOptions(options);
  if (opts.timeScale !== 1) throw new Error('promtool tests are generated for timeScale 1 (the real windows)');
  const alertsBySystem = builtInAlertRules(specs, options);
  const groups = ruleGroups(specs, options);
  const out: PromtoolSuite[] = [];
  const systems = systemsOf(specs);
  const monitored = [...systems.values()].flat();
  for (const [system, list] of systems) {
    const ctx = systemContext(system, list, opts);
    const alerts = alertsBySystem.get(system) ?? [];
    const gen = new Generator(ctx, alerts, monitored);
    out.push({
      system,
      ruleGroups: groups.filter((g) => g.name.startsWith(`${system}-agents.`)),
      tests: [...gen.tests, ...modelPromtoolTests(ctx)],
      untestable: gen.untestable,
    });
  }
  return out;
}

/** The promtool test file for one suite, given the rule file's path relative to it. */
export function promtoolTestFile(suite: PromtoolSuite, ruleFile: string): PromtoolTestFile {
  return { rule_files: [ruleFile], evaluation_interval: STEP, group_eval_order: suite.ruleGroups.map((g) => g.name), tests: suite.tests };
}

// ---------------------------------------------------------------------------------------------
// Series helpers
// ---------------------------------------------------------------------------------------------

type Labels = Record<string, string>;

function series(name: string, labels: Labels): string {
  return `${name}{${Object.entries(labels).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(', ')}}`;
}

/** Counter values, one sample per minute: `segments` of [increase per minute, minutes]. */
function counter(segments: readonly (readonly [number, number])[]): string {
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

function gauge(value: number, minutes: number): string {
  return `${num(round(value))}x${minutes}`;
}

function round(n: number): number {
  return Math.round(n * 1e6) / 1e6;
}

/** Cumulative per-minute counts of a piecewise-constant traffic model. */
interface Phase {
  readonly minutes: number;
  /** Invocations per minute. */
  readonly total: number;
  /** Share of them that fail (availability) or are slow (latency), 0-1. */
  readonly bad: number;
}

function cumulative(phases: readonly Phase[], pick: (p: Phase) => number): number[] {
  const out = [0];
  for (const p of phases) for (let i = 0; i < p.minutes; i++) out.push(out[out.length - 1] + pick(p));
  return out;
}

function totalMinutes(phases: readonly Phase[]): number {
  return phases.reduce((a, p) => a + p.minutes, 0);
}

// ---------------------------------------------------------------------------------------------
// Generator
// ---------------------------------------------------------------------------------------------

interface Case {
  readonly name: string;
  readonly series: PromtoolInputSeries[];
  readonly evalMinutes: number;
  /** Expected firing alerts of the tested alert name (empty for a silent case). */
  readonly expected: PromtoolAlert[];
}

class Generator {
  public readonly tests: PromtoolTest[] = [];
  public readonly untestable: string[] = [];
  private readonly opts: ResolvedMonitoringOptions;

  /** `everyone`: every monitored agent of the stack, all up in every test, so tests of all systems can share one file. */
  constructor(private readonly ctx: SystemContext, alerts: readonly BuiltInAlert[], private readonly everyone: readonly AgentSpec[]) {
    this.opts = ctx.opts;
    const names = [...new Set(alerts.map((a) => a.name))];
    for (const name of names) this.generate(name, alerts.filter((a) => a.name === name));
  }

  private target(spec: AgentSpec): Labels {
    return {
      ...(this.opts.cluster ? { cluster: this.opts.cluster } : {}),
      job: jobName(this.opts, spec.system),
      namespace: spec.namespace,
      system: spec.system,
      agent: spec.name,
      component: spec.component,
      pod: podOf(spec),
      instance: `${podOf(spec)}:${spec.sidecar.metricsPort}`,
    };
  }

  /** `up` = 1 for every agent except `down` (so only the tested agent can be down). */
  private upAll(minutes: number, down?: AgentSpec): PromtoolInputSeries[] {
    return this.everyone.map((s) => ({ series: series('up', this.target(s)), values: gauge(s === down ? 0 : 1, minutes) }));
  }

  private invocations(spec: AgentSpec, phases: readonly Phase[]): PromtoolInputSeries[] {
    const base = { ...this.target(spec), [LABELS.agentName]: spec.name, [LABELS.operationName]: 'invoke_agent' };
    const seg = (pick: (p: Phase) => number) => counter(phases.map((p) => [pick(p), p.minutes] as const));
    return [
      { series: series(METRICS.invocations, { ...base, [LABELS.outcome]: 'success' }), values: seg((p) => p.total * (1 - p.bad)) },
      { series: series(METRICS.invocations, { ...base, [LABELS.outcome]: 'error' }), values: seg((p) => p.total * p.bad) },
    ];
  }

  /** Duration histogram: good calls land in (0.64, 1.28], bad ones in the bucket ending at `slowLe`. */
  private durations(spec: AgentSpec, phases: readonly Phase[], slowLe: number, fastLe = 1.28): PromtoolInputSeries[] {
    const base = { ...this.target(spec), [LABELS.agentName]: spec.name, [LABELS.operationName]: 'invoke_agent' };
    const out: PromtoolInputSeries[] = [];
    for (const le of [...DURATION_BUCKETS_SECONDS, Infinity]) {
      const perPhase = (p: Phase) => (le >= fastLe ? p.total * (1 - p.bad) : 0) + (le >= slowLe ? p.total * p.bad : 0);
      out.push({
        series: series(`${METRICS.operationDuration}_bucket`, { ...base, le: le === Infinity ? '+Inf' : num(le) }),
        values: counter(phases.map((p) => [perPhase(p), p.minutes] as const)),
      });
    }
    out.push({ series: series(`${METRICS.operationDuration}_count`, base), values: counter(phases.map((p) => [p.total, p.minutes] as const)) });
    return out;
  }

  private expected(a: BuiltInAlert, spec: AgentSpec, value: number, extra: Labels = {}): PromtoolAlert {
    const doc = ALERT_DOCS[a.name];
    const vars: TemplateVars = {
      agent: spec.name,
      namespace: spec.namespace,
      pod: extra.pod ?? '',
      container: extra.container ?? '',
      value: renderValue(doc.valueFormat, value),
    };
    return {
      exp_labels: { ...infoLabels(this.ctx, spec), ...extra, ...(a.rule.labels ?? {}) },
      exp_annotations: {
        summary: doc.summary(vars, a.params),
        description: doc.description(vars, a.params),
        runbook_url: a.rule.annotations!.runbook_url,
      },
    };
  }

  private push(alertname: string, c: Case): void {
    if (c.name.startsWith('silent') && c.expected.length > 0) {
      throw new Error(`promtool test "${alertname}: ${c.name}" expects alerts; the scenario is wrong`);
    }
    this.tests.push({
      name: `${alertname}: ${c.name}`,
      interval: STEP,
      input_series: c.series,
      alert_rule_test: [{ eval_time: `${c.evalMinutes}m`, alertname, exp_alerts: c.expected }],
    });
  }

  private generate(name: string, rules: BuiltInAlert[]): void {
    const ctx = this.ctx;
    const a0 = ctx.specs[0];
    const t = (spec: AgentSpec, key: Parameters<typeof thresholdOf>[2]) => thresholdOf(ctx, spec, key);
    const healthy = (minutes: number): Phase[] => [{ minutes, total: 60, bad: 0 }];
    switch (name) {
      case 'AgentDown': {
        const [r] = rules;
        this.push(name, { name: `fires when no target of ${a0.name} is up`, series: this.upAll(10, a0), evalMinutes: 5, expected: [this.expected(r, a0, 1)] });
        this.push(name, { name: 'silent while every agent is up', series: this.upAll(10), evalMinutes: 5, expected: [] });
        return;
      }
      case 'AgentHighErrorRate': {
        const [r] = rules;
        const thr = t(a0, 'errorRatio');
        const bad = thr < 0.5 ? 0.5 : (1 + thr) / 2;
        const m = 20;
        this.push(name, {
          name: `fires when ${renderValue('percent', bad)} of ${a0.name}'s calls fail`,
          series: [...this.upAll(m), ...this.invocations(a0, [{ minutes: m, total: 120, bad }])],
          evalMinutes: 15,
          expected: [this.expected(r, a0, bad)],
        });
        this.push(name, {
          name: 'silent when calls succeed',
          series: [...this.upAll(m), ...this.invocations(a0, [{ minutes: m, total: 120, bad: thr / 4 }])],
          evalMinutes: 15,
          expected: [],
        });
        if (this.opts.minInvocations > 2) {
          this.push(name, {
            name: 'silent on 1 failed call out of 2 (minimum-traffic guard)',
            series: [...this.upAll(20), ...this.invocations(a0, [{ minutes: 10, total: 0, bad: 0 }, { minutes: 1, total: 2, bad: 0.5 }, { minutes: 9, total: 0, bad: 0 }])],
            evalMinutes: 13,
            expected: [],
          });
        }
        return;
      }
      case 'AgentHighLatency': {
        const thresholds = rules.map((r) => t(a0, r.params.quantile === '0.99' ? 'latencyP99Seconds' : 'latencyP95Seconds'));
        const hi = Math.max(...thresholds);
        const lo = Math.min(...thresholds);
        const bounds = [0, ...DURATION_BUCKETS_SECONDS, Infinity];
        // Fire: every call lands in the first bucket starting at or above the highest threshold.
        const fi = bounds.findIndex((b) => b >= hi && b > 0);
        const fireLe = bounds[fi + 1];
        // Silent: every call lands in the last bucket ending at or below the lowest threshold.
        const si = [...bounds].reverse().findIndex((b) => b <= lo && b > 0);
        const m = 25;
        if (fi < 0) {
          this.untestable.push(`${name}: threshold above the largest bucket`);
        } else {
          const traffic = [{ minutes: m, total: 60, bad: 1 }];
          this.push(name, {
            name: `fires when every call of ${a0.name} takes over ${num(bounds[fi])}s`,
            series: [...this.upAll(m), ...this.invocations(a0, healthy(m)), ...this.durations(a0, traffic, fireLe)],
            evalMinutes: 20,
            expected: rules.map((r) => this.expected(r, a0, quantileOf(Number(r.params.quantile), bounds[fi], fireLe))),
          });
        }
        if (si >= 0) {
          const silentLe = [...bounds].reverse()[si];
          this.push(name, {
            name: `silent when calls take at most ${num(silentLe)}s`,
            series: [...this.upAll(m), ...this.invocations(a0, healthy(m)), ...this.durations(a0, healthy(m), silentLe, silentLe)],
            evalMinutes: 20,
            expected: [],
          });
        }
        return;
      }
      case 'AgentHighCpu':
      case 'AgentHighMemory': {
        const [r] = rules;
        const cpu = name === 'AgentHighCpu';
        const thr = t(a0, cpu ? 'cpuRatio' : 'memoryRatio');
        const fire = thr < 1 ? round(thr + (1 - thr) / 2) : round(thr + 0.1);
        const limit = cpu ? parseCpu(a0.resources.limits.cpu) : parseMemory(a0.resources.limits.memory);
        const m = 30;
        const pod = podOf(a0);
        const c = { namespace: a0.namespace, pod, container: 'agent' };
        const input = (ratio: number): PromtoolInputSeries[] => [
          ...this.upAll(m),
          cpu
            ? { series: series('container_cpu_usage_seconds_total', c), values: counter([[ratio * limit * 60, m]]) }
            : { series: series('container_memory_working_set_bytes', c), values: gauge(ratio * limit, m) },
          {
            series: series('kube_pod_container_resource_limits', { ...c, resource: cpu ? 'cpu' : 'memory', unit: cpu ? 'core' : 'byte' }),
            values: gauge(limit, m),
          },
        ];
        this.push(name, { name: `fires at ${renderValue('percent', fire)} of the limit`, series: input(fire), evalMinutes: 25, expected: [this.expected(r, a0, fire, { pod, container: 'agent' })] });
        this.push(name, { name: `silent at ${renderValue('percent', round(thr / 4))} of the limit`, series: input(round(thr / 4)), evalMinutes: 25, expected: [] });
        return;
      }
      case 'AgentRestarting': {
        const [r] = rules;
        const n = t(a0, 'restarts');
        const pod = podOf(a0);
        const c = { namespace: a0.namespace, pod, container: 'agent' };
        const input = (restarts: number): PromtoolInputSeries[] => [
          ...this.upAll(45),
          { series: series('kube_pod_container_status_restarts_total', c), values: counter([[0, 20], [1, restarts], [0, 45 - 20 - restarts]]) },
        ];
        this.push(name, { name: `fires after ${n} restarts`, series: input(n), evalMinutes: 30 + n, expected: [this.expected(r, a0, n, { pod, container: 'agent' })] });
        this.push(name, { name: `silent after ${n - 1} restarts`, series: input(n - 1), evalMinutes: 30 + n, expected: [] });
        return;
      }
      case 'AgentNotScaling': {
        const [r] = rules;
        const s = ctx.specs.find((x) => x.scaling.kind === 'hpa' && maxReplicasOf(x) > minReplicasOf(x));
        if (!s) {
          this.untestable.push(`${name}: no agent with an HPA whose maxReplicas > minReplicas`);
          return;
        }
        const hpa = { namespace: s.namespace, horizontalpodautoscaler: s.names.hpa };
        const input = (current: number): PromtoolInputSeries[] => [
          ...this.upAll(40),
          { series: series('kube_horizontalpodautoscaler_status_current_replicas', hpa), values: gauge(current, 40) },
          { series: series('kube_horizontalpodautoscaler_spec_max_replicas', hpa), values: gauge(maxReplicasOf(s), 40) },
          { series: series('kube_horizontalpodautoscaler_spec_min_replicas', hpa), values: gauge(minReplicasOf(s), 40) },
        ];
        this.push(name, { name: `fires when ${s.name} runs at maxReplicas for 30m`, series: input(maxReplicasOf(s)), evalMinutes: 35, expected: [this.expected(r, s, maxReplicasOf(s))] });
        this.push(name, { name: 'silent below maxReplicas', series: input(minReplicasOf(s)), evalMinutes: 35, expected: [] });
        return;
      }
      case 'SidecarCacheHitRateLow': {
        const [r] = rules;
        const thr = t(a0, 'cacheHitRatio');
        const m = 60;
        const input = (hit: number): PromtoolInputSeries[] => {
          const base = { ...this.target(a0), [LABELS.cacheTier]: 'local' };
          return [
            ...this.upAll(m),
            { series: series(METRICS.cacheRequests, { ...base, [LABELS.cacheResult]: 'hit' }), values: counter([[60 * hit, m]]) },
            { series: series(METRICS.cacheRequests, { ...base, [LABELS.cacheResult]: 'miss' }), values: counter([[60 * (1 - hit), m]]) },
          ];
        };
        const fire = round(thr / 2);
        this.push(name, { name: `fires at a ${renderValue('percent', fire)} hit ratio`, series: input(fire), evalMinutes: 50, expected: [this.expected(r, a0, fire)] });
        this.push(name, { name: `silent at a ${renderValue('percent', round((1 + thr) / 2))} hit ratio`, series: input(round((1 + thr) / 2)), evalMinutes: 50, expected: [] });
        return;
      }
      case 'AgentErrorBudgetBurn':
      case 'AgentErrorBudgetBurnSlow':
      case 'AgentLatencyBudgetBurn':
      case 'AgentLatencyBudgetBurnSlow':
        this.burn(name, rules);
        return;
      default:
        this.untestable.push(`${name}: no scenario`);
    }
  }

  /** Burn-rate alerts: one scenario per rule, expectations from the window model (`BurnModel`). */
  private burn(name: string, rules: BuiltInAlert[]): void {
    const latency = name.startsWith('AgentLatency');
    const spec = this.ctx.specs.find((s) => (latency ? s.slo?.latencyP95Seconds !== undefined : !!s.slo));
    if (!spec) return;
    const budget = latency ? 0.05 : round(1 - spec.slo!.availability / 100);
    const slowLe = nextBucket(latencyBucketOf(spec));
    const input = (phases: Phase[]): PromtoolInputSeries[] => {
      const m = totalMinutes(phases);
      return latency
        ? [...this.upAll(m + 1), ...this.invocations(spec, phases.map((p) => ({ ...p, bad: 0 }))), ...this.durations(spec, phases, slowLe)]
        : [...this.upAll(m + 1), ...this.invocations(spec, phases)];
    };
    const expectAt = (phases: Phase[], evalMinutes: number): PromtoolAlert[] => {
      const model = new BurnModel(phases, this.opts.minInvocations);
      return rules
        .filter((r) => model.firing(budget, r, evalMinutes))
        .map((r) => this.expected(r, spec, model.ratio(r.params.longWindow!, evalMinutes)!));
    };
    for (const r of rules) {
      const f = Number(r.params.burnRate);
      const w = BURN_RATE_WINDOWS.find((x) => x.burnRate === f)!;
      const threshold = f * budget;
      let phases: Phase[];
      let evalMinutes: number;
      if (f === 14.4) {
        // Heavy clean traffic, then a burst of failures: the 1h window burns fast while the
        // 6h window, diluted by the clean calls, does not.
        const burst = Math.ceil(threshold * 60) + 5;
        const hold = minutes(r.rule.for ?? '0m') + 5;
        phases = [{ minutes: 30, total: 1200, bad: 0 }, { minutes: 60 - burst, total: 60, bad: 0 }, { minutes: burst + hold + 5, total: 60, bad: 1 }];
        evalMinutes = 90 + hold;
      } else {
        // Steady failures between this burn rate and the next faster one.
        const faster = [...BURN_RATE_WINDOWS].reverse().find((x) => x.burnRate > f)!.burnRate * budget;
        phases = [{ minutes: minutes(w.for) + 20, total: 60, bad: round(Math.sqrt(threshold * faster)) }];
        evalMinutes = minutes(w.for) + 10;
      }
      const expected = expectAt(phases, evalMinutes);
      if (phases.some((p) => p.bad > 1) || !expected.some((e) => e.exp_labels.burn_rate === r.params.burnRate)) {
        this.untestable.push(`${name} (${r.params.burnRate}x): cannot fire for an objective of ${renderValue('percent', 1 - budget)}`);
        continue;
      }
      this.push(name, {
        name: `${r.params.burnRate}x over ${w.long} and ${w.short} fires`,
        series: input(phases),
        evalMinutes,
        expected,
      });
    }
    const quiet: Phase[] = [{ minutes: 210, total: 60, bad: round(budget / 2) }];
    this.push(name, { name: 'silent at half the allowed rate', series: input(quiet), evalMinutes: 200, expected: expectAt(quiet, 200) });
    if (this.opts.minInvocations > 2 && rules.some((r) => r.params.burnRate === '14.4')) {
      const trickle: Phase[] = [{ minutes: 56, total: 0, bad: 0 }, { minutes: 1, total: 2, bad: 1 }, { minutes: 9, total: 0, bad: 0 }];
      this.push(name, { name: 'silent on 2 bad calls out of 2 (minimum-traffic guard)', series: input(trickle), evalMinutes: 60, expected: expectAt(trickle, 60) });
    }
  }
}

/**
 * The burn-rate rules over a piecewise-constant traffic model, evaluated once a minute the way
 * Prometheus 2.x does: ratios over [t - window, t], pending once the condition holds, firing
 * after `for`, with the minimum-traffic guard.
 */
class BurnModel {
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

  condition(budget: number, r: BuiltInAlert, t: number): boolean {
    const threshold = Number(r.params.burnRate) * budget;
    const long = this.ratio(r.params.longWindow!, t);
    const short = this.ratio(r.params.shortWindow!, t);
    return long !== undefined && short !== undefined && long > threshold && short > threshold && this.invocations(r.params.longWindow!, t) >= this.minInvocations;
  }

  firing(budget: number, r: BuiltInAlert, t: number): boolean {
    const forMinutes = minutes(r.rule.for ?? '0m');
    let since: number | undefined;
    for (let i = 0; i <= t; i++) {
      if (this.condition(budget, r, i)) since ??= i;
      else since = undefined;
    }
    return since !== undefined && t - since >= forMinutes;
  }
}

function minutes(d: string): number {
  return parseDuration(d) / 60;
}

/** histogram_quantile when every observation is in the bucket (lo, hi]. */
function quantileOf(q: number, lo: number, hi: number): number {
  if (hi === Infinity) return lo;
  return lo + (hi - lo) * q;
}

function nextBucket(le: number): number {
  const i = DURATION_BUCKETS_SECONDS.indexOf(le);
  return i >= 0 && i + 1 < DURATION_BUCKETS_SECONDS.length ? DURATION_BUCKETS_SECONDS[i + 1] : Infinity;
}

function podOf(spec: AgentSpec): string {
  return `${spec.name}-7d9f8b6c5-x2x4z`;
}
