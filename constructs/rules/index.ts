export * from './types';
export * from './options';
export * from './catalog';
export {
  AlertDefinition,
  BuiltInAlert,
  BURN_RATE_WINDOWS,
  INVENTORY_CHUNK,
  LATENCY_SLO_OBJECTIVE,
  alertRules,
  builtInAlertRules,
  latencyBucketOf,
  recordingRules,
  renderAlert,
  ruleGroups,
  sloRules,
} from './agent-rules';
export * from './helpers';
export * from './promtool';
export * from './scrape';
export * from './docs';
export * from './model-catalog';
export { modelRuleGroup, modelPromtoolTests } from './model-rules';
