export { AgentSystem } from './agent-system';
export type { AgentSystemProps, SystemAgentProps, SystemAgentCanary, ReferenceSystemAgentProps, ReferenceRoutingRule, SystemMeshOptions, SystemMonitoringOptions, SystemGatewayOptions } from './agent-system';
export { parseSystemSpec, systemSpecSchema, systemAgentSchema, referenceSystemAgentSchema, formatSpecIssue, SystemSpecError } from './system-spec';
export { systemSpecJsonSchema, systemSpecJsonSchemaText } from './json-schema';
export type { SystemSpec, SystemSpecInput, SystemAgent, SystemParseResult, SpecIssue } from './system-spec';
