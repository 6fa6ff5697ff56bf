import { ApiObject, Chart, Duration, JsonPatch, Size } from 'cdk8s';
import * as kplus from 'cdk8s-plus-28';
import { Construct } from 'constructs';
import { ScaledObject } from '../imports/scaledobject-keda.sh';
import { AGENT_SIDECAR_URL_ENV, SIDECAR_CONTAINER_NAME, SIDECAR_ENV, SIDECAR_PATHS } from '../sidecar/contract';
import { inflightScaledObject } from './agent/scaled-object';
import { k8sResources, podTemplatePatches, RUN_AS_USER, toolEnv, volumeClaimTemplates } from './agent/pod-template';
import { AgentPodProps, AgentResourceQuantities } from './agent/props';
import { modelsAgentEnv, modelsSecretEnv, modelsSidecarEnv } from './models';
import { redisSidecarEnv, redisSidecarSecretEnv } from './redis';
import { fromReferenceConfig, ReferenceAgentConfig } from './reference-config';
import { agentServicePorts, setAppProtocols } from './service-ports';
import {
  AgentServicePropsInput,
  AgentSpec,
  agentServicePropsSchema,
  maxReplicasOf,
  normalizeAgentSpec,
  ResourceSpec,
} from './spec';
import { parseMemory, parseProps, PropsValidationError } from './validation';

/** Resource requests and limits. Each value falls back to its own default. */
export interface AgentResources {
  /** @default { cpu: '100m', memory: '256Mi', ephemeralStorage: '256Mi' } (sidecar: { cpu: '25m', memory: '128Mi', ephemeralStorage: '64Mi' }) */
  readonly requests?: AgentResourceQuantities;
  /** @default { cpu: '500m', memory: '1Gi', ephemeralStorage: '1Gi' } (sidecar: { cpu: '250m', memory: '256Mi', ephemeralStorage: '256Mi' }) */
  readonly limits?: AgentResourceQuantities;
}

/** Autoscaling: a CPU/memory HorizontalPodAutoscaler, or KEDA on in-flight agent invocations. */
export interface AgentAutoscaling {
  /**
   * What to scale on: 'resource' (CPU and memory utilization, an HPA) or 'inflight'
   * (in-flight invocations reported by the sidecar, a KEDA ScaledObject with a Prometheus trigger;
   * needs KEDA and the MonitoringStack scrape labels). @default 'resource'
   */
  readonly metric?: 'resource' | 'inflight';
  /** 'inflight' only: in-flight invocations per replica to aim for. @default 70% of maxConcurrentRequests */
  readonly targetPerReplica?: number;
  /** 'inflight' only: scale idle agents to zero (woken by the callers' Istio request rate). @default false */
  readonly scaleToZero?: boolean;
  /** 'inflight' only: in-flight value above which a scaled-to-zero agent is activated. @default 0 */
  readonly activationThreshold?: number;
  /** 'inflight' only: Prometheus URL KEDA queries. @default 'http://prometheus-operated.monitoring.svc:9090' */
  readonly prometheusAddress?: string;
  /** 'inflight' only: seconds between KEDA queries. @default 15 */
  readonly pollingIntervalSeconds?: number;
  /** Fewest replicas. @default 2 */
  readonly minReplicas?: number;
  /** Most replicas. @default 10 */
  readonly maxReplicas?: number;
  /** Target average CPU utilization, percent of requests. @default 70 */
  readonly targetCpuPercent?: number;
  /** Target average memory utilization, percent of requests. @default 80 */
  readonly targetMemoryPercent?: number;
  /**
   * Seconds of sustained low load before scaling down; long, because a scaled-down
   * replica may be holding minute-long model calls. @default 600
   */
  readonly scaleDownStabilizationSeconds?: number;
}

/** HTTP probes of the agent container. */
export interface AgentHealthCheck {
  /** Port the probes call. @default the agent `port` */
  readonly port?: number;
  /** Liveness probe path. @default '/health' */
  readonly livenessPath?: string;
  /** Readiness probe path. @default '/ready' */
  readonly readinessPath?: string;
  /** Startup probe path. @default the liveness path */
  readonly startupPath?: string;
  /** How long the agent may take to start (model downloads, warm-up) before it is restarted. @default 300 */
  readonly startupTimeoutSeconds?: number;
}

/** A value taken from a key of a Kubernetes Secret. */
export interface SecretKeyRef {
  /** Name of the Secret in the agent's namespace. */
  readonly secretName: string;
  /** Key within the Secret. */
  readonly key: string;
  /** Start the pod even when the Secret or key is missing. @default false */
  readonly optional?: boolean;
}

/** The metrics-and-cache sidecar container. */
export interface AgentSidecarOptions {
  /** Run the sidecar. @default true */
  readonly enabled?: boolean;
  /** Sidecar image. @default `ghcr.io/cdk8s-agents/agent-sidecar:<package version>` */
  readonly image?: string;
  /** Sidecar resources. @default requests 25m/128Mi, limits 250m/256Mi */
  readonly resources?: AgentResources;
  /** Most entries in the local cache. @default 10000 */
  readonly cacheMaxEntries?: number;
  /** Most bytes held by the local cache; with ~80 MiB of working memory it must fit 75% of the memory limit. @default 67108864 (64 MiB) */
  readonly cacheMaxBytes?: number;
  /** Largest single cache value. @default 1048576 (1 MiB), or cacheMaxBytes when smaller */
  readonly cacheMaxValueBytes?: number;
  /** TTL of cache entries written without `?ttl=`. @default 300 */
  readonly cacheDefaultTtlSeconds?: number;
  /**
   * Shared cache tier on Redis given as a URL without credentials (a URL with a password is
   * rejected: use `redis` with `passwordSecret`). @default none (local only)
   */
  readonly redisUrl?: string;
  /**
   * The inbound proxy, the agent's front door: the Service's `http` port targets the sidecar
   * (port 9466), which forwards to the agent on 127.0.0.1, so every invocation is counted,
   * timed, limited to `maxConcurrentRequests` (FIFO queue, then 503) and drained, with no agent
   * code. Probes go through it too. `false`: the Service targets the agent directly and only the
   * agent's own reports reach the metrics. @default true
   */
  readonly proxy?: boolean;
  /** Shared cache tier on Redis, credentials from Secrets. @default none (local only) */
  readonly redis?: AgentRedisOptions;
}

/** A Secret key holding one value. */
export interface AgentRedisSecretRef {
  /** Name of the Secret in the agent's namespace. */
  readonly secretName: string;
  /** Key in the Secret. */
  readonly key: string;
}

/**
 * The sidecar's shared cache tier. The Redis Service becomes a dependency of this agent
 * (MeshPolicy opens its egress to it), an external host an egress host.
 */
export interface AgentRedisOptions {
  /** A Service name (the agent's namespace), `<service>.<namespace>.svc`, or an external host. @default none: required unless urlSecret is set */
  readonly host?: string;
  /** @default 6379 */
  readonly port?: number;
  /** rediss:// (TLS). @default false */
  readonly tls?: boolean;
  /** Database number. @default 0 */
  readonly db?: number;
  /** ACL user. @default none (the default user) */
  readonly username?: string;
  /** Secret key holding the password (sent as SIDECAR_REDIS_PASSWORD). @default none */
  readonly passwordSecret?: AgentRedisSecretRef;
  /** Secret key holding the whole redis:// URL instead of host/port/tls/db/username/password. @default none */
  readonly urlSecret?: AgentRedisSecretRef;
  /**
   * Key prefix in Redis. By default every agent has its own (`agent-cache:<namespace>/<name>:`),
   * so agents sharing one Redis never read or clear each other's entries; give several agents the
   * same prefix to share a cache between them on purpose.
   * @default `agent-cache:<namespace>/<name>:`
   */
  readonly keyPrefix?: string;
}

/** Service level objective of one agent, read by MonitoringStack. */
export interface AgentSlo {
  /** Availability target in percent (share of invocations that succeed), e.g. 99.5. */
  readonly availability: number;
  /** 95th percentile latency objective in seconds. @default none */
  readonly latencyP95Seconds?: number;
  /** SLO window. @default '30d' */
  readonly window?: string;
}

/** A canary Deployment next to the stable one; MeshPolicy routes a weight to it. */
export interface AgentCanary {
  /** Image of the canary pods (pinned). */
  readonly image: string;
  /** `app.kubernetes.io/version` of the canary pods. @default the image tag */
  readonly version?: string;
  /** Replicas of the canary Deployment. @default 1 */
  readonly replicas?: number;
}

/** One model provider the agent calls through the sidecar's gateway (`/v1/providers/<provider>`). */
export interface AgentModelProvider {
  /** Provider name: the gateway route and the `gen_ai_provider_name` label, e.g. 'openai', 'anthropic', 'vllm'. */
  readonly provider: string;
  /** API shape, where usage is read from. @default 'anthropic' for provider 'anthropic', else 'openai' */
  readonly api?: 'openai' | 'anthropic';
  /**
   * The provider's base URL as its SDK uses it; https unless an in-cluster Service (`*.svc`).
   * @default 'https://api.openai.com/v1' for 'openai', 'https://api.anthropic.com' for 'anthropic' (required for others)
   */
  readonly baseUrl?: string;
  /** Model the agent uses, set as `<envPrefix>_MODEL`. @default none */
  readonly model?: string;
  /** API key from a Secret, set as `<envPrefix>_API_KEY` in the agent container (never in the sidecar). @default none */
  readonly apiKey?: { readonly secretName: string; readonly key: string };
  /** Response cache TTL for deterministic calls (temperature 0, or `x-sidecar-cache: force`). @default none (no cache) */
  readonly cacheTtlSeconds?: number;
  /** Prefix of the agent's env vars (`<prefix>_BASE_URL`, `_API_KEY`, `_MODEL`). @default 'OPENAI' for api openai, 'ANTHROPIC' for anthropic */
  readonly envPrefix?: string;
}

/** Model calls through the sidecar gateway: token usage, time to first token, cache and budgets with no agent code. */
export interface AgentModels {
  /** The providers (at least one). */
  readonly providers: AgentModelProvider[];
  /** Tokens per minute this agent may use; beyond it calls get 429 + Retry-After. @default unlimited */
  readonly maxTokensPerMinute?: number;
  /** Model calls per minute this agent may start. @default unlimited */
  readonly maxRequestsPerMinute?: number;
  /** Ask OpenAI-shape streams for their usage chunk (`stream_options.include_usage`) when the agent does not. @default true */
  readonly streamUsage?: boolean;
  /** Time-to-first-token objective: MonitoringStack alerts when the p95 exceeds it. @default none (no alert) */
  readonly timeToFirstTokenP95Seconds?: number;
}

/** Props of AgentService (pod settings, persistence and tools: see AgentPodProps). */
export interface AgentServiceProps extends AgentPodProps {
  /** Agent container image with a tag or digest (`:latest` and untagged images are rejected). */
  readonly image: string;
  /** Agent id: name of the Deployment, Service and ServiceAccount (DNS-1035, at most 50 characters). @default the construct id */
  readonly name?: string;
  /** Namespace. @default the chart's namespace, else 'default' */
  readonly namespace?: string;
  /** System the agent is part of (`app.kubernetes.io/part-of`). @default the namespace */
  readonly system?: string;
  /** Role of the agent in the system (`app.kubernetes.io/component`). @default 'agent' */
  readonly component?: string;
  /** Owning team, used by MonitoringStack as the `team` alert label. @default none */
  readonly team?: string;
  /** `app.kubernetes.io/version`. @default the image tag (or the digest's first 12 hex digits) */
  readonly version?: string;
  /** The agent's HTTP port, named `http`. @default 8080 */
  readonly port?: number;
  /** A fixed replica count; exclusive with `autoscaling`. @default autoscaling with its defaults */
  readonly replicas?: number;
  /** CPU/memory autoscaling. @default { minReplicas: 2, maxReplicas: 10, targetCpuPercent: 70, targetMemoryPercent: 80 } */
  readonly autoscaling?: AgentAutoscaling;
  /** Plain environment variables. @default {} */
  readonly env?: Record<string, string>;
  /** Environment variables from Secret keys (model API keys). @default {} */
  readonly secretEnv?: Record<string, SecretKeyRef>;
  /** Agent container resources. @default requests 100m/256Mi, limits 500m/1Gi */
  readonly resources?: AgentResources;
  /** Probes. @default liveness '/health', readiness '/ready', startup '/health' for up to 300 s */
  readonly healthCheck?: AgentHealthCheck;
  /** Use this existing ServiceAccount instead of creating one. @default a ServiceAccount named after the agent is created */
  readonly serviceAccountName?: string;
  /** Mount the ServiceAccount token (only agents that call the Kubernetes API need it). @default false */
  readonly automountServiceAccountToken?: boolean;
  /** Extra labels on every object. @default {} */
  readonly labels?: Record<string, string>;
  /** Extra pod annotations. @default {} */
  readonly annotations?: Record<string, string>;
  /** Seconds a terminating pod gets to finish in-flight agent calls (above the mesh's 300 s default timeout plus the drain). @default 330 */
  readonly terminationGracePeriodSeconds?: number;
  /** Seconds the preStop hook sleeps so traffic stops before SIGTERM (0 disables the hook; needs `sleep` in the image). @default 15 */
  readonly drainSeconds?: number;
  /** Concurrent requests one replica is sized for (mesh connection pools, in-flight autoscaling). @default 10 */
  readonly maxConcurrentRequests?: number;
  /** The metrics-and-cache sidecar; `false` disables it. @default enabled with its defaults */
  readonly sidecar?: boolean | AgentSidecarOptions;
  /** SLO read by MonitoringStack. @default none */
  readonly slo?: AgentSlo;
  /** A canary Deployment. @default none */
  readonly canary?: AgentCanary;
  /** Model providers called through the sidecar gateway (sets the agent's base-URL and API-key env vars). @default none */
  readonly models?: AgentModels;
}

// Keep the documented interface and the zod schema in step at compile time.
type Assert<T extends true> = T;
export type _PropsMatchSchema = Assert<AgentServiceProps extends AgentServicePropsInput ? true : false>;
// And the other way: every schema key is a documented prop, with a compatible type.
export type _SchemaMatchesProps = Assert<AgentServicePropsInput extends AgentServiceProps ? true : false>;
export type _SameKeys = Assert<[keyof AgentServiceProps] extends [keyof AgentServicePropsInput] ? ([keyof AgentServicePropsInput] extends [keyof AgentServiceProps] ? true : false) : false>;

// Names already used per chart and namespace, to reject duplicate agent ids.
const agentsByChart = new WeakMap<Chart, Map<string, string>>();


/**
 * One AI agent on Kubernetes: Deployment (a StatefulSet with a headless Service when it has
 * `persistence`), Service, HorizontalPodAutoscaler, PodDisruptionBudget, ServiceAccount and the
 * metrics-and-cache sidecar, secure by default.
 */
export class AgentService extends Construct {
  /**
   * Builds an AgentService from the reference design's agent config (snake_case:
   * `agent_id`, `image`, `tag`, `resources`, `environment`, `ports`, `health_check`, `scaling`).
   * Unknown keys and a missing or `latest` tag are errors.
   */
  public static fromConfig(scope: Construct, config: ReferenceAgentConfig, overrides: Partial<AgentServiceProps> = {}): AgentService {
    const id = typeof (config as { agent_id?: unknown })?.agent_id === 'string' ? (config as { agent_id: string }).agent_id : 'agent';
    const path = [scope.node.path, id].filter(Boolean).join('/');
    return new AgentService(scope, id, { ...fromReferenceConfig(config, path), ...overrides });
  }

  /** The normalized, fully defaulted description of this agent (read by MeshPolicy, MonitoringStack, AgentSystem). */
  public readonly spec: AgentSpec;
  /** The stable workload: `deployment`, or `statefulSet` for an agent with persistence. */
  public readonly workload: kplus.Deployment | kplus.StatefulSet;
  /** The stable Deployment (none for a stateful agent). */
  public readonly deployment?: kplus.Deployment;
  /** The StatefulSet of an agent with `persistence`. */
  public readonly statefulSet?: kplus.StatefulSet;
  /** Headless Service of the StatefulSet (stable pod DNS names); clients use `service`. */
  public readonly headlessService?: kplus.Service;
  public readonly canaryDeployment?: kplus.Deployment;
  public readonly service: kplus.Service;
  public readonly serviceAccount?: kplus.ServiceAccount;
  public readonly hpa?: kplus.HorizontalPodAutoscaler;
  /** KEDA ScaledObject, when `autoscaling.metric` is 'inflight'. */
  public readonly scaledObject?: ScaledObject;
  public readonly pdb?: kplus.k8s.KubePodDisruptionBudget;

  constructor(scope: Construct, id: string, props: AgentServiceProps) {
    // Validate before joining the construct tree, so bad props leave nothing behind.
    const constructPath = [scope.node.path, id].filter(Boolean).join('/');
    const chart = Chart.of(scope);
    const parsed = parseProps(agentServicePropsSchema, props, constructPath);
    const spec = Object.freeze(normalizeAgentSpec(parsed, { id, constructPath, chartNamespace: chart.namespace }));
    const selfTools = spec.tools.filter((t) => t.kind === 'agent' && t.agent === spec.name && t.url.includes(`.${spec.namespace}.svc`));
    if (selfTools.length) throw new PropsValidationError(constructPath, selfTools.map((t) => `tools.${t.name}.agent ("${t.agent}") is this agent itself`));
    claimName(chart, spec);
    super(scope, id);
    this.spec = spec;

    if (spec.serviceAccount.create) {
      this.serviceAccount = new kplus.ServiceAccount(this, 'ServiceAccount', {
        metadata: { name: spec.names.serviceAccount, namespace: spec.namespace, labels: { ...spec.labels }, annotations: { ...spec.serviceAccount.annotations } },
        automountToken: spec.serviceAccount.automountToken,
      });
    }
    const serviceAccount = this.serviceAccount ?? kplus.ServiceAccount.fromServiceAccountName(this, 'ExistingServiceAccount', spec.names.serviceAccount);
    const env = agentEnv(this, spec);

    if (spec.workloadKind === 'StatefulSet') {
      this.headlessService = new kplus.Service(this, 'HeadlessService', {
        metadata: { name: spec.names.headlessService, namespace: spec.namespace, labels: { ...spec.labels } },
        type: kplus.ServiceType.CLUSTER_IP,
        clusterIP: 'None',
        // Through the proxy too: a per-pod address must not bypass the front door.
        ports: [{ name: 'http', port: spec.port, targetPort: spec.targetPort, protocol: kplus.Protocol.TCP }],
      });
      this.headlessService.selectLabel('app.kubernetes.io/name', spec.selectorLabels['app.kubernetes.io/name']);
      this.headlessService.selectLabel('app.kubernetes.io/instance', spec.selectorLabels['app.kubernetes.io/instance']);
    }
    this.workload = this.buildDeployment(spec.workloadKind === 'StatefulSet' ? 'StatefulSet' : 'Deployment', serviceAccount, env, {
      name: spec.names.deployment,
      image: spec.image,
      version: spec.version,
      track: 'stable',
      replicas: spec.scaling.kind === 'fixed' ? spec.scaling.replicas : undefined,
    });
    if (this.workload instanceof kplus.StatefulSet) {
      this.statefulSet = this.workload;
      // The StatefulSet makes its Service select its hashed address label, which the pods drop.
      ApiObject.of(this.headlessService!).addJsonPatch(JsonPatch.remove('/spec/selector/cdk8s.io~1metadata.addr'));
    }
    else this.deployment = this.workload;
    if (spec.canary) {
      this.canaryDeployment = <kplus.Deployment> this.buildDeployment('CanaryDeployment', serviceAccount, env, {
        name: spec.names.canaryDeployment,
        image: spec.canary.image,
        version: spec.canary.version,
        track: 'canary',
        replicas: spec.canary.replicas,
      });
    }

    this.service = new kplus.Service(this, 'Service', {
      metadata: { name: spec.names.service, namespace: spec.namespace, labels: { ...spec.labels } },
      type: kplus.ServiceType.CLUSTER_IP,
      ports: agentServicePorts(spec),
    });
    setAppProtocols(this.service);
    // Select stable and canary pods alike: the mesh splits traffic by version subset.
    this.service.selectLabel('app.kubernetes.io/name', spec.selectorLabels['app.kubernetes.io/name']);
    this.service.selectLabel('app.kubernetes.io/instance', spec.selectorLabels['app.kubernetes.io/instance']);

    if (spec.scaling.kind === 'hpa') {
      this.hpa = new kplus.HorizontalPodAutoscaler(this, 'Hpa', {
        metadata: { name: spec.names.hpa, namespace: spec.namespace, labels: { ...spec.labels } },
        target: this.workload,
        minReplicas: spec.scaling.minReplicas,
        maxReplicas: spec.scaling.maxReplicas,
        metrics: [
          kplus.Metric.resourceCpu(kplus.MetricTarget.averageUtilization(spec.scaling.targetCpuPercent)),
          kplus.Metric.resourceMemory(kplus.MetricTarget.averageUtilization(spec.scaling.targetMemoryPercent)),
        ],
        scaleUp: {
          stabilizationWindow: Duration.seconds(0),
          strategy: kplus.ScalingStrategy.MAX_CHANGE,
          policies: [
            { replicas: kplus.Replicas.absolute(4), duration: Duration.seconds(60) },
            { replicas: kplus.Replicas.percent(100), duration: Duration.seconds(60) },
          ],
        },
        scaleDown: {
          stabilizationWindow: Duration.seconds(spec.scaling.scaleDownStabilizationSeconds),
          strategy: kplus.ScalingStrategy.MIN_CHANGE,
          // One pod at a time, so replicas holding long calls drain one by one.
          policies: [{ replicas: kplus.Replicas.absolute(1), duration: Duration.seconds(120) }],
        },
      });
    }

    if (spec.scaling.kind === 'inflight') {
      this.scaledObject = inflightScaledObject(this, spec);
      // KEDA's HPA owns the count; a replicas field would fight it on every GitOps sync.
      ApiObject.of(this.workload).addJsonPatch(JsonPatch.remove('/spec/replicas'));
    }

    if (maxReplicasOf(spec) > 1) {
      this.pdb = new kplus.k8s.KubePodDisruptionBudget(this, 'Pdb', {
        metadata: { name: spec.names.pdb, namespace: spec.namespace, labels: { ...spec.labels } },
        spec: {
          maxUnavailable: kplus.k8s.IntOrString.fromNumber(1),
          selector: { matchLabels: { ...spec.selectorLabels, 'cdk8s-agents.io/track': 'stable' } },
          // Evict pods that never became ready, so a broken rollout cannot block node drains.
          unhealthyPodEvictionPolicy: 'AlwaysAllow',
        },
      });
    }
  }

  private buildDeployment(
    id: string,
    serviceAccount: kplus.IServiceAccount,
    env: Record<string, kplus.EnvValue>,
    opts: { name: string; image: string; version: string; track: 'stable' | 'canary'; replicas?: number },
  ): kplus.Deployment | kplus.StatefulSet {
    const spec = this.spec;
    const podLabels = { ...spec.labels, 'app.kubernetes.io/version': opts.version, 'cdk8s-agents.io/track': opts.track };
    const podAnnotations: Record<string, string> = { ...spec.annotations };
    if (spec.sidecar.enabled) {
      podAnnotations['prometheus.io/scrape'] = 'true';
      podAnnotations['prometheus.io/port'] = String(spec.sidecar.metricsPort);
      podAnnotations['prometheus.io/path'] = SIDECAR_PATHS.metrics;
    }

    const common = {
      metadata: { name: opts.name, namespace: spec.namespace, labels: { ...spec.labels, 'app.kubernetes.io/version': opts.version } },
      podMetadata: { labels: podLabels, annotations: podAnnotations },
      select: false,
      replicas: opts.replicas,
      serviceAccount,
      automountServiceAccountToken: spec.serviceAccount.automountToken,
      terminationGracePeriod: Duration.seconds(spec.terminationGracePeriodSeconds),
      securityContext: { ensureNonRoot: true, user: RUN_AS_USER, group: RUN_AS_USER, fsGroup: RUN_AS_USER },
      isolate: false,
    };
    const deployment = this.headlessService && opts.track === 'stable'
      ? new kplus.StatefulSet(this, id, {
        ...common,
        service: this.headlessService,
        // Agents need no ordered start: replicas come and go in parallel, like a Deployment's.
        podManagementPolicy: kplus.PodManagementPolicy.PARALLEL,
      })
      : new kplus.Deployment(this, id, {
        ...common,
        // Surge only: capacity never drops below the desired count during a rollout.
        strategy: kplus.DeploymentStrategy.rollingUpdate({
          maxSurge: kplus.PercentOrAbsolute.absolute(1),
          maxUnavailable: kplus.PercentOrAbsolute.absolute(0),
        }),
      });
    deployment.select(kplus.LabelSelector.of({ labels: { ...spec.selectorLabels, 'cdk8s-agents.io/track': opts.track } }));

    const agent = deployment.addContainer({
      name: 'agent',
      image: opts.image,
      ports: [{ name: spec.sidecar.proxy ? 'agent' : 'http', number: spec.port, protocol: kplus.Protocol.TCP }],
      envVariables: env,
      securityContext: restrictedContainerSecurity(),
      resources: cdk8sPlusResources(spec.resources),
      liveness: httpProbe(spec.healthCheck.livenessPath, spec.healthCheck.port, 10, 5, 3),
      readiness: httpProbe(spec.healthCheck.readinessPath, spec.healthCheck.port, 5, 3, 3),
      // Slow starters (model downloads, warm-up) get startupTimeoutSeconds before liveness applies.
      startup: httpProbe(spec.healthCheck.startupPath, spec.healthCheck.port, 5, 3, Math.ceil(spec.healthCheck.startupTimeoutSeconds / 5)),
      lifecycle: spec.drainSeconds > 0 ? { preStop: kplus.Handler.fromCommand(['sleep', String(spec.drainSeconds)]) } : undefined,
    });
    agent.mount('/tmp', kplus.Volume.fromEmptyDir(this, `${id}Tmp`, 'tmp', { sizeLimit: Size.mebibytes(256) }));

    if (spec.sidecar.enabled) {
      deployment.addContainer({
        name: SIDECAR_CONTAINER_NAME,
        image: spec.sidecar.image,
        ports: [
          { name: 'metrics', number: spec.sidecar.metricsPort, protocol: kplus.Protocol.TCP },
          ...(spec.sidecar.proxy ? [{ name: 'http', number: spec.sidecar.proxyPort, protocol: kplus.Protocol.TCP }] : []),
        ],
        envVariables: sidecarEnv(this, spec),
        securityContext: restrictedContainerSecurity(),
        resources: cdk8sPlusResources(spec.sidecar.resources),
        liveness: httpProbe(SIDECAR_PATHS.healthz, spec.sidecar.metricsPort, 10, 2, 3),
        readiness: httpProbe(SIDECAR_PATHS.readyz, spec.sidecar.metricsPort, 5, 2, 2),
      });
    }

    const api = ApiObject.of(deployment);
    // cdk8s-plus renders memory in Mi; write the quantities exactly as the user gave them.
    api.addJsonPatch(JsonPatch.replace('/spec/template/spec/containers/0/resources', k8sResources(spec.resources)));
    if (spec.sidecar.enabled) {
      api.addJsonPatch(JsonPatch.replace('/spec/template/spec/containers/1/resources', k8sResources(spec.sidecar.resources)));
    }
    // cdk8s-plus adds a hashed address label to every pod; nothing here selects on it.
    api.addJsonPatch(JsonPatch.remove('/spec/template/metadata/labels/cdk8s.io~1metadata.addr'));
    // cdk8s-plus-28 has no pod-level seccomp profile or topology spread constraints.
    api.addJsonPatch(JsonPatch.add('/spec/template/spec/securityContext/seccompProfile', { type: 'RuntimeDefault' }));
    api.addJsonPatch(JsonPatch.add('/spec/template/spec/topologySpreadConstraints', topologySpread(spec.selectorLabels, deployment instanceof kplus.Deployment)));
    for (const patch of podTemplatePatches(spec)) api.addJsonPatch(patch);
    if (deployment instanceof kplus.StatefulSet) {
      api.addJsonPatch(JsonPatch.add('/spec/volumeClaimTemplates', volumeClaimTemplates(spec)));
      // Claims outlive scale-down and deletion: an agent's memory is not thrown away by the HPA.
      api.addJsonPatch(JsonPatch.add('/spec/persistentVolumeClaimRetentionPolicy', { whenDeleted: 'Retain', whenScaled: 'Retain' }));
    }
    return deployment;
  }
}

function claimName(chart: Chart, spec: AgentSpec) {
  let names = agentsByChart.get(chart);
  if (!names) agentsByChart.set(chart, (names = new Map()));
  const key = `${spec.namespace}/${spec.name}`;
  const other = names.get(key);
  if (other !== undefined) {
    throw new PropsValidationError(spec.constructPath, [`name: agent id "${spec.name}" is already used in namespace "${spec.namespace}" by ${other}`]);
  }
  names.set(key, spec.constructPath);
}

function agentEnv(scope: Construct, spec: AgentSpec): Record<string, kplus.EnvValue> {
  const env: Record<string, kplus.EnvValue> = {
    AGENT_ID: kplus.EnvValue.fromValue(spec.name),
    NAMESPACE: kplus.EnvValue.fromFieldRef(kplus.EnvFieldPaths.POD_NAMESPACE),
  };
  if (spec.sidecar.enabled) env[AGENT_SIDECAR_URL_ENV] = kplus.EnvValue.fromValue(`http://127.0.0.1:${spec.sidecar.apiPort}`);
  const tools = toolEnv(spec);
  for (const [k, v] of Object.entries({ ...tools.plain, ...spec.env })) env[k] = kplus.EnvValue.fromValue(v);
  if (spec.models) for (const [k, v] of Object.entries(modelsAgentEnv(spec.models, spec.sidecar.apiPort))) env[k] = kplus.EnvValue.fromValue(v);
  const secretEnv = { ...tools.secret, ...spec.secretEnv, ...(spec.models ? modelsSecretEnv(spec.models) : {}) };
  for (const [k, ref] of Object.entries(secretEnv)) {
    const secret = kplus.Secret.fromSecretName(scope, `SecretEnv${k}`, ref.secretName);
    env[k] = kplus.EnvValue.fromSecretValue({ secret, key: ref.key }, { optional: ref.optional });
  }
  return env;
}

function sidecarEnv(scope: Construct, spec: AgentSpec): Record<string, kplus.EnvValue> {
  const s = spec.sidecar;
  const env: Record<string, string> = {
    [SIDECAR_ENV.agentName]: spec.name,
    [SIDECAR_ENV.metricsPort]: String(s.metricsPort),
    [SIDECAR_ENV.apiHost]: '127.0.0.1',
    [SIDECAR_ENV.apiPort]: String(s.apiPort),
    [SIDECAR_ENV.cacheMaxEntries]: String(s.cacheMaxEntries),
    [SIDECAR_ENV.cacheMaxBytes]: String(s.cacheMaxBytes),
    [SIDECAR_ENV.cacheMaxValueBytes]: String(s.cacheMaxValueBytes),
    [SIDECAR_ENV.cacheDefaultTtlSeconds]: String(s.cacheDefaultTtlSeconds),
  };
  if (s.redis) Object.assign(env, redisSidecarEnv(s.redis));
  if (spec.models) Object.assign(env, modelsSidecarEnv(spec.models));
  // Every container gets SIGTERM at once: keep serving while the agent drains, so its last records count.
  env[SIDECAR_ENV.shutdownDelayMs] = String(spec.drainSeconds * 1000);
  if (s.proxy) {
    const hc = spec.healthCheck;
    env[SIDECAR_ENV.proxy] = 'true';
    env[SIDECAR_ENV.proxyPort] = String(s.proxyPort);
    env[SIDECAR_ENV.upstream] = `http://127.0.0.1:${spec.port}`;
    env[SIDECAR_ENV.upstreamReadyPath] = hc.readinessPath;
    env[SIDECAR_ENV.maxConcurrency] = String(spec.maxConcurrentRequests);
    // Probes pass through to the agent, but are neither invocations nor subject to the limit.
    env[SIDECAR_ENV.proxyUnmeasuredPaths] = [...new Set([hc.livenessPath, hc.readinessPath, hc.startupPath])].join(',');
    // In-flight calls may run until the pod's grace period ends (minus the drain and a margin to exit).
    env[SIDECAR_ENV.shutdownGraceMs] = String(Math.min(600, Math.max(1, spec.terminationGracePeriodSeconds - spec.drainSeconds - 5)) * 1000);
  }
  // V8 lets garbage grow to ~2x the live heap without a cap: size the old space to 75% of the limit.
  env.NODE_OPTIONS = `--max-old-space-size=${Math.max(64, Math.floor((parseMemory(s.resources.limits.memory) / 2 ** 20) * 0.75))}`;
  const out: Record<string, kplus.EnvValue> = Object.fromEntries(Object.entries(env).map(([k, v]) => [k, kplus.EnvValue.fromValue(v)]));
  // The metrics listener binds the pod IP only (the sidecar's own default is 0.0.0.0).
  out[SIDECAR_ENV.metricsHost] = kplus.EnvValue.fromFieldRef(kplus.EnvFieldPaths.POD_IP);
  for (const [k, ref] of Object.entries(s.redis ? redisSidecarSecretEnv(s.redis) : {})) {
    const secret = kplus.Secret.fromSecretName(scope, `SidecarSecret${k}`, ref.secretName);
    out[k] = kplus.EnvValue.fromSecretValue({ secret, key: ref.key });
  }
  return out;
}

function httpProbe(path: string, port: number, periodSeconds: number, timeoutSeconds: number, failureThreshold: number): kplus.Probe {
  return kplus.Probe.fromHttpGet(path, {
    port, periodSeconds: Duration.seconds(periodSeconds), timeoutSeconds: Duration.seconds(timeoutSeconds), failureThreshold,
  });
}

/** The restricted Pod Security Standard for one container. */
function restrictedContainerSecurity(): kplus.ContainerSecurityContextProps {
  return {
    ensureNonRoot: true,
    user: RUN_AS_USER,
    group: RUN_AS_USER,
    privileged: false,
    allowPrivilegeEscalation: false,
    readOnlyRootFilesystem: true,
    capabilities: { drop: [kplus.Capability.ALL] },
    seccompProfile: { type: kplus.SeccompProfileType.RUNTIME_DEFAULT },
  };
}

function cdk8sPlusResources(r: ResourceSpec): kplus.ContainerResources {
  const cpu = (q: string) => (q.endsWith('m') ? kplus.Cpu.millis(Number(q.slice(0, -1))) : kplus.Cpu.units(Number(q)));
  return {
    cpu: { request: cpu(r.requests.cpu), limit: cpu(r.limits.cpu) },
    memory: { request: Size.mebibytes(1), limit: Size.mebibytes(1) }, // replaced by a patch with the exact quantities
  };
}

function topologySpread(selectorLabels: Readonly<Record<string, string>>, deployment: boolean) {
  // ScheduleAnyway: spread when the cluster can, never leave pods pending on a single-zone cluster.
  return ['kubernetes.io/hostname', 'topology.kubernetes.io/zone'].map((topologyKey) => ({
    maxSkew: 1,
    topologyKey,
    whenUnsatisfiable: 'ScheduleAnyway',
    labelSelector: { matchLabels: sortKeys(selectorLabels) },
    // Deployments spread each ReplicaSet on its own; StatefulSet pods have no such label.
    ...(deployment ? { matchLabelKeys: ['pod-template-hash'] } : {}),
  }));
}

function sortKeys<T>(o: Readonly<Record<string, T>>): Record<string, T> {
  return Object.fromEntries(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}
