import { z } from 'zod';
import { SIDECAR_API_PORT, SIDECAR_METRICS_PORT, SIDECAR_PROXY_PORT } from '../../sidecar/contract';
import { normalizeModels } from '../models';
import { normalizeRedis } from '../redis';
import { redisTarget } from '../redis-dependency';
import {
  containerResources,
  normalizePersistence,
  normalizePodSettings,
  normalizeTools,
  toolDependencies,
  toolEgressHosts,
} from './pod-spec';
import { DEFAULTS, MANAGED_BY, SIDECAR_MAX_VALUE_BYTES } from './spec-defaults';
import { agentServicePropsSchema, proxyEnabled, sidecarEnabled, versionOf } from './spec-schema';
import { AgentDependency, AgentEgressHost, AgentSpec, ScalingSpec } from './spec-types';

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
  const sidecarOn = sidecarEnabled(p);
  const scaling = scalingOf(p);
  const saName = p.serviceAccountName ?? name;
  const models = normalizeModels(p.models);
  const egressHosts: AgentEgressHost[] = [];
  const dependencies: AgentDependency[] = [];
  const redis = sidecarOn ? normalizeRedis(sidecarProps.redis, sidecarProps.redisUrl, namespace, name) : undefined;
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
    resources: containerResources(p.resources, DEFAULTS.resources),
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
      enabled: sidecarOn,
      image: sidecarProps.image ?? DEFAULTS.sidecar.image,
      metricsPort: SIDECAR_METRICS_PORT,
      apiPort: SIDECAR_API_PORT,
      resources: containerResources(sidecarProps.resources, DEFAULTS.sidecar.resources),
      cacheMaxEntries: sidecarProps.cacheMaxEntries ?? DEFAULTS.sidecar.cache.maxEntries,
      cacheMaxBytes: sidecarProps.cacheMaxBytes ?? DEFAULTS.sidecar.cache.maxBytes,
      cacheMaxValueBytes: sidecarProps.cacheMaxValueBytes ?? Math.min(SIDECAR_MAX_VALUE_BYTES, sidecarProps.cacheMaxBytes ?? DEFAULTS.sidecar.cache.maxBytes),
      cacheDefaultTtlSeconds: sidecarProps.cacheDefaultTtlSeconds ?? DEFAULTS.sidecar.cache.defaultTtlSeconds,
      redisUrl: redis?.url,
      redis,
      proxy,
      proxyPort: SIDECAR_PROXY_PORT,
      proxyMaxQueue: sidecarProps.proxyMaxQueue ?? DEFAULTS.sidecar.proxyQueuePerSlot * (p.maxConcurrentRequests ?? DEFAULTS.maxConcurrentRequests),
      proxyQueueTimeoutSeconds: sidecarProps.proxyQueueTimeoutSeconds ?? DEFAULTS.sidecar.proxyQueueTimeoutSeconds,
      proxyRoutes: { ...(sidecarProps.proxyRoutes ?? {}) },
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
