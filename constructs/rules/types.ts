/**
 * Plain data types of Prometheus rule files (the `groups:` format that both a rules file
 * and a PrometheusRule's `spec` use). No cdk8s imports: rule builders stay pure.
 */

/** A recording rule: `record` is named `level:metric:operations`. */
export interface RecordingRule {
  readonly record: string;
  readonly expr: string;
  readonly labels?: Readonly<Record<string, string>>;
}

/** An alerting rule with the labels and annotations Alertmanager routes and renders. */
export interface AlertingRule {
  readonly alert: string;
  readonly expr: string;
  readonly for?: string;
  readonly labels?: Readonly<Record<string, string>>;
  readonly annotations?: Readonly<Record<string, string>>;
}

export type Rule = RecordingRule | AlertingRule;

/** One rule group: evaluated in order, every `interval`. */
export interface RuleGroup {
  readonly name: string;
  readonly interval?: string;
  readonly rules: readonly Rule[];
}

/**
 * Severity levels of the reference design. `emergency` is the paging level; how each level is
 * spelled in the `severity` label is configurable (`severities`).
 */
export type SeverityLevel = 'info' | 'warning' | 'critical' | 'emergency';

export const SEVERITY_LEVELS: readonly SeverityLevel[] = ['info', 'warning', 'critical', 'emergency'];

export function isAlertingRule(rule: Rule): rule is AlertingRule {
  return (rule as AlertingRule).alert !== undefined;
}

export function isRecordingRule(rule: Rule): rule is RecordingRule {
  return (rule as RecordingRule).record !== undefined;
}
