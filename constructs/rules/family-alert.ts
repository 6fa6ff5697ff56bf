/**
 * One alert of an alert family (workload, model calls, edge, front door) rendered with the stack's
 * alert options, so every family honours `disabledAlerts`, `alertFor` (scaled by `timeScale`) and
 * `alertSeverities` the same way. Pure.
 */
import { AlertDoc, GO_VARS, RuleParams } from './catalog';
import { SystemContext, win } from './context';
import { ConfigurableAlertName, runbookUrlFor } from './options';
import { AlertingRule } from './types';

/** The fields of a family's catalog entry that rendering needs. */
export type FamilyAlertDoc<N extends ConfigurableAlertName> = Pick<AlertDoc, 'level' | 'for' | 'valueFormat' | 'summary' | 'description'> & { readonly name: N };

/** A rendered alert rule with the parameters its text and its promtool cases need. */
export interface FamilyAlert<N extends ConfigurableAlertName> {
  readonly name: N;
  readonly params: RuleParams;
  readonly rule: AlertingRule;
}

/** The rule for `doc` with `expr`, or undefined when the stack disables it. `labels` go on the rule. */
export function familyAlert<N extends ConfigurableAlertName>(ctx: SystemContext, doc: FamilyAlertDoc<N>, expr: string, labels: Readonly<Record<string, string>> = {}): FamilyAlert<N> | undefined {
  const o = ctx.opts;
  if (o.disabledAlerts.includes(doc.name)) return undefined;
  const params: RuleParams = { for: o.alertFor[doc.name] ?? doc.for };
  const level = o.alertSeverities[doc.name] ?? doc.level;
  const vars = GO_VARS(doc.valueFormat);
  return {
    name: doc.name,
    params,
    rule: {
      alert: doc.name,
      expr,
      for: win(ctx, params.for),
      labels: { severity: o.severities[level], ...(level === 'emergency' ? { page: 'true' } : {}), ...labels, ...o.alertLabels },
      annotations: { summary: doc.summary(vars, params), description: doc.description(vars, params), runbook_url: runbookUrlFor(o, doc.name) },
    },
  };
}
