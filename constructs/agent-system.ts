import { Construct } from 'constructs';
import { AgentService } from './agent-service';
import { AgentSpec } from './spec';
import { isParsedSystemSpec, parseSystemSpec, SpecIssue, SystemSpec, SystemSpecError, SystemSpecInput, toConstructIssues } from './system-spec';
import { buildMesh, buildMonitoring, SystemMesh, SystemMonitoring } from './system-integration';
import { PropsValidationError } from './validation';

/**
 * Props of AgentSystem: the system spec itself (see `systemSpecSchema`, exported as JSON
 * Schema in schemas/system.schema.json). Agents may be written in our camelCase form or
 * in the reference design's snake_case form (`agent_id`, `tag`, `environment`, ...).
 */
export type AgentSystemProps = SystemSpecInput;

/**
 * A whole agent system from one spec: an AgentService per agent, the MeshPolicy with the
 * call graph between them, and the MonitoringStack over all of them.
 *
 * @example
 *   new AgentSystem(chart, 'support', {
 *     name: 'support', namespace: 'agents',
 *     agents: [
 *       { name: 'planner', image: 'ghcr.io/acme/planner:1.2.0', calls: ['researcher'] },
 *       { agent_id: 'researcher', image: 'ghcr.io/acme/researcher', tag: '2.0.1' },
 *     ],
 *   });
 */
export class AgentSystem extends Construct {
  /** The parsed, checked system spec. */
  public readonly spec: SystemSpec;
  /** The agents by id, in spec order. */
  public readonly agents: ReadonlyMap<string, AgentService>;
  /** The normalized spec of every agent, in spec order (what the mesh and monitoring read). */
  public readonly agentSpecs: readonly AgentSpec[];
  /** The mesh (call graph, routing, mTLS) of the system. */
  public readonly mesh: SystemMesh;
  /** The monitoring stack (rules, alerts, dashboards, scrape config) of the system. */
  public readonly monitoring: SystemMonitoring;

  constructor(scope: Construct, id: string, props: AgentSystemProps | SystemSpec) {
    super(scope, id);
    let spec: SystemSpec;
    if (isParsedSystemSpec(props)) {
      spec = props;
    } else {
      const parsed = parseSystemSpec(props);
      if (!parsed.success) throw new SystemSpecError(this.node.path, parsed.issues);
      spec = parsed.data;
    }
    this.spec = spec;

    const agents = new Map<string, AgentService>();
    for (const agent of spec.agents) {
      const service = this.guard(() => new AgentService(this, agent.name, agent.props), (e) => toConstructIssues(e, spec, agent));
      agents.set(agent.name, service);
    }
    this.agents = agents;
    this.agentSpecs = [...agents.values()].map((a) => a.spec);

    const services = [...agents.values()];
    this.mesh = this.guard(() => buildMesh(this, 'Mesh', spec, services), (e) => toConstructIssues(e, spec, undefined, ['mesh']));
    this.monitoring = this.guard(() => buildMonitoring(this, 'Monitoring', spec, services), (e) => toConstructIssues(e, spec, undefined, ['monitoring']));
  }

  /** The AgentService of one agent; throws naming the known ids when there is none. */
  public agent(name: string): AgentService {
    const a = this.agents.get(name);
    if (!a) throw new Error(`${this.node.path}: no agent "${name}" (agents: ${[...this.agents.keys()].join(', ')})`);
    return a;
  }

  // Re-throws construct validation errors with the spec path of the offending field.
  private guard<T>(build: () => T, toIssues: (e: PropsValidationError) => SpecIssue[]): T {
    try {
      return build();
    } catch (e) {
      if (e instanceof PropsValidationError) throw new SystemSpecError(this.node.path, toIssues(e));
      throw e;
    }
  }
}
