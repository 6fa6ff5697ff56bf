import { z } from 'zod';
import { dns1035Label, dns1123Label, dns1123Subdomain, envName, labelMap, memoryQuantity, pinnedImage, portNumber } from '../validation';
import { resourcesSchema } from './resources';

/*
 * Pod settings of an agent, with Kubernetes' own field names: volumes and mounts, envFrom,
 * command/args, scheduling (nodeSelector, tolerations, affinity, priority, runtime class),
 * image pull secrets, ServiceAccount annotations, init containers and pod labels; plus
 * `persistence` (a StatefulSet with a claim per replica) and `tools` (MCP servers).
 */

const absolutePath = () => z.string().regex(/^\/[^\0]*$/, 'must be an absolute path starting with "/"').refine((p) => !p.split('/').includes('..'), 'must not contain ".."');
const relativePath = () => z.string().min(1).regex(/^[^/\0]/, 'must be a relative path').refine((p) => !p.split('/').includes('..'), 'must not contain ".."');
const fileMode = () => z.number().int('must be an integer file mode such as 0o440 (288)').min(0).max(0o777, 'must be a file mode between 0 and 0777 (511)');
const configKey = () => z.string().min(1).max(253).regex(/^[-._a-zA-Z0-9]+$/, 'keys may contain only alphanumerics, "-", "_" and "."');

const keyToPath = z.strictObject({ key: configKey(), path: relativePath(), mode: fileMode().optional() });

const configMapSource = z.strictObject({
  name: dns1123Subdomain(),
  items: z.array(keyToPath).optional(),
  defaultMode: fileMode().optional(),
  optional: z.boolean().optional(),
});
const secretSource = z.strictObject({
  secretName: dns1123Subdomain(),
  items: z.array(keyToPath).optional(),
  defaultMode: fileMode().optional(),
  optional: z.boolean().optional(),
});

const projectedSource = z
  .strictObject({
    configMap: configMapSource.omit({ defaultMode: true }).optional(),
    secret: z.strictObject({ name: dns1123Subdomain(), items: z.array(keyToPath).optional(), optional: z.boolean().optional() }).optional(),
    serviceAccountToken: z
      .strictObject({
        path: relativePath(),
        audience: z.string().min(1).optional(),
        expirationSeconds: z.number().int().min(600, 'must be at least 600 (Kubernetes minimum)').optional(),
      })
      .optional(),
    downwardAPI: z
      .strictObject({
        items: z.array(z.strictObject({
          path: relativePath(),
          fieldRef: z.strictObject({ fieldPath: z.enum(['metadata.name', 'metadata.namespace', 'metadata.uid', 'metadata.labels', 'metadata.annotations']) }),
        })).min(1),
      })
      .optional(),
  })
  .superRefine((s, ctx) => exactlyOne(s, ['configMap', 'secret', 'serviceAccountToken', 'downwardAPI'], ctx, 'a projected source'));

export const VOLUME_SOURCES = ['configMap', 'secret', 'emptyDir', 'persistentVolumeClaim', 'projected'] as const;

export const volumeSchema = z
  .strictObject({
    name: dns1123Label(),
    configMap: configMapSource.optional(),
    secret: secretSource.optional(),
    emptyDir: z.strictObject({
      medium: z.enum(['', 'Memory']).optional(),
      sizeLimit: memoryQuantity().optional(),
    }).optional(),
    persistentVolumeClaim: z.strictObject({ claimName: dns1123Subdomain(), readOnly: z.boolean().optional() }).optional(),
    projected: z.strictObject({ sources: z.array(projectedSource).min(1), defaultMode: fileMode().optional() }).optional(),
  })
  .superRefine((v, ctx) => exactlyOne(v, VOLUME_SOURCES, ctx, `volume "${v.name}"`));

export const volumeMountSchema = z.strictObject({
  name: dns1123Label(),
  mountPath: absolutePath(),
  subPath: relativePath().optional(),
  readOnly: z.boolean().optional(),
});

const optionalRef = z.strictObject({ name: dns1123Subdomain(), optional: z.boolean().optional() });
export const envFromSchema = z
  .strictObject({
    configMapRef: optionalRef.optional(),
    secretRef: optionalRef.optional(),
    prefix: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be an identifier prefix ([A-Za-z_][A-Za-z0-9_]*)').optional(),
  })
  .superRefine((e, ctx) => exactlyOne(e, ['configMapRef', 'secretRef'], ctx, 'an envFrom entry'));

export const tolerationSchema = z
  .strictObject({
    key: z.string().min(1).optional(),
    operator: z.enum(['Equal', 'Exists']).optional(),
    value: z.string().optional(),
    effect: z.enum(['NoSchedule', 'PreferNoSchedule', 'NoExecute']).optional(),
    tolerationSeconds: z.number().int().min(0).optional(),
  })
  .superRefine((t, ctx) => {
    if (t.operator === 'Exists' && t.value !== undefined) ctx.addIssue({ code: 'custom', path: ['value'], message: "must be omitted when operator is 'Exists'" });
    if (t.key === undefined && t.operator !== 'Exists') ctx.addIssue({ code: 'custom', path: ['key'], message: "is required unless operator is 'Exists' (which tolerates every taint)" });
    if (t.tolerationSeconds !== undefined && t.effect !== 'NoExecute') ctx.addIssue({ code: 'custom', path: ['tolerationSeconds'], message: "applies only to effect 'NoExecute'" });
  });

// Affinity, as in core/v1 (only the fields an agent needs; unknown fields are errors).
const labelSelectorRequirement = z.strictObject({
  key: z.string().min(1),
  operator: z.enum(['In', 'NotIn', 'Exists', 'DoesNotExist']),
  values: z.array(z.string()).optional(),
});
const labelSelector = z.strictObject({
  matchLabels: labelMap().optional(),
  matchExpressions: z.array(labelSelectorRequirement).optional(),
});
const nodeSelectorRequirement = z.strictObject({
  key: z.string().min(1),
  operator: z.enum(['In', 'NotIn', 'Exists', 'DoesNotExist', 'Gt', 'Lt']),
  values: z.array(z.string()).optional(),
});
const nodeSelectorTerm = z.strictObject({
  matchExpressions: z.array(nodeSelectorRequirement).optional(),
  matchFields: z.array(nodeSelectorRequirement).optional(),
});
const podAffinityTerm = z.strictObject({
  labelSelector: labelSelector.optional(),
  namespaces: z.array(dns1123Label()).optional(),
  topologyKey: z.string().min(1),
});
const weight = () => z.number().int().min(1, 'must be between 1 and 100').max(100, 'must be between 1 and 100');
const podAffinity = z.strictObject({
  requiredDuringSchedulingIgnoredDuringExecution: z.array(podAffinityTerm).optional(),
  preferredDuringSchedulingIgnoredDuringExecution: z.array(z.strictObject({ weight: weight(), podAffinityTerm })).optional(),
});
export const affinitySchema = z.strictObject({
  nodeAffinity: z.strictObject({
    requiredDuringSchedulingIgnoredDuringExecution: z.strictObject({ nodeSelectorTerms: z.array(nodeSelectorTerm).min(1) }).optional(),
    preferredDuringSchedulingIgnoredDuringExecution: z.array(z.strictObject({ weight: weight(), preference: nodeSelectorTerm })).optional(),
  }).optional(),
  podAffinity: podAffinity.optional(),
  podAntiAffinity: podAffinity.optional(),
});

export const secretKeySchema = z.strictObject({
  secretName: dns1123Subdomain(),
  key: configKey(),
  optional: z.boolean().optional(),
});

export const initContainerSchema = z.strictObject({
  name: dns1123Label(),
  image: pinnedImage(),
  command: z.array(z.string()).min(1).optional(),
  args: z.array(z.string()).optional(),
  env: z.record(envName(), z.string()).optional(),
  secretEnv: z.record(envName(), secretKeySchema).optional(),
  envFrom: z.array(envFromSchema).optional(),
  volumeMounts: z.array(volumeMountSchema).optional(),
  resources: resourcesSchema.optional(),
  securityContext: z.strictObject({
    runAsUser: z.number().int().min(0).optional(),
    runAsGroup: z.number().int().min(0).optional(),
  }).optional(),
});

export const persistenceSchema = z.strictObject({
  size: memoryQuantity(),
  storageClass: dns1123Subdomain().optional(),
  mountPath: absolutePath().optional(),
  accessMode: z.enum(['ReadWriteOnce', 'ReadWriteOncePod', 'ReadWriteMany']).optional(),
});

const toolName = () => z.string().max(40, 'must be at most 40 characters').regex(/^[a-z]([-a-z0-9]*[a-z0-9])?$/, 'tool names must be lower-case letters, digits and "-", starting with a letter');

export const toolSchema = z
  .strictObject({
    agent: dns1035Label().optional(),
    service: dns1035Label().optional(),
    namespace: dns1123Label().optional(),
    port: portNumber().optional(),
    path: z.string().regex(/^\/[^\s]*$/, 'must be an absolute HTTP path starting with "/"').optional(),
    url: z.url({ protocol: /^https$/, error: 'must be an https:// URL (remote MCP servers are reached over TLS)' }).optional(),
    tokenSecret: secretKeySchema.optional(),
  })
  .superRefine((t, ctx) => {
    exactlyOne(t, ['agent', 'service', 'url'], ctx, 'a tool');
    if (t.url !== undefined) {
      for (const key of ['namespace', 'port', 'path'] as const) {
        if (t[key] !== undefined) ctx.addIssue({ code: 'custom', path: [key], message: 'does not apply to a remote tool (give it in the url)' });
      }
    }
    if (t.service !== undefined && t.port === undefined) ctx.addIssue({ code: 'custom', path: ['port'], message: 'is required for a service tool (the MCP server\'s Service port)' });
  });

/** The zod shape of the pod settings, merged into AgentService's props schema. */
export const podSettingsShape = {
  volumes: z.array(volumeSchema).optional(),
  volumeMounts: z.array(volumeMountSchema).optional(),
  envFrom: z.array(envFromSchema).optional(),
  command: z.array(z.string()).min(1).optional(),
  args: z.array(z.string()).optional(),
  imagePullSecrets: z.array(z.strictObject({ name: dns1123Subdomain() })).optional(),
  nodeSelector: labelMap().optional(),
  tolerations: z.array(tolerationSchema).optional(),
  affinity: affinitySchema.optional(),
  priorityClassName: dns1123Subdomain().optional(),
  runtimeClassName: dns1123Subdomain().optional(),
  serviceAccount: z.strictObject({ annotations: z.record(z.string().min(1), z.string()).optional() }).optional(),
  initContainers: z.array(initContainerSchema).optional(),
  podLabels: labelMap().optional(),
  persistence: persistenceSchema.optional(),
  tools: z.record(toolName(), toolSchema).optional(),
};

function exactlyOne(o: Record<string, unknown>, keys: readonly string[], ctx: z.RefinementCtx, what: string) {
  const set = keys.filter((k) => o[k] !== undefined);
  if (set.length === 0) ctx.addIssue({ code: 'custom', path: [], message: `${what} needs one of ${keys.join(', ')}` });
  if (set.length > 1) ctx.addIssue({ code: 'custom', path: [set[1]], message: `${what} takes one of ${keys.join(', ')}, not both ${set[0]} and ${set[1]}` });
}
