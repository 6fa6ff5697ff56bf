/**
 * What every rule builder needs to know about one system: its agents, the label names rules
 * aggregate and join on, selectors, and scaled windows. Pure.
 */
import { METRICS, TARGET_LABELS } from '../../sidecar/contract';
import { AgentSpec } from '../spec';
import { parseDuration } from '../validation';
import { AlertThresholds, ResolvedMonitoringOptions, ThresholdName } from './options';
import { RuleGroup } from './types';

export interface SystemContext {
  readonly system: string;
  /** Monitored agents of the system (sidecar enabled), sorted by namespace then name. */
  readonly specs: readonly AgentSpec[];
  readonly opts: ResolvedMonitoringOptions;
  /** `job` label value of the scrape job. */
  readonly job: string;
  /** Labels every per-agent recording rule keeps: [cluster,] namespace, system, agent. */
  readonly by: string;
  /** Labels that identify one agent, for joins: [cluster,] namespace, agent. */
  readonly on: string;
  /** Namespaces of the system, as a regex alternation for foreign metrics (cAdvisor, kube-state-metrics). */
  readonly namespaces: string;
}

/** Groups agents by system; each system becomes its own rule groups, scrape job and dashboard. */
export function systemsOf(specs: readonly AgentSpec[]): Map<string, AgentSpec[]> {
  const out = new Map<string, AgentSpec[]>();
  const sorted = [...specs].sort((a, b) => cmp(a.system, b.system) || cmp(a.namespace, b.namespace) || cmp(a.name, b.name));
  for (const s of sorted) {
    if (!s.sidecar.enabled) continue; // no sidecar, no metrics: nothing to scrape or alert on
    const list = out.get(s.system) ?? [];
    list.push(s);
    out.set(s.system, list);
  }
  return out;
}

export function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export function systemContext(system: string, specs: readonly AgentSpec[], opts: ResolvedMonitoringOptions): SystemContext {
  const cluster = opts.cluster ? ['cluster'] : [];
  return {
    system,
    specs,
    opts,
    job: jobName(opts, system),
    by: [...cluster, TARGET_LABELS.namespace, TARGET_LABELS.system, TARGET_LABELS.agent].join(', '),
    on: [...cluster, TARGET_LABELS.namespace, TARGET_LABELS.agent].join(', '),
    namespaces: promRegex([...new Set(specs.map((s) => s.namespace))].sort()),
  };
}

export function jobName(opts: ResolvedMonitoringOptions, system: string): string {
  return opts.job.split('{system}').join(system);
}

/** Selector of the sidecar's own series: `{job="...", system="..."[, cluster="..."], ...extra}`. */
export function sel(ctx: SystemContext, ...extra: string[]): string {
  return `{${[`job="${ctx.job}"`, ...scope(ctx), ...extra].join(', ')}}`;
}

/** Selector of this system's recorded series (which carry system and cluster, not job). */
export function rec(ctx: SystemContext, name: string, ...extra: string[]): string {
  return `${name}{${[...scope(ctx), ...extra].join(', ')}}`;
}

function scope(ctx: SystemContext): string[] {
  return [`system="${ctx.system}"`, ...(ctx.opts.cluster ? [`cluster="${ctx.opts.cluster}"`] : [])];
}

/** Selector of foreign per-container metrics (cAdvisor, kube-state-metrics) in the system's namespaces. */
export function containerSel(ctx: SystemContext, ...extra: string[]): string {
  return `{${[`namespace=~"${ctx.namespaces}"`, `container=~"agent|agent-sidecar"`, ...extra].join(', ')}}`;
}

/** A window scaled by `timeScale`, as a Prometheus duration. */
export function win(ctx: SystemContext, d: string): string {
  return formatDuration(parseDuration(d) * ctx.opts.timeScale);
}

export function winSeconds(ctx: SystemContext, d: string): number {
  return roundMs(parseDuration(d) * ctx.opts.timeScale);
}

function roundMs(s: number): number {
  return Math.max(0.001, Math.round(s * 1000) / 1000);
}

/** Seconds as the shortest exact Prometheus duration (`300` -> `5m`, `0.5` -> `500ms`). */
export function formatDuration(seconds: number): string {
  const ms = Math.max(1, Math.round(seconds * 1000));
  const units: [string, number][] = [['d', 86_400_000], ['h', 3_600_000], ['m', 60_000], ['s', 1000], ['ms', 1]];
  let rest = ms;
  let out = '';
  for (const [u, size] of units) {
    if (rest >= size) {
      out += `${Math.floor(rest / size)}${u}`;
      rest %= size;
    }
  }
  return out;
}

/** A number as PromQL spells it. */
export function num(n: number): string {
  if (n === Infinity) return '+Inf';
  if (n === -Infinity) return '-Inf';
  return String(n);
}

export function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** A regex alternation matching exactly `values`, escaped for a PromQL double-quoted string. */
export function promRegex(values: readonly string[]): string {
  return values.map((v) => escapeRegex(v).replace(/\\/g, '\\\\')).join('|');
}

/** Threshold of one agent: override by `namespace/name`, then by name, then the SLO (latency), then the stack-wide value. */
export function thresholdOf(ctx: SystemContext, spec: AgentSpec, key: ThresholdName): number {
  const o = ctx.opts.overrides;
  const own: AlertThresholds | undefined = o[`${spec.namespace}/${spec.name}`];
  const byName: AlertThresholds | undefined = o[spec.name];
  const v = own?.[key] ?? byName?.[key];
  if (v !== undefined) return v;
  if (key === 'latencyP95Seconds' && spec.slo?.latencyP95Seconds !== undefined) return spec.slo.latencyP95Seconds;
  return ctx.opts.thresholds[key];
}

/** Recorded series name of a per-agent threshold: `agent:error_ratio:threshold`. */
export function thresholdMetric(key: ThresholdName): string {
  return `agent:${key.replace(/([A-Z])/g, '_$1').toLowerCase()}:threshold`;
}

/** Agents whose threshold differs from the stack-wide value (only those get a threshold series). */
export function thresholdOverrides(ctx: SystemContext, key: ThresholdName): AgentSpec[] {
  return ctx.specs.filter((s) => thresholdOf(ctx, s, key) !== ctx.opts.thresholds[key]);
}

/**
 * `left <op> threshold`, where the threshold is the stack-wide number, or, when some agents
 * override it, a per-agent series with the stack-wide number as fallback (threshold-as-series:
 * one alert rule however many agents, one constant series per override).
 */
export function compareThreshold(ctx: SystemContext, left: string, op: '>' | '<' | '>=' | '> bool', key: ThresholdName): string {
  const fallback = ctx.opts.thresholds[key];
  if (thresholdOverrides(ctx, key).length === 0) return `${left} ${op} ${num(fallback)}`;
  return `${left} ${op} on(${ctx.on}) group_left() (${rec(ctx, thresholdMetric(key))} or on(${ctx.on}) (0 * ${rec(ctx, 'agent:info:static')} + ${num(fallback)}))`;
}

/** Label set of one agent's recorded series ([cluster,] namespace, system, agent). */
export function agentLabels(ctx: SystemContext, spec: AgentSpec): Record<string, string> {
  return {
    ...(ctx.opts.cluster ? { cluster: ctx.opts.cluster } : {}),
    namespace: spec.namespace,
    system: spec.system,
    agent: spec.name,
  };
}

/** Labels of `agent:info:static`: the agent labels plus component and team (for Alertmanager routing). */
export function infoLabels(ctx: SystemContext, spec: AgentSpec): Record<string, string> {
  return { ...agentLabels(ctx, spec), component: spec.component, ...(spec.team ? { team: spec.team } : {}) };
}

/** Bucket boundary that a latency objective is measured at: the smallest boundary >= the objective. */
export function latencyBucket(seconds: number, buckets: readonly number[]): number {
  const b = buckets.find((x) => x >= seconds - 1e-9);
  return b ?? Infinity;
}

export const M = METRICS;

/** A rule group of the system, with the stack's evaluation interval. */
export function group(ctx: SystemContext, name: string, rules: RuleGroup['rules']): RuleGroup {
  return { name, ...(ctx.opts.evaluationInterval ? { interval: ctx.opts.evaluationInterval } : {}), rules };
}
