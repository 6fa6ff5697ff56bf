export * from './agent-service';
export * from './mesh-policy';
export * from './spec';
export * from './validation';
export { fromReferenceConfig, referenceAgentConfigSchema } from './reference-config';
export type { ReferenceAgentConfig } from './reference-config';
export * as sidecarContract from '../sidecar/contract';
