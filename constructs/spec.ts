import { z } from 'zod';
import {
  SIDECAR_API_PORT,
  SIDECAR_IMAGE_REPOSITORY,
  SIDECAR_METRICS_PORT,
  SIDECAR_PROXY_PORT,
  SIDECAR_VERSION,
} from '../sidecar/contract';
import { agentEnvNames, checkModels, ModelsSpec, modelsSchema, normalizeModels } from './models';
import { normalizeRedis, RedisSpec, redisSchema, redisUrlSchema } from './redis';
import {
  dns1035Label,
  dns1123Label,
  dns1123Subdomain,
  duration,
  envName,
  httpPath,
  labelMap,
  labelValue,
  parseCpu,
  parseImage,
  parseMemory,
  pinnedImage,
  portNumber,
} from './validation';
import { podSettingsShape } from './agent/pod-settings';
import {
  AgentTool,
  ContainerResourceSpec,
  containerResources,
  normalizePersistence,
  normalizePodSettings,
  normalizeTools,
  PersistenceSpec,
  PodSettingsSpec,
  podSettingsProblems,
  toolDependencies,
  toolEgressHosts,
} from './agent/pod-spec';
import { resourcesSchema } from './agent/resources';

export { resourcesSchema } from './agent/resources';
export type { AgentTool, ContainerResourceSpec, InitContainerSpec, PersistenceSpec, PodSettingsSpec, VolumeSpec } from './agent/pod-spec';
import { redisTarget } from './redis-dependency';

/** Memory the sidecar needs besides its cache (request bodies, metrics, V8 baseline). */
export const SIDECAR_WORKING_MEMORY_BYTES = 80 * 2 ** 20;
/** Largest cache value the sidecar accepts by default. */
const SIDECAR_MAX_VALUE_BYTES = 2 ** 20;

/** Longest agent id: leaves room for the longest suffix (`-canary-pdb`) within 63 characters. */
export const MAX_AGENT_NAME_LENGTH = 50;
/** Value of `app.kubernetes.io/managed-by` on everything this package creates. */
export const MANAGED_BY = 'cdk8s-agents';

/** Defaults, in one place so the README table and the code cannot drift. */
export const DEFAULTS = {
  port: 8080,
  component: 'agent',
  autoscaling: { minReplicas: 2, maxReplicas: 10, targetCpuPercent: 70, targetMemoryPercent: 80, scaleDownStabilizationSeconds: 600 },
  inflight: {
    prometheusAddress: 'http://prometheus-operated.monitoring.svc:9090',
    pollingIntervalSeconds: 15,
    activationThreshold: 0,
  },
  resources: { requests: { cpu: '100m', memory: '256Mi', ephemeralStorage: '256Mi' }, limits: { cpu: '500m', memory: '1Gi', ephemeralStorage: '1Gi' } },
  healthCheck: { livenessPath: '/health', readinessPath: '/ready', startupTimeoutSeconds: 300 },
  // Outlives the mesh's default 300 s route timeout plus the preStop drain.
  terminationGracePeriodSeconds: 330,
  drainSeconds: 15,
  maxConcurrentRequests: 10,
  sidecar: {
    image: `${SIDECAR_IMAGE_REPOSITORY}:${SIDECAR_VERSION}`,
    // Idles at ~56 MB and peaks at ~125 MB under load (BENCHMARKS.md).
    // It writes only logs: ephemeral storage stays small.
    resources: { requests: { cpu: '25m', memory: '128Mi', ephemeralStorage: '64Mi' }, limits: { cpu: '250m', memory: '256Mi', ephemeralStorage: '256Mi' } },
    cache: { maxEntries: 10_000, maxBytes: 64 * 1024 * 1024, defaultTtlSeconds: 300 },
  },
  slo: { window: '30d' },
} as const;

const positiveInt = (what = 'must be a positive integer') => z.number().int(what).positive(what);

export const autoscalingSchema = z.strictObject({
  metric: z.enum(['resource', 'inflight']).optional(),
  targetPerReplica: z.number().positive().optional(),
  scaleToZero: z.boolean().optional(),
  activationThreshold: z.number().min(0).optional(),
  prometheusAddress: z.string().regex(/^https?:\/\/[^\s]+$/, 'must be an http(s) URL').optional(),
  pollingIntervalSeconds: positiveInt().optional(),
  minReplicas: positiveInt().optional(),
  maxReplicas: positiveInt().optional(),
  targetCpuPercent: z.number().int().min(1).max(100).optional(),
  targetMemoryPercent: z.number().int().min(1).max(100).optional(),
  scaleDownStabilizationSeconds: z.number().int().min(0).max(3600).optional(),
});

export const healthCheckSchema = z.strictObject({
  port: portNumber().optional(),
  livenessPath: httpPath().optional(),
  readinessPath: httpPath().optional(),
  startupPath: httpPath().optional(),
  startupTimeoutSeconds: positiveInt().optional(),
});

export const secretRefSchema = z.strictObject({
  secretName: dns1123Subdomain(),
  key: z.string().min(1).regex(/^[-._a-zA-Z0-9]+$/, 'secret keys may contain only alphanumerics, "-", "_" and "."'),
  optional: z.boolean().optional(),
});

export const sidecarSchema = z.strictObject({
  enabled: z.boolean().optional(),
  image: pinnedImage().optional(),
  resources: resourcesSchema.optional(),
  cacheMaxEntries: positiveInt().optional(),
  cacheMaxBytes: positiveInt().optional(),
  cacheMaxValueBytes: positiveInt().optional(),
  cacheDefaultTtlSeconds: positiveInt().optional(),
  redisUrl: redisUrlSchema.optional(),
  redis: redisSchema.optional(),
  proxy: z.boolean().optional(),
});

export const sloSchema = z.strictObject({
  availability: z.number().gt(0, 'must be a percentage above 0').lt(100, 'must be below 100 (a 100% target leaves no error budget)'),
  latencyP95Seconds: z.number().positive().optional(),
  window: duration().optional(),
});

export const canarySchema = z.strictObject({
  image: pinnedImage(),
  version: labelValue().min(1).optional(),
  replicas: positiveInt().optional(),
});

/** The zod schema of `AgentServiceProps` (camelCase form). */
export const agentServicePropsSchema = z
  .strictObject({
    image: pinnedImage(),
    name: dns1035Label(MAX_AGENT_NAME_LENGTH).optional(),
    namespace: dns1123Label().optional(),
    system: labelValue().min(1).optional(),
    component: labelValue().min(1).optional(),
    team: labelValue().min(1).optional(),
    version: labelValue().min(1).optional(),
    port: portNumber().optional(),
    replicas: positiveInt().optional(),
    autoscaling: autoscalingSchema.optional(),
    env: z.record(envName(), z.string()).optional(),
    secretEnv: z.record(envName(), secretRefSchema).optional(),
    resources: resourcesSchema.optional(),
    healthCheck: healthCheckSchema.optional(),
    serviceAccountName: dns1123Subdomain().optional(),
    automountServiceAccountToken: z.boolean().optional(),
    labels: labelMap().optional(),
    annotations: z.record(z.string(), z.string()).optional(),
    terminationGracePeriodSeconds: positiveInt().optional(),
    drainSeconds: z.number().int().min(0).optional(),
    maxConcurrentRequests: positiveInt().optional(),
    sidecar: z.union([z.boolean(), sidecarSchema]).optional(),
    slo: sloSchema.optional(),
    canary: canarySchema.optional(),
    models: modelsSchema.optional(),
    ...podSettingsShape,
  })
  .superRefine((p, ctx) => {
    if (p.replicas !== undefined && p.autoscaling !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['replicas'], message: 'set either replicas (a fixed count) or autoscaling, not both' });
    }
    const min = p.autoscaling?.minReplicas ?? DEFAULTS.autoscaling.minReplicas;
    const max = p.autoscaling?.maxReplicas ?? DEFAULTS.autoscaling.maxReplicas;
    const a = p.autoscaling;
    if (a && a.metric !== 'inflight') {
      for (const key of ['targetPerReplica', 'scaleToZero', 'activationThreshold', 'prometheusAddress', 'pollingIntervalSeconds'] as const) {
        if (a[key] !== undefined) ctx.addIssue({ code: 'custom', path: ['autoscaling', key], message: "applies only to metric: 'inflight'" });
      }
    }
    if (a?.metric === 'inflight') {
      for (const key of ['targetCpuPercent', 'targetMemoryPercent'] as const) {
        if (a[key] !== undefined) ctx.addIssue({ code: 'custom', path: ['autoscaling', key], message: "does not apply to metric: 'inflight' (it scales on in-flight invocations)" });
      }
      if (a.scaleToZero && a.minReplicas !== undefined) {
        ctx.addIssue({ code: 'custom', path: ['autoscaling', 'minReplicas'], message: 'conflicts with scaleToZero (which sets the idle minimum to 0)' });
      }
      if (p.sidecar === false || (typeof p.sidecar === 'object' && p.sidecar.enabled === false)) {
        ctx.addIssue({ code: 'custom', path: ['autoscaling', 'metric'], message: "'inflight' needs the sidecar, which reports the in-flight gauge" });
      }
    }
    if (p.autoscaling && max < min) {
      ctx.addIssue({ code: 'custom', path: ['autoscaling', 'maxReplicas'], message: `(${max}) must be >= minReplicas (${min})` });
    }
    for (const which of ['cpu', 'memory', 'ephemeralStorage'] as const) {
      const req = p.resources?.requests?.[which] ?? DEFAULTS.resources.requests[which];
      const lim = p.resources?.limits?.[which] ?? DEFAULTS.resources.limits[which];
      const parse = which === 'cpu' ? parseCpu : parseMemory;
      if (parse(req) > parse(lim)) {
        ctx.addIssue({ code: 'custom', path: ['resources', 'requests', which], message: `(${req}) must not exceed limits.${which} (${lim})` });
      }
    }
    const sidecarResources = typeof p.sidecar === 'object' ? p.sidecar.resources : undefined;
    const sidecarOn = p.sidecar === false ? false : (typeof p.sidecar === 'object' ? p.sidecar.enabled ?? true : true);
    for (const issue of podSettingsProblems({
      ...p,
      sidecarResources,
      sidecarEnabled: sidecarOn,
      agentMemoryLimit: p.resources?.limits?.memory ?? DEFAULTS.resources.limits.memory,
      agentEphemeralLimit: p.resources?.limits?.ephemeralStorage ?? DEFAULTS.resources.limits.ephemeralStorage,
      sidecarEphemeralLimit: sidecarResources?.limits?.ephemeralStorage ?? DEFAULTS.sidecar.resources.limits.ephemeralStorage,
    })) {
      ctx.addIssue({ code: 'custom', path: issue.path, message: issue.message });
    }
    if (typeof p.sidecar === 'object' && p.sidecar.redis && p.sidecar.redisUrl) {
      ctx.addIssue({ code: 'custom', path: ['sidecar', 'redisUrl'], message: 'set either redisUrl or redis, not both' });
    }
    const reserved = ['AGENT_ID', 'NAMESPACE', 'AGENT_SIDECAR_URL'];
    for (const name of [...Object.keys(p.env ?? {}), ...Object.keys(p.secretEnv ?? {})]) {
      if (reserved.includes(name)) ctx.addIssue({ code: 'custom', path: ['env', name], message: `is set by AgentService itself (reserved: ${reserved.join(', ')})` });
    }
    for (const name of Object.keys(p.secretEnv ?? {})) {
      if (p.env && name in p.env) ctx.addIssue({ code: 'custom', path: ['secretEnv', name], message: 'is also set in env: an environment variable has one source' });
    }
    if (p.models) {
      checkModels(p.models, (path, message) => ctx.addIssue({ code: 'custom', path: ['models', ...path], message }));
      if (p.sidecar === false || (typeof p.sidecar === 'object' && p.sidecar.enabled === false)) {
        ctx.addIssue({ code: 'custom', path: ['models'], message: 'needs the sidecar, whose gateway forwards the model calls' });
      }
      for (const name of agentEnvNames(p.models)) {
        for (const where of ['env', 'secretEnv'] as const) {
          if (p[where] && name in p[where]!) ctx.addIssue({ code: 'custom', path: [where, name], message: 'is set by models (the sidecar gateway): remove it here or set models.providers[].envPrefix' });
        }
      }
    }
    if (typeof p.sidecar === 'object') {
      const sc = p.sidecar;
      const maxBytes = sc.cacheMaxBytes ?? DEFAULTS.sidecar.cache.maxBytes;
      if (sc.cacheMaxValueBytes !== undefined && sc.cacheMaxValueBytes > maxBytes) {
        ctx.addIssue({ code: 'custom', path: ['sidecar', 'cacheMaxValueBytes'], message: `(${sc.cacheMaxValueBytes}) must not exceed cacheMaxBytes (${maxBytes})` });
      }
      // The sidecar's V8 old space is 75% of its memory limit; a full cache plus working memory must fit.
      const limit = sc.resources?.limits?.memory ?? DEFAULTS.sidecar.resources.limits.memory;
      const heap = parseMemory(limit) * 0.75;
      if (maxBytes + SIDECAR_WORKING_MEMORY_BYTES > heap) {
        ctx.addIssue({
          code: 'custom',
          path: ['sidecar', 'cacheMaxBytes'],
          message: `(${maxBytes}) plus ~${SIDECAR_WORKING_MEMORY_BYTES / 2 ** 20} MiB of working memory does not fit the sidecar heap (75% of resources.limits.memory ${limit}): raise the limit or lower cacheMaxBytes`,
        });
      }
    }
    const hcPort = p.healthCheck?.port;
    const proxied = proxyEnabled(p);
    if (hcPort !== undefined && (hcPort === SIDECAR_METRICS_PORT || hcPort === SIDECAR_API_PORT || (hcPort === SIDECAR_PROXY_PORT && !proxied))) {
      ctx.addIssue({ code: 'custom', path: ['healthCheck', 'port'], message: `(${hcPort}) is a sidecar port; probe the agent's own port` });
    }
    if (p.port === SIDECAR_METRICS_PORT || p.port === SIDECAR_API_PORT || p.port === SIDECAR_PROXY_PORT) {
      ctx.addIssue({ code: 'custom', path: ['port'], message: `(${p.port}) is reserved for the sidecar (${SIDECAR_METRICS_PORT}, ${SIDECAR_API_PORT}, ${SIDECAR_PROXY_PORT})` });
    }
    if (p.canary) {
      const canaryVersion = p.canary.version ?? versionOf(p.canary.image);
      if (canaryVersion === (p.version ?? versionOf(p.image))) {
        ctx.addIssue({ code: 'custom', path: ['canary', 'version'], message: `("${canaryVersion}") must differ from the stable version, or the mesh cannot tell the subsets apart` });
      }
    }
  });

/** Props of AgentService as users write them (see AgentServiceProps for the documented interface). */
export type AgentServicePropsInput = z.input<typeof agentServicePropsSchema>;

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

/** Version label value from an image reference. */
export function versionOf(image: string): string {
  const ref = parseImage(image);
  if (ref?.tag) return ref.tag.slice(0, 63).replace(/[^A-Za-z0-9_.-]/g, '-');
  if (ref?.digest) return ref.digest.slice('sha256:'.length, 'sha256:'.length + 12);
  return 'unknown';
}

function resources(input: z.infer<typeof resourcesSchema> | undefined, defaults: Omit<ResourceSpec, 'extended'>): ResourceSpec {
  return containerResources(input, defaults);
}

/** Context that props do not carry: where the construct sits. */
export interface SpecContext {
  readonly id: string;
  readonly constructPath: string;
  readonly chartNamespace?: string;
}

/** Turns parsed props into the normalized AgentSpec (pure: no cdk8s). */
export function normalizeAgentSpec(p: z.output<typeof agentServicePropsSchema>, ctx: SpecContext): AgentSpec {
  const name = p.name ?? ctx.id;
  const namespace = p.namespace ?? ctx.chartNamespace ?? 'default';
  const system = p.system ?? namespace;
  const version = p.version ?? versionOf(p.image);
  const selectorLabels = { 'app.kubernetes.io/name': name, 'app.kubernetes.io/instance': name };
  const labels = {
    ...(p.labels ?? {}),
    ...selectorLabels,
    'app.kubernetes.io/component': p.component ?? DEFAULTS.component,
    'app.kubernetes.io/part-of': system,
    'app.kubernetes.io/managed-by': MANAGED_BY,
  };
  const sidecarProps = typeof p.sidecar === 'object' ? p.sidecar : {};
  const sidecarEnabled = p.sidecar === false ? false : (typeof p.sidecar === 'object' ? p.sidecar.enabled ?? true : true);
  const scaling = scalingOf(p);
  const saName = p.serviceAccountName ?? name;
  const models = normalizeModels(p.models);
  const egressHosts: AgentEgressHost[] = [];
  const dependencies: AgentDependency[] = [];
  const redis = sidecarEnabled ? normalizeRedis(sidecarProps.redis, sidecarProps.redisUrl, namespace, name) : undefined;
  for (const m of models?.providers ?? []) {
    if (!m.inCluster) {
      egressHosts.push({ host: m.host, port: m.port, source: `models.${m.provider}` });
    } else {
      const [service, ns] = m.host.split('.');
      dependencies.push({ kind: 'service', service, namespace: ns, port: m.port, source: `models.${m.provider}` });
    }
  }
  const tools = normalizeTools(p, namespace);
  const persistence = normalizePersistence(p);
  const proxy = proxyEnabled(p);
  const port = p.port ?? DEFAULTS.port;
  // Where Redis is (host/port, also given next to a urlSecret), for MeshPolicy's egress.
  const redisWhere = redisTarget(redis?.endpoint ? `redis://${redis.endpoint.host}:${redis.endpoint.port}` : undefined, namespace);
  if (redisWhere.dependency) dependencies.push(redisWhere.dependency);
  if (redisWhere.egressHost) egressHosts.push(redisWhere.egressHost);
  return {
    name,
    namespace,
    system,
    component: p.component ?? DEFAULTS.component,
    team: p.team,
    image: p.image,
    version,
    port,
    targetPort: proxy ? SIDECAR_PROXY_PORT : port,
    scaling,
    resources: resources(p.resources, DEFAULTS.resources),
    env: { ...(p.env ?? {}) },
    secretEnv: Object.fromEntries(Object.entries(p.secretEnv ?? {}).map(([k, v]) => [k, { secretName: v.secretName, key: v.key, optional: v.optional ?? false }])),
    healthCheck: {
      // Through the proxy by default: nothing outside the pod reaches the agent's own port.
      // (A health port equal to the agent's port means the agent: reached through the proxy too.)
      port: p.healthCheck?.port === undefined || p.healthCheck.port === port ? (proxy ? SIDECAR_PROXY_PORT : port) : p.healthCheck.port,
      livenessPath: p.healthCheck?.livenessPath ?? DEFAULTS.healthCheck.livenessPath,
      readinessPath: p.healthCheck?.readinessPath ?? DEFAULTS.healthCheck.readinessPath,
      startupPath: p.healthCheck?.startupPath ?? p.healthCheck?.livenessPath ?? DEFAULTS.healthCheck.livenessPath,
      startupTimeoutSeconds: p.healthCheck?.startupTimeoutSeconds ?? DEFAULTS.healthCheck.startupTimeoutSeconds,
    },
    serviceAccount: {
      name: saName,
      create: p.serviceAccountName === undefined,
      automountToken: p.automountServiceAccountToken ?? false,
      annotations: { ...(p.serviceAccount?.annotations ?? {}) },
    },
    workloadKind: persistence ? 'StatefulSet' : 'Deployment',
    pod: normalizePodSettings(p),
    persistence,
    tools,
    labels,
    selectorLabels,
    annotations: { ...(p.annotations ?? {}) },
    terminationGracePeriodSeconds: p.terminationGracePeriodSeconds ?? DEFAULTS.terminationGracePeriodSeconds,
    drainSeconds: p.drainSeconds ?? DEFAULTS.drainSeconds,
    maxConcurrentRequests: p.maxConcurrentRequests ?? DEFAULTS.maxConcurrentRequests,
    sidecar: {
      enabled: sidecarEnabled,
      image: sidecarProps.image ?? DEFAULTS.sidecar.image,
      metricsPort: SIDECAR_METRICS_PORT,
      apiPort: SIDECAR_API_PORT,
      resources: resources(sidecarProps.resources, DEFAULTS.sidecar.resources),
      cacheMaxEntries: sidecarProps.cacheMaxEntries ?? DEFAULTS.sidecar.cache.maxEntries,
      cacheMaxBytes: sidecarProps.cacheMaxBytes ?? DEFAULTS.sidecar.cache.maxBytes,
      cacheMaxValueBytes: sidecarProps.cacheMaxValueBytes ?? Math.min(SIDECAR_MAX_VALUE_BYTES, sidecarProps.cacheMaxBytes ?? DEFAULTS.sidecar.cache.maxBytes),
      cacheDefaultTtlSeconds: sidecarProps.cacheDefaultTtlSeconds ?? DEFAULTS.sidecar.cache.defaultTtlSeconds,
      redisUrl: redis?.url,
      redis,
      proxy,
      proxyPort: SIDECAR_PROXY_PORT,
    },
    slo: p.slo ? { availability: p.slo.availability, latencyP95Seconds: p.slo.latencyP95Seconds, window: p.slo.window ?? DEFAULTS.slo.window } : undefined,
    canary: p.canary ? { image: p.canary.image, version: p.canary.version ?? versionOf(p.canary.image), replicas: p.canary.replicas ?? 1 } : undefined,
    models,
    names: {
      deployment: name,
      headlessService: `${name}-headless`,
      canaryDeployment: `${name}-canary`,
      service: name,
      hpa: `${name}-hpa`,
      pdb: `${name}-pdb`,
      serviceAccount: saName,
    },
    host: `${name}.${namespace}.svc.cluster.local`,
    egressHosts: [...egressHosts, ...toolEgressHosts(tools)],
    dependencies: [...dependencies, ...toolDependencies(p.tools, namespace)],
    constructPath: ctx.constructPath,
  };
}

/** The sidecar's inbound proxy runs unless the sidecar is off or `sidecar: { proxy: false }`. */
function proxyEnabled(p: z.input<typeof agentServicePropsSchema>): boolean {
  if (p.sidecar === false) return false;
  if (typeof p.sidecar === 'object') return p.sidecar.enabled !== false && p.sidecar.proxy !== false;
  return true;
}

function scalingOf(p: z.output<typeof agentServicePropsSchema>): ScalingSpec {
  if (p.replicas !== undefined) return { kind: 'fixed', replicas: p.replicas };
  const a = p.autoscaling ?? {};
  const common = {
    minReplicas: a.minReplicas ?? DEFAULTS.autoscaling.minReplicas,
    maxReplicas: a.maxReplicas ?? DEFAULTS.autoscaling.maxReplicas,
    scaleDownStabilizationSeconds: a.scaleDownStabilizationSeconds ?? DEFAULTS.autoscaling.scaleDownStabilizationSeconds,
  };
  if (a.metric === 'inflight') {
    const maxConcurrent = p.maxConcurrentRequests ?? DEFAULTS.maxConcurrentRequests;
    return {
      kind: 'inflight',
      ...common,
      minReplicas: a.scaleToZero ? 0 : common.minReplicas,
      // Aim below the per-replica capacity so bursts queue in a new replica, not in the mesh.
      targetPerReplica: a.targetPerReplica ?? Math.max(1, Math.floor(maxConcurrent * 0.7)),
      scaleToZero: a.scaleToZero ?? false,
      activationThreshold: a.activationThreshold ?? DEFAULTS.inflight.activationThreshold,
      prometheusAddress: a.prometheusAddress ?? DEFAULTS.inflight.prometheusAddress,
      pollingIntervalSeconds: a.pollingIntervalSeconds ?? DEFAULTS.inflight.pollingIntervalSeconds,
    };
  }
  return {
    kind: 'hpa',
    ...common,
    targetCpuPercent: a.targetCpuPercent ?? DEFAULTS.autoscaling.targetCpuPercent,
    targetMemoryPercent: a.targetMemoryPercent ?? DEFAULTS.autoscaling.targetMemoryPercent,
  };
}

/** Most replicas this agent's stable Deployment can run. */
export function maxReplicasOf(spec: AgentSpec): number {
  return spec.scaling.kind === 'fixed' ? spec.scaling.replicas : spec.scaling.maxReplicas;
}

/** Fewest replicas this agent's stable Deployment runs. */
export function minReplicasOf(spec: AgentSpec): number {
  return spec.scaling.kind === 'fixed' ? spec.scaling.replicas : spec.scaling.minReplicas;
}

