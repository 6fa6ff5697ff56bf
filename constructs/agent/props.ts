/*
 * The documented props of an agent's pod settings, persistence and tools (AgentServiceProps
 * extends AgentPodProps). Field names are Kubernetes' own; the zod schema is pod-settings.ts,
 * and a compile-time check in agent-service.ts keeps the two in step.
 */

/** Resource quantities of one container. */
export interface AgentResourceQuantities {
  /** CPU, e.g. '250m', or a number of cores (`2`, as Kubernetes accepts; written as "2"). */
  readonly cpu?: string | number;
  /** Memory, e.g. '512Mi', or a number of bytes. */
  readonly memory?: string | number;
  /** Local ephemeral storage (writable layer, logs, disk emptyDirs), e.g. '1Gi', or a number of bytes. */
  readonly ephemeralStorage?: string | number;
  /**
   * Extended resources by their domain-prefixed name, e.g. `'nvidia.com/gpu': '1'` (or `1`): whole
   * numbers, request equal to limit (a limit alone sets the request).
   */
  readonly [extendedResource: string]: string | number | undefined;
}

/** A key of a ConfigMap or Secret projected to a file. */
export interface AgentKeyToPath {
  /** Key in the ConfigMap or Secret. */
  readonly key: string;
  /** Relative file path in the volume. */
  readonly path: string;
  /** File mode, e.g. 0o440. @default the volume's defaultMode */
  readonly mode?: number;
}

/** A volume of the agent pod: exactly one source. */
export interface AgentVolume {
  /** Volume name (DNS-1123 label; `tmp` and, with persistence, `data` are taken). */
  readonly name: string;
  /** Files from a ConfigMap (system prompts, tool configs). @default none */
  readonly configMap?: { readonly name: string; readonly items?: AgentKeyToPath[]; readonly defaultMode?: number; readonly optional?: boolean };
  /** Files from a Secret (credential files). @default none */
  readonly secret?: { readonly secretName: string; readonly items?: AgentKeyToPath[]; readonly defaultMode?: number; readonly optional?: boolean };
  /** Scratch space; `medium: 'Memory'` counts against the memory limit. @default none (sizeLimit '256Mi' when given) */
  readonly emptyDir?: { readonly medium?: '' | 'Memory'; readonly sizeLimit?: string | number };
  /** An existing PersistentVolumeClaim shared by every replica. @default none */
  readonly persistentVolumeClaim?: { readonly claimName: string; readonly readOnly?: boolean };
  /** Several sources in one directory (ConfigMap, Secret, ServiceAccount token with an audience, downward API). @default none */
  readonly projected?: { readonly sources: AgentProjectedSource[]; readonly defaultMode?: number };
}

/** One source of a projected volume: exactly one field. */
export interface AgentProjectedSource {
  /** @default none */
  readonly configMap?: { readonly name: string; readonly items?: AgentKeyToPath[]; readonly optional?: boolean };
  /** @default none */
  readonly secret?: { readonly name: string; readonly items?: AgentKeyToPath[]; readonly optional?: boolean };
  /** A bound token for an audience (cloud workload identity, Vault). @default none */
  readonly serviceAccountToken?: { readonly path: string; readonly audience?: string; readonly expirationSeconds?: number };
  /** @default none */
  readonly downwardAPI?: { readonly items: { readonly path: string; readonly fieldRef: { readonly fieldPath: 'metadata.name' | 'metadata.namespace' | 'metadata.uid' | 'metadata.labels' | 'metadata.annotations' } }[] };
}

/** A mount of a volume in a container. */
export interface AgentVolumeMount {
  /** Name of a volume in `volumes` (or `data`, the persistence claim). */
  readonly name: string;
  /** Absolute path in the container (`/tmp` and the persistence mountPath are taken). */
  readonly mountPath: string;
  /** Mount one file or directory of the volume. @default the whole volume */
  readonly subPath?: string;
  /** @default false */
  readonly readOnly?: boolean;
}

/** Environment variables from every key of a ConfigMap or Secret: exactly one ref. */
export interface AgentEnvFrom {
  /** @default none */
  readonly configMapRef?: { readonly name: string; readonly optional?: boolean };
  /** @default none */
  readonly secretRef?: { readonly name: string; readonly optional?: boolean };
  /** Prefix of every variable name. @default none */
  readonly prefix?: string;
}

/** A toleration of node taints (core/v1 Toleration). */
export interface AgentToleration {
  /** Taint key; omitted only with operator 'Exists'. @default none */
  readonly key?: string;
  /** @default 'Equal' */
  readonly operator?: 'Equal' | 'Exists';
  /** @default none */
  readonly value?: string;
  /** @default all effects */
  readonly effect?: 'NoSchedule' | 'PreferNoSchedule' | 'NoExecute';
  /** 'NoExecute' only: seconds the pod stays after the taint appears. @default forever */
  readonly tolerationSeconds?: number;
}

interface SelectorRequirement<Op extends string> { readonly key: string; readonly operator: Op; readonly values?: string[] }
interface NodeSelectorTerm {
  readonly matchExpressions?: SelectorRequirement<'In' | 'NotIn' | 'Exists' | 'DoesNotExist' | 'Gt' | 'Lt'>[];
  readonly matchFields?: SelectorRequirement<'In' | 'NotIn' | 'Exists' | 'DoesNotExist' | 'Gt' | 'Lt'>[];
}
interface PodAffinityTerm {
  readonly labelSelector?: { readonly matchLabels?: Record<string, string>; readonly matchExpressions?: SelectorRequirement<'In' | 'NotIn' | 'Exists' | 'DoesNotExist'>[] };
  readonly namespaces?: string[];
  readonly topologyKey: string;
}
interface PodAffinityRules {
  readonly requiredDuringSchedulingIgnoredDuringExecution?: PodAffinityTerm[];
  readonly preferredDuringSchedulingIgnoredDuringExecution?: { readonly weight: number; readonly podAffinityTerm: PodAffinityTerm }[];
}

/** Pod affinity (core/v1 Affinity). */
export interface AgentAffinity {
  /** @default none */
  readonly nodeAffinity?: {
    readonly requiredDuringSchedulingIgnoredDuringExecution?: { readonly nodeSelectorTerms: NodeSelectorTerm[] };
    readonly preferredDuringSchedulingIgnoredDuringExecution?: { readonly weight: number; readonly preference: NodeSelectorTerm }[];
  };
  /** @default none */
  readonly podAffinity?: PodAffinityRules;
  /** @default none */
  readonly podAntiAffinity?: PodAffinityRules;
}

/** An init container; AgentService applies the restricted security context and default resources. */
export interface AgentInitContainer {
  /** Container name (not `agent` or `agent-sidecar`). */
  readonly name: string;
  /** Pinned image. */
  readonly image: string;
  /** @default the image's entrypoint */
  readonly command?: string[];
  /** @default the image's cmd */
  readonly args?: string[];
  /** @default {} */
  readonly env?: Record<string, string>;
  /** @default {} */
  readonly secretEnv?: Record<string, { readonly secretName: string; readonly key: string; readonly optional?: boolean }>;
  /** @default [] */
  readonly envFrom?: AgentEnvFrom[];
  /** Mounts of the pod's volumes. @default [] (plus /tmp) */
  readonly volumeMounts?: AgentVolumeMount[];
  /** @default requests 100m/256Mi/256Mi ephemeral, limits 500m/1Gi/1Gi ephemeral */
  readonly resources?: { readonly requests?: AgentResourceQuantities; readonly limits?: AgentResourceQuantities };
  /** Non-root user and group for images built with a fixed UID (0 is an error). @default 10001 */
  readonly securityContext?: { readonly runAsUser?: number; readonly runAsGroup?: number };
}

/** Per-replica storage: the agent runs as a StatefulSet with a claim per replica. */
export interface AgentPersistence {
  /** Claim size, e.g. '10Gi'. */
  readonly size: string | number;
  /** StorageClass. @default the cluster's default class */
  readonly storageClass?: string;
  /** Mount path in the agent container. @default '/data' */
  readonly mountPath?: string;
  /** Access mode of each claim. @default 'ReadWriteOnce' */
  readonly accessMode?: 'ReadWriteOnce' | 'ReadWriteOncePod' | 'ReadWriteMany';
}

/**
 * An MCP server: exactly one of `agent` (another agent: a call graph edge), `service` (an
 * in-cluster Service: an egress dependency) or `url` (a remote https server: an egress host).
 */
export interface AgentMcpServer {
  /** Agent id of an agent serving MCP. @default none */
  readonly agent?: string;
  /** Name of an in-cluster Service serving MCP. @default none */
  readonly service?: string;
  /** Namespace of the agent or Service. @default the agent's namespace */
  readonly namespace?: string;
  /** Port: required for `service`; for `agent` the other agent's port. @default 8080 (in a system: the agent's port) */
  readonly port?: number;
  /** HTTP path of the MCP endpoint. @default '/mcp' */
  readonly path?: string;
  /** https URL of a remote MCP server. @default none */
  readonly url?: string;
  /** Bearer token from a Secret key, in env `MCP_<NAME>_TOKEN`. @default none */
  readonly tokenSecret?: { readonly secretName: string; readonly key: string; readonly optional?: boolean };
}

/** Pod settings, persistence and tools of an agent. */
export interface AgentPodProps {
  /** Pod volumes. @default [] (the agent always has a 256Mi emptyDir at /tmp) */
  readonly volumes?: AgentVolume[];
  /** Mounts in the agent container. @default [] */
  readonly volumeMounts?: AgentVolumeMount[];
  /** Environment from ConfigMaps and Secrets. @default [] */
  readonly envFrom?: AgentEnvFrom[];
  /** Agent container entrypoint. @default the image's entrypoint */
  readonly command?: string[];
  /** Agent container arguments. @default the image's cmd */
  readonly args?: string[];
  /** Secrets for a private registry. @default [] */
  readonly imagePullSecrets?: { readonly name: string }[];
  /** @default {} */
  readonly nodeSelector?: Record<string, string>;
  /** @default [] */
  readonly tolerations?: AgentToleration[];
  /** @default none (pods spread over nodes and zones by topology spread constraints) */
  readonly affinity?: AgentAffinity;
  /** PriorityClass of the pods. @default none (the cluster default) */
  readonly priorityClassName?: string;
  /** RuntimeClass (gVisor, Kata, an NVIDIA runtime). @default none */
  readonly runtimeClassName?: string;
  /** The created ServiceAccount's annotations (cloud workload identity). @default {} */
  readonly serviceAccount?: { readonly annotations?: Record<string, string> };
  /** Init containers, run in order before the agent. @default [] */
  readonly initContainers?: AgentInitContainer[];
  /** Labels on the pods only (e.g. `azure.workload.identity/use: 'true'`). @default {} */
  readonly podLabels?: Record<string, string>;
  /** Per-replica storage: a StatefulSet with a volumeClaimTemplate and a headless Service. @default none (a Deployment) */
  readonly persistence?: AgentPersistence;
  /** MCP servers by name (env `MCP_SERVERS`, `MCP_<NAME>_URL`, `MCP_<NAME>_TOKEN`). @default {} */
  readonly tools?: Record<string, AgentMcpServer>;
}
