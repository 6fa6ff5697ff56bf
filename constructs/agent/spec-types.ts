import { ModelsSpec } from '../models';
import { RedisSpec } from '../redis';
import { AgentTool, ContainerResourceSpec, PersistenceSpec, PodSettingsSpec } from './pod-spec';

/** Resources of one container, fully defaulted (cpu, memory, ephemeral storage, extended resources). */
export type ResourceSpec = ContainerResourceSpec;

/** How the Deployment's replica count is decided. */
export type ScalingSpec =
  | { readonly kind: 'fixed'; readonly replicas: number }
  | {
    readonly kind: 'hpa';
    readonly minReplicas: number;
    readonly maxReplicas: number;
    readonly targetCpuPercent: number;
    readonly targetMemoryPercent: number;
    readonly scaleDownStabilizationSeconds: number;
  }
  | {
    /** KEDA ScaledObject on the sidecar's in-flight gauge (agent-aware autoscaling). */
    readonly kind: 'inflight';
    /** 0 when scaleToZero, else the minimum. */
    readonly minReplicas: number;
    readonly maxReplicas: number;
    /** In-flight invocations one replica should carry. */
    readonly targetPerReplica: number;
    readonly scaleToZero: boolean;
    /** Activation threshold: above it KEDA wakes a scaled-to-zero agent. */
    readonly activationThreshold: number;
    readonly prometheusAddress: string;
    readonly pollingIntervalSeconds: number;
    readonly scaleDownStabilizationSeconds: number;
  };

/**
 * The normalized, fully defaulted description of one agent. Every construct
 * (AgentService, MeshPolicy, MonitoringStack, AgentSystem) reads this, never raw props.
 */
export interface AgentSpec {
  /** Agent id; also the name of the Deployment, Service and ServiceAccount. */
  readonly name: string;
  readonly namespace: string;
  /** The system the agent is part of (`app.kubernetes.io/part-of`). */
  readonly system: string;
  /** `app.kubernetes.io/component`. */
  readonly component: string;
  /** Owning team, for alert routing. */
  readonly team?: string;
  readonly image: string;
  /** `app.kubernetes.io/version` of the stable pods (the image tag, or the digest's first 12 hex digits). */
  readonly version: string;
  /** The agent's HTTP port: the Service's `http` port, and the agent container's own port. */
  readonly port: number;
  /**
   * The pod port behind the Service's `http` port: the sidecar proxy's (9466) when it runs, else
   * the agent's. Pod-level rules (AuthorizationPolicy ports, NetworkPolicy ports, Envoy inbound
   * listeners) use this one; routes (VirtualService) use `port`.
   */
  readonly targetPort: number;
  readonly scaling: ScalingSpec;
  readonly resources: ResourceSpec;
  readonly env: Readonly<Record<string, string>>;
  readonly secretEnv: Readonly<Record<string, { readonly secretName: string; readonly key: string; readonly optional: boolean }>>;
  readonly healthCheck: {
    readonly port: number;
    readonly livenessPath: string;
    readonly readinessPath: string;
    readonly startupPath: string;
    readonly startupTimeoutSeconds: number;
  };
  readonly serviceAccount: {
    readonly name: string;
    readonly create: boolean;
    readonly automountToken: boolean;
    /** Annotations of the created ServiceAccount (workload identity: `eks.amazonaws.com/role-arn`, `iam.gke.io/gcp-service-account`, ...). */
    readonly annotations: Readonly<Record<string, string>>;
  };
  /** Deployment, or StatefulSet for an agent with `persistence`. */
  readonly workloadKind: 'Deployment' | 'StatefulSet';
  /** Pod and agent-container settings: volumes, mounts, envFrom, command, scheduling, init containers, pod labels. */
  readonly pod: PodSettingsSpec;
  /** Per-replica storage of a stateful agent. */
  readonly persistence?: PersistenceSpec;
  /** MCP servers the agent uses (env `MCP_<NAME>_URL`); `agent` tools are call graph edges. */
  readonly tools: readonly AgentTool[];
  /** Labels on every object of this agent: recommended `app.kubernetes.io/*` plus the user's. */
  readonly labels: Readonly<Record<string, string>>;
  /** The subset of labels that selects this agent's pods (stable and canary). */
  readonly selectorLabels: Readonly<Record<string, string>>;
  /** Annotations for the pod template. */
  readonly annotations: Readonly<Record<string, string>>;
  readonly terminationGracePeriodSeconds: number;
  /** Seconds the preStop hook waits so endpoints and the mesh stop sending traffic before SIGTERM. */
  readonly drainSeconds: number;
  /** Concurrent requests one replica is sized for (connection pools, in-flight autoscaling). */
  readonly maxConcurrentRequests: number;
  readonly sidecar: {
    readonly enabled: boolean;
    readonly image: string;
    readonly metricsPort: number;
    readonly apiPort: number;
    readonly resources: ResourceSpec;
    readonly cacheMaxEntries: number;
    readonly cacheMaxBytes: number;
    readonly cacheMaxValueBytes: number;
    readonly cacheDefaultTtlSeconds: number;
    /** Plain URL of the shared tier (no credentials), when it is not in a Secret. */
    readonly redisUrl?: string;
    /** The inbound proxy: the agent's front door (the Service targets it; the agent is reached through it only). */
    readonly proxy: boolean;
    readonly proxyPort: number;
    /** Requests waiting for a slot at most (then 503 queue_full). */
    readonly proxyMaxQueue: number;
    /** Longest wait for a slot (then 503 queue_timeout). */
    readonly proxyQueueTimeoutSeconds: number;
    /** Operation name by path prefix. */
    readonly proxyRoutes: Readonly<Record<string, string>>;
    /** The shared tier: URL or URL Secret, password Secret, key prefix (per agent by default). */
    readonly redis?: RedisSpec;
  };
  readonly slo?: { readonly availability: number; readonly latencyP95Seconds?: number; readonly window: string };
  readonly canary?: { readonly image: string; readonly version: string; readonly replicas: number };
  /** Model providers called through the sidecar gateway (`models` prop). */
  readonly models?: ModelsSpec;
  /** Object names, so other constructs never rebuild them. */
  readonly names: {
    /** The stable workload: a Deployment, or the StatefulSet of a stateful agent (see workloadKind). */
    readonly deployment: string;
    /** Headless Service of a stateful agent's StatefulSet (stable pod DNS names). */
    readonly headlessService: string;
    readonly canaryDeployment: string;
    readonly service: string;
    readonly hpa: string;
    readonly pdb: string;
    readonly serviceAccount: string;
  };
  /** `<service>.<namespace>.svc.cluster.local` */
  readonly host: string;
  /**
   * External hosts this agent itself calls (model providers, remote MCP servers). MeshPolicy gives
   * each agent egress to its own hosts only (ServiceEntry + Sidecar egress + NetworkPolicy).
   */
  readonly egressHosts: readonly AgentEgressHost[];
  /**
   * In-cluster services this agent calls that are not agents of the call graph (its Redis, an
   * in-cluster MCP server): MeshPolicy opens this agent's egress to them.
   */
  readonly dependencies: readonly AgentDependency[];
  /** The construct path of the AgentService, for error messages. */
  readonly constructPath: string;
}

/** An external host one agent calls (see AgentSpec.egressHosts). */
export interface AgentEgressHost {
  /** DNS name, e.g. `api.openai.com`. */
  readonly host: string;
  /** TCP port. */
  readonly port: number;
  /** What asked for it, for messages and docs: e.g. `models.openai`, `tools.search`. */
  readonly source: string;
}

/** An in-cluster service one agent calls outside the agent call graph (see AgentSpec.dependencies). */
export interface AgentDependency {
  /** What it is: `redis` (the sidecar's shared cache tier), `mcp` (a tool server) or another service. */
  readonly kind: 'redis' | 'mcp' | 'service';
  /** Service name (first DNS label of the host). */
  readonly service: string;
  /** Namespace of the service. */
  readonly namespace: string;
  /** TCP port. */
  readonly port: number;
  /** What asked for it, for messages: e.g. `sidecar.redis`, `tools.search`. */
  readonly source: string;
}

/** Most replicas this agent's stable Deployment can run. */
export function maxReplicasOf(spec: AgentSpec): number {
  return spec.scaling.kind === 'fixed' ? spec.scaling.replicas : spec.scaling.maxReplicas;
}

/** Fewest replicas this agent's stable Deployment runs. */
export function minReplicasOf(spec: AgentSpec): number {
  return spec.scaling.kind === 'fixed' ? spec.scaling.replicas : spec.scaling.minReplicas;
}

