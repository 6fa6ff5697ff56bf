/**
 * The reference design's two generic alert kinds as typed helpers for custom rules:
 * a threshold on any PromQL expression, and a rate of change of a metric.
 */
import { AlertDefinition } from './agent-rules';
import { SeverityLevel } from './types';

export type ComparisonOperator = '>' | '<' | '>=' | '<=' | '==' | '!=';

interface CommonAlertProps {
  /** Alert name (CamelCase, unique in the stack). */
  readonly name: string;
  /** How long the condition must hold. @default fires at once */
  readonly for?: string;
  /** @default 'warning' */
  readonly severity?: SeverityLevel;
  /** `summary` annotation (Go template). */
  readonly summary: string;
  /** `description` annotation (Go template; `{{ $labels.agent }}`, `{{ $value }}`). */
  readonly description: string;
  /** Extra labels (e.g. `team`). @default {} */
  readonly labels?: Record<string, string>;
  /** `runbook_url`. @default the stack's runbookUrl pattern with this alert's name */
  readonly runbookUrl?: string;
}

/** Props of thresholdAlert. */
export interface ThresholdAlertProps extends CommonAlertProps {
  /** PromQL expression compared with the threshold (a metric, a recording rule, any vector). */
  readonly expr: string;
  /** @default '>' */
  readonly operator?: ComparisonOperator;
  readonly threshold: number;
}

/** `(<expr>) <operator> <threshold>`: the reference design's `threshold` condition. */
export function thresholdAlert(p: ThresholdAlertProps): AlertDefinition {
  check(p.name, Number.isFinite(p.threshold), 'threshold must be a finite number');
  return definition(p, `(${p.expr}) ${p.operator ?? '>'} ${p.threshold}`);
}

/** Props of rateOfChangeAlert. */
export interface RateOfChangeAlertProps extends CommonAlertProps {
  /** Metric selector, e.g. `agent_inflight_invocations{agent="planner"}`. */
  readonly metric: string;
  /**
   * `gauge`: per-second slope of the gauge (`deriv`); `counter`: per-second increase (`rate`).
   * @default 'gauge'
   */
  readonly kind?: 'gauge' | 'counter';
  /** Window the change is measured over. @default '5m' */
  readonly window?: string;
  /** @default '>' */
  readonly operator?: ComparisonOperator;
  /** Change per second that fires the alert. */
  readonly threshold: number;
}

/**
 * `deriv(metric[window]) > threshold` (or `rate` for counters): the reference design's
 * `rate_of_change` condition, computed by Prometheus over a window instead of the last two samples.
 */
export function rateOfChangeAlert(p: RateOfChangeAlertProps): AlertDefinition {
  check(p.name, Number.isFinite(p.threshold), 'threshold must be a finite number');
  const window = p.window ?? '5m';
  check(p.name, /^([0-9]+(ms|s|m|h|d|w|y))+$/.test(window), `window "${window}" must be a duration such as "5m"`);
  const fn = (p.kind ?? 'gauge') === 'gauge' ? 'deriv' : 'rate';
  return definition(p, `${fn}(${p.metric}[${window}]) ${p.operator ?? '>'} ${p.threshold}`);
}

function definition(p: CommonAlertProps, expr: string): AlertDefinition {
  check(p.name, /^[A-Za-z_][A-Za-z0-9_]*$/.test(p.name), 'alert names must match [A-Za-z_][A-Za-z0-9_]*');
  return {
    alert: p.name,
    expr,
    ...(p.for ? { for: p.for } : {}),
    severity: p.severity ?? 'warning',
    ...(p.labels ? { labels: { ...p.labels } } : {}),
    summary: p.summary,
    description: p.description,
    ...(p.runbookUrl ? { runbookUrl: p.runbookUrl } : {}),
  };
}

function check(name: string, ok: boolean, message: string): void {
  if (!ok) throw new Error(`alert ${name}: ${message}`);
}
