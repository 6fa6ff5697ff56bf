export * from './types';
export * from './options';
export * from './catalog';
export type { AlertDefinition, BuiltInAlert } from './agent-rules';
export {
  INVENTORY_CHUNK,
  alertRules,
  builtInAlertRules,
  recordingRules,
  renderAlert,
  ruleGroups,
  sloRules,
} from './agent-rules';
export { BURN_RATE_BASE_WINDOW, BURN_RATE_WINDOWS, burnRateWindows, LATENCY_SLO_OBJECTIVE, latencyBucketOf } from './slo-rules';
export type { BurnRateWindow } from './slo-rules';
export * from './helpers';
export * from './promtool';
export * from './scrape';
export * from './docs';
export * from './model-catalog';
export { modelRuleGroup, modelPromtoolTests } from './model-rules';
export * from './workload-catalog';
export { workloadRuleGroup, workloadPromtoolTests } from './workload-rules';
export * from './frontdoor-catalog';
export { frontdoorRuleGroup, frontdoorPromtoolTests } from './frontdoor-rules';
