import { AgentServicePropsInput, AgentSpec, agentServicePropsSchema, normalizeAgentSpec } from '../../constructs/spec';

/** An AgentSpec the way AgentService normalizes it, without a cdk8s app (fast, for rule tests). */
export function spec(name: string, props: Partial<AgentServicePropsInput> = {}, namespace = 'agents'): AgentSpec {
  const parsed = agentServicePropsSchema.parse({ image: `ghcr.io/example/${name}:1.0.0`, ...props });
  return normalizeAgentSpec(parsed, { id: name, constructPath: `test/${name}`, chartNamespace: namespace });
}

/** Three agents like the example app: an orchestrator with an SLO and HPA, a worker with an SLO, a fixed-size one. */
export function exampleSpecs(): AgentSpec[] {
  return [
    spec('planner', { component: 'orchestrator', team: 'core', autoscaling: { minReplicas: 2, maxReplicas: 6 }, slo: { availability: 99.5, latencyP95Seconds: 30 } }),
    spec('researcher', { team: 'core', slo: { availability: 99, latencyP95Seconds: 60 } }),
    spec('coder', { team: 'dev', replicas: 3 }),
  ];
}
