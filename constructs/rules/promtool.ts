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
import { parseCpu, parseMemory } from '../validation';
import { BuiltInAlert, builtInAlertRules, ruleGroups, scalesToZero } from './agent-rules';
import { latencyBucketOf } from './slo-rules';
import { ALERT_DOCS, renderValue, RuleParams, TemplateVars } from './catalog';
import { infoLabels, num, systemsOf, thresholdOf, SystemContext, systemContext } from './context';
import { ALERT_NAMES, AlertName, MonitoringOptions, resolveOptions, ResolvedMonitoringOptions, runbookUrlFor } from './options';
import { modelPromtoolTests } from './model-rules';
import { edgePromtoolTests } from './edge-rules';
import { frontdoorPromtoolTests } from './frontdoor-rules';
import { workloadPromtoolTests } from './workload-rules';
import { RuleGroup } from './types';
import { BurnModel, modelWindows } from './promtool-burn-model';
import { counter, gauge, Labels, minutes, nextBucket, Phase, podOf, quantileOf, round, scrapeTarget, series, totalMinutes } from './promtool-series';

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
      tests: [...gen.tests, ...workloadPromtoolTests(ctx), ...modelPromtoolTests(ctx), ...edgePromtoolTests(ctx), ...frontdoorPromtoolTests(ctx)],
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
    // Alerts the specs call for are tested even when the rules lack them (the test then fails).
    const names = ALERT_NAMES.filter((n) => alerts.some((a) => a.name === n) || (!this.opts.disabledAlerts.includes(n) && expectedAlert(n, ctx.specs)));
    for (const name of names) this.generate(name, alerts.filter((a) => a.name === name));
  }

  private target(spec: AgentSpec): Labels {
    return scrapeTarget(this.opts, spec);
  }

  /** `up` = 1 for every agent except `down` (so only the tested agent can be down) and `absent` (no target at all). */
  private upAll(minutes: number, down?: AgentSpec, absent?: AgentSpec): PromtoolInputSeries[] {
    return this.everyone.filter((s) => s !== absent).map((s) => ({ series: series('up', this.target(s)), values: gauge(s === down ? 0 : 1, minutes) }));
  }

  /** kube-state-metrics' desired replicas of the agent's Deployment. */
  private desiredReplicas(spec: AgentSpec, replicas: number, minutes: number): PromtoolInputSeries {
    return { series: series('kube_deployment_spec_replicas', { namespace: spec.namespace, deployment: spec.names.deployment }), values: gauge(replicas, minutes) };
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
    return this.expectedFor(a.name, a.params, a.rule.labels ?? {}, spec, value, extra);
  }

  /**
   * An expected alert from the specs and options alone (for alerts the rules may lack or get
   * wrong): the labels renderAlert gives, plus the rule's own labels `ruleLabels`.
   */
  private expectedOf(name: AlertName, params: RuleParams, ruleLabels: Labels, spec: AgentSpec, value: number, extra: Labels = {}): PromtoolAlert {
    const level = this.opts.alertSeverities[name] ?? ALERT_DOCS[name].level;
    const labels = { severity: this.opts.severities[level], ...(level === 'emergency' ? { page: 'true' } : {}), ...ruleLabels, ...this.opts.alertLabels };
    return this.expectedFor(name, params, labels, spec, value, extra);
  }

  private expectedFor(name: AlertName, params: RuleParams, ruleLabels: Labels, spec: AgentSpec, value: number, extra: Labels): PromtoolAlert {
    const doc = ALERT_DOCS[name];
    const vars: TemplateVars = {
      agent: spec.name,
      namespace: spec.namespace,
      pod: extra.pod ?? '',
      container: extra.container ?? '',
      value: renderValue(doc.valueFormat, value),
    };
    return {
      exp_labels: { ...infoLabels(this.ctx, spec), ...extra, ...ruleLabels },
      exp_annotations: {
        summary: doc.summary(vars, params),
        description: doc.description(vars, params),
        runbook_url: runbookUrlFor(this.opts, name),
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

  private generate(name: AlertName, rules: BuiltInAlert[]): void {
    const ctx = this.ctx;
    const a0 = ctx.specs[0];
    const t = (spec: AgentSpec, key: Parameters<typeof thresholdOf>[2]) => thresholdOf(ctx, spec, key);
    const healthy = (minutes: number): Phase[] => [{ minutes, total: 60, bad: 0 }];
    switch (name) {
      case 'AgentDown': {
        const p: RuleParams = { for: this.opts.alertFor.AgentDown ?? ALERT_DOCS.AgentDown.for };
        const down = (spec: AgentSpec) => this.expectedOf(name, p, {}, spec, 1);
        this.push(name, { name: `fires when no target of ${a0.name} is up`, series: this.upAll(10, a0), evalMinutes: 5, expected: [down(a0)] });
        this.push(name, { name: 'silent while every agent is up', series: this.upAll(10), evalMinutes: 5, expected: [] });
        if (!scalesToZero(a0)) {
          this.push(name, { name: `fires when ${a0.name} has no target at all`, series: this.upAll(10, undefined, a0), evalMinutes: 5, expected: [down(a0)] });
        }
        this.push(name, {
          name: `silent while ${a0.name}'s Deployment wants 0 replicas (no target)`,
          series: [...this.upAll(10, undefined, a0), this.desiredReplicas(a0, 0, 10)],
          evalMinutes: 5,
          expected: [],
        });
        const z = ctx.specs.find(scalesToZero);
        if (z) {
          this.push(name, { name: `silent while ${z.name} is scaled to zero (no pods, no up series)`, series: this.upAll(10, undefined, z), evalMinutes: 5, expected: [] });
          this.push(name, {
            name: `fires when ${z.name} was woken (1 desired replica) but no target is up`,
            series: [...this.upAll(10, undefined, z), this.desiredReplicas(z, 1, 10)],
            evalMinutes: 5,
            expected: [down(z)],
          });
          this.push(name, {
            name: `fires when ${z.name} has targets but none is up`,
            series: this.upAll(10, z),
            evalMinutes: 5,
            expected: [down(z)],
          });
        }
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
        // The HPA's minReplicas: KEDA keeps it at 1 when the ScaledObject scales to zero.
        const hpaMin = (x: AgentSpec) => Math.max(1, minReplicasOf(x));
        const scaled = ctx.specs.filter((x) => x.scaling.kind !== 'fixed' && maxReplicasOf(x) > hpaMin(x));
        if (scaled.length === 0) {
          this.untestable.push(`${name}: no autoscaled agent whose maxReplicas > minReplicas`);
          return;
        }
        const p: RuleParams = { for: this.opts.alertFor.AgentNotScaling ?? ALERT_DOCS.AgentNotScaling.for };
        const input = (s: AgentSpec, hpaName: string, current: number): PromtoolInputSeries[] => {
          const hpa = { namespace: s.namespace, horizontalpodautoscaler: hpaName };
          return [
            ...this.upAll(40),
            { series: series('kube_horizontalpodautoscaler_status_current_replicas', hpa), values: gauge(current, 40) },
            { series: series('kube_horizontalpodautoscaler_spec_max_replicas', hpa), values: gauge(maxReplicasOf(s), 40) },
            { series: series('kube_horizontalpodautoscaler_spec_min_replicas', hpa), values: gauge(hpaMin(s), 40) },
          ];
        };
        const cases: [AgentSpec, string, string][] = [];
        const h = scaled.find((x) => x.scaling.kind === 'hpa');
        if (h) cases.push([h, h.names.hpa, '']);
        const k = scaled.find((x) => x.scaling.kind === 'inflight');
        // KEDA's HPA: AgentService names it `<agent>-hpa` (advanced.horizontalPodAutoscalerConfig.name);
        // without that name KEDA calls it `keda-hpa-<ScaledObject name>`.
        if (k) cases.push([k, k.names.hpa, ' (KEDA)'], [k, `keda-hpa-${k.name}-scaler`, " (KEDA's default HPA name)"]);
        for (const [s, hpaName, what] of cases) {
          this.push(name, {
            name: `fires when ${s.name} runs at maxReplicas for 30m${what}`,
            series: input(s, hpaName, maxReplicasOf(s)),
            evalMinutes: 35,
            expected: [this.expectedOf(name, p, {}, s, maxReplicasOf(s))],
          });
        }
        const [s0, hpa0] = cases[0];
        this.push(name, { name: 'silent below maxReplicas', series: input(s0, hpa0, hpaMin(s0)), evalMinutes: 35, expected: [] });
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
        this.burn(name);
        return;
      default:
        this.untestable.push(`${name}: no scenario`);
    }
  }

  /**
   * Burn-rate alerts, per SLO period: one firing scenario per window pair, a silent one and the
   * minimum-traffic guard. Windows and expectations come from the SLO period (`modelWindows`)
   * and the window model (`BurnModel`), not from the rules under test.
   */
  private burn(name: AlertName): void {
    const latency = name.startsWith('AgentLatency');
    const kind = latency ? 'latency' : 'availability';
    const page = !name.endsWith('Slow');
    const agents = this.ctx.specs.filter((s) => (latency ? s.slo?.latencyP95Seconds !== undefined : !!s.slo));
    const periods = [...new Set(agents.map((s) => s.slo!.window))].sort();
    for (const period of periods) {
      const spec = agents.find((s) => s.slo!.window === period)!;
      const suffix = periods.length > 1 ? ` (${period} SLO, ${spec.name})` : '';
      const all = modelWindows(period, this.opts.alertFor[name]);
      const windows = all.filter((w) => w.page === page);
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
        return windows
          .filter((w) => model.firing(budget, w, evalMinutes))
          .map((w) => {
            const params: RuleParams = { for: w.for, burnRate: num(w.burnRate), longWindow: w.long, shortWindow: w.short };
            const labels = { slo: kind, burn_rate: num(w.burnRate), long_window: w.long, short_window: w.short };
            return this.expectedOf(name, params, labels, spec, model.ratio(w.long, evalMinutes)!);
          });
      };
      const fastest = Math.max(...all.map((w) => w.burnRate));
      for (const w of windows) {
        const threshold = w.burnRate * budget;
        const long = minutes(w.long);
        const burst = Math.ceil(threshold * long) + 5;
        const hold = minutes(w.for) + 5;
        let phases: Phase[];
        let evalMinutes: number;
        if (w.burnRate === fastest && burst < long) {
          // Heavy clean traffic, then a burst of failures: the long window burns fast while the
          // next pair's long window, diluted by the clean calls, does not.
          const heavy = Math.ceil(long / 2);
          phases = [{ minutes: heavy, total: 1200, bad: 0 }, { minutes: long - burst, total: 60, bad: 0 }, { minutes: burst + hold + 5, total: 60, bad: 1 }];
          evalMinutes = heavy + long + hold;
        } else {
          // Steady failures between this burn rate and the next faster one (or 100%).
          const next = [...all].reverse().find((x) => x.burnRate > w.burnRate);
          const faster = next ? next.burnRate * budget : 1;
          phases = [{ minutes: minutes(w.for) + 20, total: 60, bad: round(Math.sqrt(threshold * faster)) }];
          evalMinutes = minutes(w.for) + 10;
        }
        const expected = expectAt(phases, evalMinutes);
        if (phases.some((p) => p.bad > 1) || !expected.some((e) => e.exp_labels.burn_rate === num(w.burnRate))) {
          this.untestable.push(`${name} (${num(w.burnRate)}x${suffix}): cannot fire for an objective of ${renderValue('percent', 1 - budget)}`);
          continue;
        }
        this.push(name, { name: `${num(w.burnRate)}x over ${w.long} and ${w.short} fires${suffix}`, series: input(phases), evalMinutes, expected });
      }
      const quiet: Phase[] = [{ minutes: 210, total: 60, bad: round(budget / 2) }];
      this.push(name, { name: `silent at half the allowed rate${suffix}`, series: input(quiet), evalMinutes: 200, expected: expectAt(quiet, 200) });
      // The guard case needs a short window that still sees the calls once `for` has passed.
      const fast = windows.find((w) => w.burnRate === fastest);
      if (this.opts.minInvocations > 2 && fast && minutes(fast.short) >= 4 && minutes(fast.for) <= 3 && minutes(fast.long) >= 10) {
        const l = minutes(fast.long);
        const trickle: Phase[] = [{ minutes: l - 4, total: 0, bad: 0 }, { minutes: 1, total: 2, bad: 1 }, { minutes: 9, total: 0, bad: 0 }];
        this.push(name, { name: `silent on 2 bad calls out of 2 (minimum-traffic guard)${suffix}`, series: input(trickle), evalMinutes: l, expected: expectAt(trickle, l) });
      }
    }
  }
}


/** Whether the specs call for alert `name` (so a missing rule is a failing test, not a missing one). */
function expectedAlert(name: AlertName, specs: readonly AgentSpec[]): boolean {
  switch (name) {
    case 'AgentNotScaling':
      return specs.some((s) => s.scaling.kind !== 'fixed');
    case 'AgentErrorBudgetBurn':
    case 'AgentErrorBudgetBurnSlow':
      return specs.some((s) => s.slo);
    case 'AgentLatencyBudgetBurn':
    case 'AgentLatencyBudgetBurnSlow':
      return specs.some((s) => s.slo?.latencyP95Seconds !== undefined);
    default:
      return true;
  }
}
