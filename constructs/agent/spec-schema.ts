import { z } from 'zod';
import { SIDECAR_API_PORT, SIDECAR_METRICS_PORT, SIDECAR_PROXY_PORT } from '../../sidecar/contract';
import { agentEnvNames, checkModels, modelsSchema } from '../models';
import { redisSchema, redisUrlSchema } from '../redis';
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
  secretKeyRef,
} from '../validation';
import { podSettingsShape } from './pod-settings';
import { podSettingsProblems } from './pod-spec';
import { resourcesSchema } from './resources';
import { DEFAULTS, MAX_AGENT_NAME_LENGTH, SIDECAR_WORKING_MEMORY_BYTES } from './spec-defaults';

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

export const secretRefSchema = secretKeyRef().extend({ optional: z.boolean().optional() });

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
  proxyMaxQueue: z.number().int().min(0).max(100000).optional(),
  proxyQueueTimeoutSeconds: z.number().positive().max(600).optional(),
  proxyRoutes: z
    .record(
      z.string().regex(/^\/[^\s,=]*$/, 'must be a path prefix starting with / (no spaces, commas or =)'),
      z.string().regex(/^[A-Za-z0-9_.:-]{1,128}$/, 'must be an operation name of letters, digits, _ . : - (at most 128), e.g. chat or execute_tool'),
    )
    .optional(),
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
      if (!sidecarEnabled(p)) {
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
    const sidecarOn = sidecarEnabled(p);
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
      if (!sidecarEnabled(p)) {
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
    if (!proxied && typeof p.sidecar === 'object') {
      for (const k of ['proxyMaxQueue', 'proxyQueueTimeoutSeconds', 'proxyRoutes'] as const) {
        if (p.sidecar[k] !== undefined) ctx.addIssue({ code: 'custom', path: ['sidecar', k], message: 'has no effect without the inbound proxy (sidecar.proxy is false or the sidecar is off)' });
      }
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

/** Version label value from an image reference. */
export function versionOf(image: string): string {
  const ref = parseImage(image);
  if (ref?.tag) return ref.tag.slice(0, 63).replace(/[^A-Za-z0-9_.-]/g, '-');
  if (ref?.digest) return ref.digest.slice('sha256:'.length, 'sha256:'.length + 12);
  return 'unknown';
}

/** The sidecar's inbound proxy runs unless the sidecar is off or `sidecar: { proxy: false }`. */
export function proxyEnabled(p: z.input<typeof agentServicePropsSchema>): boolean {
  return sidecarEnabled(p) && !(typeof p.sidecar === 'object' && p.sidecar.proxy === false);
}

/** The sidecar runs unless `sidecar: false` or `sidecar: { enabled: false }`. */
export function sidecarEnabled(p: z.input<typeof agentServicePropsSchema>): boolean {
  return p.sidecar !== false && !(typeof p.sidecar === 'object' && p.sidecar.enabled === false);
}
