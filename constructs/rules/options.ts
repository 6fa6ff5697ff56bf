/**
 * Options of the generated rules and dashboards, their defaults, and the zod schema that
 * MonitoringStack parses them with. Pure: no cdk8s.
 */
import { z } from 'zod';
import { duration, labelMap, labelValue } from '../validation';
import { MODEL_ALERT_NAMES, ModelAlertName } from './model-catalog';
import { SEVERITY_LEVELS, SeverityLevel } from './types';
import { EDGE_ALERT_NAMES, EdgeAlertName } from './edge-catalog';
import { FRONTDOOR_ALERT_NAMES, FrontdoorAlertName } from './frontdoor-catalog';
import { WORKLOAD_ALERT_NAMES, WorkloadAlertName } from './workload-catalog';

/** Names of the built-in alerts (each has a runbook page in docs/runbooks/). */
export const ALERT_NAMES = [
  'AgentDown',
  'AgentHighErrorRate',
  'AgentHighLatency',
  'AgentHighCpu',
  'AgentHighMemory',
  'AgentRestarting',
  'AgentNotScaling',
  'SidecarCacheHitRateLow',
  'AgentErrorBudgetBurn',
  'AgentErrorBudgetBurnSlow',
  'AgentLatencyBudgetBurn',
  'AgentLatencyBudgetBurnSlow',
] as const;
export type AlertName = (typeof ALERT_NAMES)[number];

/** Alerts that `disabledAlerts`, `alertFor` and `alertSeverities` can name: the built-in, workload, model-call, edge and front-door alerts. */
export const CONFIGURABLE_ALERT_NAMES = [...ALERT_NAMES, ...WORKLOAD_ALERT_NAMES, ...MODEL_ALERT_NAMES, ...EDGE_ALERT_NAMES, ...FRONTDOOR_ALERT_NAMES] as const;
export type ConfigurableAlertName = AlertName | WorkloadAlertName | ModelAlertName | EdgeAlertName | FrontdoorAlertName;

/** Per-agent alert thresholds. Every field falls back to the stack-wide value, then to the default. */
export interface AlertThresholds {
  /** AgentHighErrorRate fires above this share of failed invocations (0-1). @default 0.05 */
  readonly errorRatio?: number;
  /** AgentHighLatency fires when p95 latency exceeds this many seconds. @default the agent's `slo.latencyP95Seconds`, else 60 */
  readonly latencyP95Seconds?: number;
  /** AgentHighLatency fires when p99 latency exceeds this many seconds. @default 120 */
  readonly latencyP99Seconds?: number;
  /** AgentHighCpu fires above this share of the container's CPU limit (0-1). @default 0.9 */
  readonly cpuRatio?: number;
  /** AgentHighMemory fires above this share of the container's memory limit (0-1). @default 0.9 */
  readonly memoryRatio?: number;
  /** AgentRestarting fires at this many container restarts within 15 minutes. @default 3 */
  readonly restarts?: number;
  /** SidecarCacheHitRateLow fires below this cache hit ratio (0-1). @default 0.2 */
  readonly cacheHitRatio?: number;
}

export type ThresholdName = keyof AlertThresholds;

/** Built-in thresholds, in one place so the docs table and the rules cannot drift. */
export const DEFAULT_THRESHOLDS: Required<AlertThresholds> = {
  errorRatio: 0.05,
  latencyP95Seconds: 60,
  latencyP99Seconds: 120,
  cpuRatio: 0.9,
  memoryRatio: 0.9,
  restarts: 3,
  cacheHitRatio: 0.2,
};

/** Options shared by the rule and dashboard builders (and MonitoringStack props). */
export interface MonitoringOptions {
  /**
   * `runbook_url` of every alert: `{alert}` is replaced by the kebab-case alert name
   * (`agent-high-error-rate`), `{alertname}` by the alert name.
   * @default 'https://github.com/cdk8s-agents/cdk8s-agents/blob/main/docs/runbooks/{alert}.md'
   */
  readonly runbookUrl?: string;
  /**
   * How each severity level is spelled in the `severity` label, for routing trees that use
   * their own scheme (e.g. `{ critical: 'P2', emergency: 'P1' }`). Alerts of level `emergency`
   * (the fast SLO burn) also get `page: "true"`.
   * @default { info: 'info', warning: 'warning', critical: 'critical', emergency: 'critical' }
   */
  readonly severities?: Partial<Record<SeverityLevel, string>>;
  /** Severity level per alert, overriding the built-in level. @default see docs/monitoring.md */
  readonly alertSeverities?: Partial<Record<ConfigurableAlertName, SeverityLevel>>;
  /** `for:` per alert, overriding the built-in duration. @default see docs/monitoring.md */
  readonly alertFor?: Partial<Record<ConfigurableAlertName, string>>;
  /** Built-in, workload and model-call alerts to leave out. @default [] */
  readonly disabledAlerts?: readonly ConfigurableAlertName[];
  /** Extra labels on every alert (e.g. `{ tenant: 'ai' }`). @default {} */
  readonly alertLabels?: Record<string, string>;
  /**
   * Cluster name: relabelled onto every scraped series as `cluster`, matched by every rule
   * and carried on every alert, so one Alertmanager can tell clusters apart. @default none
   */
  readonly cluster?: string;
  /** Stack-wide alert thresholds. @default DEFAULT_THRESHOLDS */
  readonly thresholds?: AlertThresholds;
  /** Per-agent thresholds, keyed by agent name (or `namespace/name`). @default {} */
  readonly overrides?: Record<string, AlertThresholds>;
  /**
   * Minimum-traffic guard: ratio and burn-rate alerts stay silent unless the agent served at
   * least this many invocations in the alert's (long) window, so 1 failure out of 2 calls
   * never pages. @default 10
   */
  readonly minInvocations?: number;
  /** `job` label of the scrape job; `{system}` is replaced by the system name. @default '{system}-agents' */
  readonly job?: string;
  /** Rule group evaluation interval. @default the Prometheus global evaluation_interval */
  readonly evaluationInterval?: string;
  /**
   * Multiplies every range window and `for:` of the built-in rules. For tests that run a real
   * Prometheus for seconds instead of hours (0.0167 turns 5m into 5s); keep 1 in production,
   * since recording rule names (`rate5m`) keep their nominal window. @default 1
   */
  readonly timeScale?: number;
}

const thresholdsSchema = z.strictObject({
  errorRatio: z.number().gt(0).lt(1).optional(),
  latencyP95Seconds: z.number().positive().optional(),
  latencyP99Seconds: z.number().positive().optional(),
  cpuRatio: z.number().gt(0).optional(),
  memoryRatio: z.number().gt(0).optional(),
  restarts: z.number().int().positive().optional(),
  cacheHitRatio: z.number().gt(0).lt(1).optional(),
});

const severityLevel = z.enum(SEVERITY_LEVELS as [SeverityLevel, ...SeverityLevel[]]);
const alertName = z.enum(CONFIGURABLE_ALERT_NAMES as unknown as [ConfigurableAlertName, ...ConfigurableAlertName[]]);

/** zod schema of MonitoringOptions. */
export const monitoringOptionsSchema = z.strictObject({
  runbookUrl: z.string().regex(/\{alert(name)?\}/, 'must contain {alert} or {alertname}').optional(),
  severities: z.partialRecord(severityLevel, z.string().min(1)).optional(),
  alertSeverities: z.partialRecord(alertName, severityLevel).optional(),
  alertFor: z.partialRecord(alertName, duration()).optional(),
  disabledAlerts: z.array(alertName).optional(),
  alertLabels: labelMap().optional(),
  cluster: labelValue().min(1).optional(),
  thresholds: thresholdsSchema.optional(),
  overrides: z.record(z.string(), thresholdsSchema).optional(),
  minInvocations: z.number().int().min(0).optional(),
  job: z.string().min(1).optional(),
  evaluationInterval: duration().optional(),
  timeScale: z.number().positive().max(1).optional(),
});

/** MonitoringOptions with every default applied. */
export interface ResolvedMonitoringOptions {
  readonly runbookUrl: string;
  readonly severities: Readonly<Record<SeverityLevel, string>>;
  readonly alertSeverities: Partial<Record<ConfigurableAlertName, SeverityLevel>>;
  readonly alertFor: Partial<Record<ConfigurableAlertName, string>>;
  readonly disabledAlerts: readonly ConfigurableAlertName[];
  readonly alertLabels: Readonly<Record<string, string>>;
  readonly cluster?: string;
  readonly thresholds: Required<AlertThresholds>;
  readonly overrides: Readonly<Record<string, AlertThresholds>>;
  readonly minInvocations: number;
  readonly job: string;
  readonly evaluationInterval?: string;
  readonly timeScale: number;
}

export const DEFAULT_RUNBOOK_URL = 'https://github.com/cdk8s-agents/cdk8s-agents/blob/main/docs/runbooks/{alert}.md';
export const DEFAULT_SEVERITIES: Readonly<Record<SeverityLevel, string>> = {
  info: 'info',
  warning: 'warning',
  critical: 'critical',
  emergency: 'critical',
};

/** Applies defaults (no validation: MonitoringStack validates with monitoringOptionsSchema first). */
export function resolveOptions(o: MonitoringOptions = {}): ResolvedMonitoringOptions {
  return {
    runbookUrl: o.runbookUrl ?? DEFAULT_RUNBOOK_URL,
    severities: { ...DEFAULT_SEVERITIES, ...(o.severities ?? {}) },
    alertSeverities: { ...(o.alertSeverities ?? {}) },
    alertFor: { ...(o.alertFor ?? {}) },
    disabledAlerts: [...(o.disabledAlerts ?? [])],
    alertLabels: { ...(o.alertLabels ?? {}) },
    cluster: o.cluster,
    thresholds: { ...DEFAULT_THRESHOLDS, ...stripUndefined(o.thresholds ?? {}) },
    overrides: { ...(o.overrides ?? {}) },
    minInvocations: o.minInvocations ?? 10,
    job: o.job ?? '{system}-agents',
    evaluationInterval: o.evaluationInterval,
    timeScale: o.timeScale ?? 1,
  };
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** `AgentHighErrorRate` -> `agent-high-error-rate` (runbook file names). */
export function kebabCase(name: string): string {
  return name.replace(/([a-z0-9])([A-Z])/g, '$1-$2').toLowerCase();
}

export function runbookUrlFor(opts: ResolvedMonitoringOptions, alert: string): string {
  return opts.runbookUrl.split('{alertname}').join(alert).split('{alert}').join(kebabCase(alert));
}
