/**
 * The agent spec, re-exported from the files that hold each part (split by job):
 * agent/spec-defaults.ts (constants and defaults), agent/spec-schema.ts (the zod props schema),
 * agent/spec-types.ts (the normalized AgentSpec types) and agent/normalize.ts (props to AgentSpec).
 */
export { resourcesSchema } from './agent/resources';
export type { AgentTool, ContainerResourceSpec, InitContainerSpec, PersistenceSpec, PodSettingsSpec, VolumeSpec } from './agent/pod-spec';
export { DEFAULTS, MANAGED_BY, MAX_AGENT_NAME_LENGTH, SIDECAR_WORKING_MEMORY_BYTES } from './agent/spec-defaults';
export {
  agentServicePropsSchema,
  autoscalingSchema,
  canarySchema,
  healthCheckSchema,
  secretRefSchema,
  sidecarSchema,
  sloSchema,
  versionOf,
} from './agent/spec-schema';
export type { AgentServicePropsInput } from './agent/spec-schema';
export { maxReplicasOf, minReplicasOf } from './agent/spec-types';
export type { AgentDependency, AgentEgressHost, AgentSpec, ResourceSpec, ScalingSpec } from './agent/spec-types';
export { normalizeAgentSpec } from './agent/normalize';
export type { SpecContext } from './agent/normalize';
