/**
 * `cdk8s-agents/testing`: validate synthesized manifests against the real schemas and the package
 * policies, from jest (or any runner), from the cdk8s validation plugin and from CI.
 */
export { validateManifests, ValidationResult, formatReport, severityFor } from './validate';
export { loadManifests, validateFiles } from './files';
export { synthObjects, Manifests, constructPathOf, synthApp, writeConstructPaths, CONSTRUCT_PATHS_FILE } from './synth';
export type { ObjectQuery, ManifestInput } from './synth';
export { promtoolTest, PromtoolNotFoundError, findPromtool, isPromDuration } from './prometheus';
export type { RuleGroup, PromRule, PromtoolTestFile, PromtoolTestCase, PromtoolTestInput, PromtoolTestSource, PromtoolTestResult } from './prometheus';
export { selectorMatches } from './cross';
export { knownKinds } from './schemas';
export { BUILTIN_RULES } from './builtin';
export { celRuleReport } from './cel';
export type {
  K8sObject,
  Problem,
  Severity,
  ValidateOptions,
  ValidationException,
  SuppressedProblem,
  ValidationResultJson,
} from './types';
export { manifestMatchers, manifestSnapshotSerializer, installJestMatchers, stableObject, manifestsToYaml } from './jest';
export { AgentsValidation } from './plugin';
export type { AgentsValidationProperties, CliValidationContext } from './plugin';
export { TrafficModel, explain, trafficMatchers, trafficMatrix, toMermaid, toDot, toTable, toGrid } from './traffic';
export type { TrafficSource, TrafficDestination, TrafficDecision, TrafficStep, TrafficModelOptions, TrafficJwt, TrafficMatrix, FlowCell, FlowKind, MatrixOptions } from './traffic';
