import { SIDECAR_IMAGE_REPOSITORY, SIDECAR_VERSION } from '../../sidecar/contract';

/** Memory the sidecar needs besides its cache (request bodies, metrics, V8 baseline). */
export const SIDECAR_WORKING_MEMORY_BYTES = 80 * 2 ** 20;
/** Largest cache value the sidecar accepts by default. */
export const SIDECAR_MAX_VALUE_BYTES = 2 ** 20;

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
    // Queue depth per unit of concurrency (Knative's queue-proxy: 10x containerConcurrency).
    proxyQueuePerSlot: 10,
    proxyQueueTimeoutSeconds: 10,
  },
  slo: { window: '30d' },
} as const;
