import { ApiObject, Chart, Duration, JsonPatch, Size } from 'cdk8s';
import * as kplus from 'cdk8s-plus-28';
import { Construct } from 'constructs';
import { ScaledObject } from '../imports/scaledobject-keda.sh';
import { AGENT_SIDECAR_URL_ENV, SIDECAR_CONTAINER_NAME, SIDECAR_ENV, SIDECAR_PATHS } from '../sidecar/contract';
import { inflightScaledObject } from './agent/scaled-object';
import { k8sResources, podTemplatePatches, RUN_AS_USER, toolEnv, volumeClaimTemplates } from './agent/pod-template';
import { modelsAgentEnv, modelsSecretEnv, modelsSidecarEnv } from './models';
import { redisSidecarEnv, redisSidecarSecretEnv } from './redis';
import { fromReferenceConfig, ReferenceAgentConfig } from './reference-config';
import { agentServicePorts, setAppProtocols } from './service-ports';
import {
  AgentSpec,
  agentServicePropsSchema,
  maxReplicasOf,
  normalizeAgentSpec,
  ResourceSpec,
} from './spec';
import { parseMemory, parseProps, PropsValidationError } from './validation';
import type { AgentServiceProps } from './agent/service-props';
// The props interfaces live in agent/service-props.ts; exported from here as before.
export type { AgentResources, AgentAutoscaling, AgentHealthCheck, SecretKeyRef, AgentSidecarOptions, AgentRedisSecretRef, AgentRedisOptions, AgentSlo, AgentCanary, AgentModelProvider, AgentModels, AgentServiceProps, _PropsMatchSchema, _SchemaMatchesProps, _SameKeys } from './agent/service-props';

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
    env[SIDECAR_ENV.maxQueue] = String(s.proxyMaxQueue);
    env[SIDECAR_ENV.queueTimeoutMs] = String(Math.round(s.proxyQueueTimeoutSeconds * 1000));
    const routes = Object.entries(s.proxyRoutes).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    if (routes.length > 0) env[SIDECAR_ENV.proxyRoutes] = routes.map(([prefix, op]) => `${prefix}=${op}`).join(',');
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
