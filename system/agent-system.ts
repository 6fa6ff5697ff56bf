import { ApiObject, JsonPatch } from 'cdk8s';
import * as kplus from 'cdk8s-plus-28';
import { Construct } from 'constructs';
import { AgentCanary, AgentService, AgentServiceProps } from '../constructs/agent-service';
import { MeshAgentOptions, MeshIngressPeer, MeshPolicyProps } from '../constructs/mesh-policy';
import { MonitoringStackProps } from '../constructs/monitoring-stack';
import { ReferenceAgentConfig } from '../constructs/reference-config';
import { AlertThresholds, ConfigurableAlertName } from '../constructs/rules/options';
import { AgentSpec, MANAGED_BY } from '../constructs/spec';
import { isParsedSystemSpec, parseSystemSpec, SpecIssue, SystemSpec, SystemSpecError, SystemSpecInput, toConstructIssues } from './system-spec';
import { buildMesh, buildMonitoring, SystemMesh, SystemMonitoring } from './integration';
import { buildGateway, SystemGatewayOptions } from './gateway';

export type { SystemGatewayOptions } from './gateway';
import { AgentGateway } from '../constructs/agent-gateway';
import { PropsValidationError } from '../constructs/validation';

/** The canary of a system agent: its Deployment and the share of traffic the mesh sends it. */
export interface SystemAgentCanary extends AgentCanary {
  /** Percent of the agent's traffic routed to the canary (0-100). @default none (routes may still select the canary subset) */
  readonly weight?: number;
}

/** One agent of a system in the camelCase form: AgentService props plus its mesh and alert options. */
export interface SystemAgentProps extends Omit<AgentServiceProps, 'name' | 'canary'>, Omit<MeshAgentOptions, 'canary'> {
  /** Agent id: name of its Deployment, Service and ServiceAccount (DNS-1035, at most 50 characters). */
  readonly name: string;
  /** Agents this agent calls; the mesh denies every call that is not declared. @default none */
  readonly calls?: string[];
  /** Workloads outside the system allowed to call this agent (an ingress gateway). @default none */
  readonly ingress?: MeshIngressPeer;
  /** Alert thresholds of this agent, overriding `monitoring.thresholds`. @default the system-wide thresholds */
  readonly alertThresholds?: AlertThresholds;
  /** A canary Deployment and its traffic weight. @default none */
  readonly canary?: SystemAgentCanary;
}

/** The reference design's routing rule (one VirtualService http entry). */
export interface ReferenceRoutingRule {
  /** Header matches (`{ exact | prefix | regex }` or a string for exact). @default none */
  readonly headers?: Record<string, string | { readonly exact?: string; readonly prefix?: string; readonly regex?: string }>;
  /** URI prefix. @default '/' */
  readonly path_prefix?: string;
  /** Must be the agent's port. @default the agent port */
  readonly port?: number;
  /** Must be 100 (one destination per rule; split traffic with a canary). @default 100 */
  readonly weight?: number;
  /** Istio fault injection. @default none */
  readonly fault_injection?: {
    readonly delay?: { readonly fixedDelay: string; readonly percentage: { readonly value: number } };
    readonly abort?: { readonly httpStatus: number; readonly percentage: { readonly value: number } };
  };
  /** Istio retries. @default the mesh defaults */
  readonly retry_policy?: { readonly attempts?: number; readonly perTryTimeout?: string; readonly retryOn?: string };
}

/** One agent in the reference design's snake_case form (`agent_id`, `tag`, ...). */
export type ReferenceSystemAgentProps = ReferenceAgentConfig & {
  /** Extra routes of the agent. @default none */
  readonly routing_rules?: ReferenceRoutingRule[];
  /** Istio simple load balancer. @default the mesh default (LEAST_REQUEST) */
  readonly load_balancer?: 'ROUND_ROBIN' | 'LEAST_REQUEST' | 'LEAST_CONN' | 'RANDOM';
};

/** Mesh-wide options of a system (MeshPolicy props that are not per agent). */
export type SystemMeshOptions = Omit<MeshPolicyProps, 'services' | 'calls' | 'ingress' | 'agents'>;

/** Monitoring options of a system (MonitoringStack props; per-agent thresholds go on the agents). */
export type SystemMonitoringOptions = Omit<MonitoringStackProps, 'services' | 'overrides' | 'customAlerts' | 'disabledAlerts'> & {
  /** Built-in, workload and model-call alerts to leave out. @default none */
  readonly disabledAlerts?: ConfigurableAlertName[];
};

/**
 * Props of AgentSystem: the system spec (`systemSpecSchema`, exported as JSON Schema in
 * schemas/system.schema.json). Each agent is in our camelCase form or in the reference
 * design's snake_case form.
 */
export interface AgentSystemProps {
  /** System name: `app.kubernetes.io/part-of` of every object. @default the namespace, else 'multi-agents' */
  readonly name?: string;
  /** Namespace of every agent and of the mesh objects. @default the system name */
  readonly namespace?: string;
  /**
   * Create the Namespace object, labelled `istio-injection: enabled` so the agents' pods get
   * the mesh sidecar; `false` when the namespace is managed elsewhere. @default true
   */
  readonly createNamespace?: boolean;
  /** The agents (at least one). */
  readonly agents: Array<SystemAgentProps | ReferenceSystemAgentProps>;
  /** Call graph edges `[from, to]`, merged with each agent's `calls`. @default none */
  readonly calls?: Array<[string, string]>;
  /** Mesh-wide options. @default the MeshPolicy defaults */
  readonly mesh?: SystemMeshOptions;
  /** Monitoring options; `false` for none. @default the MonitoringStack defaults */
  readonly monitoring?: false | SystemMonitoringOptions;
  /** Ingress for the entry agents (AgentGateway; routes name agent ids). @default none */
  readonly gateway?: SystemGatewayOptions;
}


// Keep the documented interface and the zod schema in step at compile time.
type Assert<T extends true> = T;
export type _SystemPropsMatchSchema = Assert<AgentSystemProps extends SystemSpecInput ? true : false>;

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
  /** The ingress gateway of the entry agents, with `gateway:`. */
  public readonly gateway?: AgentGateway;
  /** The Namespace object, unless `createNamespace: false`. */
  public readonly namespace?: kplus.k8s.KubeNamespace;

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
    if (spec.createNamespace) this.namespace = namespaceObject(this, spec);

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
    this.gateway = this.guard(() => buildGateway(this, 'Gateway', spec.gateway, this.mesh, agents, spec.name), (e) => toConstructIssues(e, spec, undefined, ['gateway']));
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
      if (e instanceof SystemSpecError) throw e;
      if (e instanceof PropsValidationError) throw new SystemSpecError(this.node.path, toIssues(e));
      throw e;
    }
  }
}

// The system's namespace, with sidecar injection on: the mesh policies assume every agent pod
// runs the Istio proxy (STRICT mTLS would otherwise refuse its traffic).
function namespaceObject(scope: Construct, spec: SystemSpec): kplus.k8s.KubeNamespace {
  const ns = new kplus.k8s.KubeNamespace(scope, 'Namespace', {
    metadata: {
      name: spec.namespace,
      labels: {
        'app.kubernetes.io/managed-by': MANAGED_BY,
        'app.kubernetes.io/part-of': spec.name,
        'istio-injection': 'enabled',
      },
    },
  });
  // A chart's default namespace would be stamped on it; a Namespace is cluster-scoped.
  ApiObject.of(ns).addJsonPatch(JsonPatch.remove('/metadata/namespace'));
  return ns;
}
