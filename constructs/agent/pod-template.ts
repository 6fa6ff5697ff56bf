import { JsonPatch } from 'cdk8s';
import * as kplus from 'cdk8s-plus-28';
import { AgentSpec } from '../spec';
import { ContainerResourceSpec, InitContainerSpec, MCP_SERVERS_ENV, TMP_VOLUME } from './pod-spec';
import { quantityString } from './resources';

/*
 * Pure builders for what cdk8s-plus-28 cannot express on a pod template: ephemeral-storage and
 * extended resources, projected volumes, tolerations, affinity, priority and runtime classes,
 * restricted init containers, volumeClaimTemplates. Applied as JSON patches on the workload.
 * The L1 objects map patched values through their own toJson, so quantities are Quantity objects.
 */

/** Non-root UID/GID used when the image does not set one (runAsNonRoot needs a numeric user to verify). */
export const RUN_AS_USER = 10001;

const q = (s: string) => kplus.k8s.Quantity.fromString(s);

/** A container's `resources`, with quantities exactly as written. */
export function k8sResources(r: ContainerResourceSpec) {
  const extended = Object.fromEntries(Object.entries(r.extended).map(([k, v]) => [k, q(v)]));
  return {
    limits: { cpu: q(r.limits.cpu), memory: q(r.limits.memory), 'ephemeral-storage': q(r.limits.ephemeralStorage), ...extended },
    requests: { cpu: q(r.requests.cpu), memory: q(r.requests.memory), 'ephemeral-storage': q(r.requests.ephemeralStorage), ...extended },
  };
}

/** The restricted Pod Security Standard for one container, as core/v1 JSON. */
export function restrictedSecurityContext(user = RUN_AS_USER, group = RUN_AS_USER) {
  return {
    allowPrivilegeEscalation: false,
    capabilities: { drop: ['ALL'] },
    privileged: false,
    readOnlyRootFilesystem: true,
    runAsGroup: group,
    runAsNonRoot: true,
    runAsUser: user,
    seccompProfile: { type: 'RuntimeDefault' },
  };
}

function envList(env: Readonly<Record<string, string>>, secretEnv: InitContainerSpec['secretEnv']) {
  return [
    ...Object.entries(env).map(([name, value]) => ({ name, value })),
    ...Object.entries(secretEnv).map(([name, r]) => ({ name, valueFrom: { secretKeyRef: { name: r.secretName, key: r.key, optional: r.optional } } })),
  ];
}

/** An init container with the restricted security context, defaulted resources and /tmp. */
export function initContainer(c: InitContainerSpec) {
  return {
    name: c.name,
    image: c.image,
    imagePullPolicy: 'IfNotPresent',
    ...(c.command ? { command: [...c.command] } : {}),
    ...(c.args ? { args: [...c.args] } : {}),
    env: envList(c.env, c.secretEnv),
    ...(c.envFrom?.length ? { envFrom: c.envFrom.map(envFromEntry) } : {}),
    resources: k8sResources(c.resources),
    securityContext: restrictedSecurityContext(c.securityContext?.runAsUser, c.securityContext?.runAsGroup),
    volumeMounts: [{ name: TMP_VOLUME.name, mountPath: TMP_VOLUME.mountPath }, ...(c.volumeMounts ?? []).map(mount)],
  };
}

function envFromEntry(e: AgentSpec['pod']['envFrom'][number]) {
  return {
    ...(e.configMapRef ? { configMapRef: { ...e.configMapRef } } : {}),
    ...(e.secretRef ? { secretRef: { ...e.secretRef } } : {}),
    ...(e.prefix !== undefined ? { prefix: e.prefix } : {}),
  };
}

function mount(m: AgentSpec['pod']['volumeMounts'][number]) {
  return { name: m.name, mountPath: m.mountPath, ...(m.subPath ? { subPath: m.subPath } : {}), ...(m.readOnly !== undefined ? { readOnly: m.readOnly } : {}) };
}

function volume(v: AgentSpec['pod']['volumes'][number]) {
  if (v.emptyDir) return { name: v.name, emptyDir: { ...(v.emptyDir.medium ? { medium: v.emptyDir.medium } : {}), sizeLimit: q(quantityString(v.emptyDir.sizeLimit ?? TMP_VOLUME.sizeLimit)) } };
  if (v.projected) {
    // The L1 object reads the projection's downward API as `downwardApi` (its own camelCase).
    const sources = v.projected.sources.map(({ downwardAPI, ...rest }) => (downwardAPI ? { ...rest, downwardApi: downwardAPI } : rest));
    return { name: v.name, projected: { ...v.projected, sources } };
  }
  return { ...v };
}

/** JSON pointer segment escaping (RFC 6901). */
const esc = (s: string) => s.replace(/~/g, '~0').replace(/\//g, '~1');

/**
 * Patches for the pod template of one workload (stable or canary). `agentIndex` is the agent
 * container's index in `containers`.
 */
export function podTemplatePatches(spec: AgentSpec, agentIndex = 0): JsonPatch[] {
  const pod = spec.pod;
  const base = '/spec/template/spec';
  const agent = `${base}/containers/${agentIndex}`;
  const patches: JsonPatch[] = [];
  for (const v of pod.volumes) patches.push(JsonPatch.add(`${base}/volumes/-`, volume(v)));
  for (const m of pod.volumeMounts) patches.push(JsonPatch.add(`${agent}/volumeMounts/-`, mount(m)));
  if (pod.envFrom.length) patches.push(JsonPatch.add(`${agent}/envFrom`, pod.envFrom.map(envFromEntry)));
  if (pod.command) patches.push(JsonPatch.add(`${agent}/command`, [...pod.command]));
  if (pod.args) patches.push(JsonPatch.add(`${agent}/args`, [...pod.args]));
  if (pod.imagePullSecrets.length) patches.push(JsonPatch.add(`${base}/imagePullSecrets`, pod.imagePullSecrets.map((name) => ({ name }))));
  if (Object.keys(pod.nodeSelector).length) patches.push(JsonPatch.add(`${base}/nodeSelector`, { ...pod.nodeSelector }));
  if (pod.tolerations.length) patches.push(JsonPatch.add(`${base}/tolerations`, pod.tolerations.map((t) => ({ ...t }))));
  if (pod.affinity) patches.push(JsonPatch.add(`${base}/affinity`, pod.affinity));
  if (pod.priorityClassName) patches.push(JsonPatch.add(`${base}/priorityClassName`, pod.priorityClassName));
  if (pod.runtimeClassName) patches.push(JsonPatch.add(`${base}/runtimeClassName`, pod.runtimeClassName));
  if (pod.initContainers.length) patches.push(JsonPatch.add(`${base}/initContainers`, pod.initContainers.map(initContainer)));
  for (const [k, v] of Object.entries(pod.labels)) patches.push(JsonPatch.add(`/spec/template/metadata/labels/${esc(k)}`, v));
  return patches;
}

/** The agent container's tool variables: MCP_SERVERS, MCP_<NAME>_URL and, from Secrets, MCP_<NAME>_TOKEN. */
export function toolEnv(spec: AgentSpec): { plain: Record<string, string>; secret: Record<string, { secretName: string; key: string; optional: boolean }> } {
  const plain: Record<string, string> = {};
  const secret: Record<string, { secretName: string; key: string; optional: boolean }> = {};
  if (spec.tools.length === 0) return { plain, secret };
  plain[MCP_SERVERS_ENV] = spec.tools.map((t) => t.name).join(',');
  for (const t of spec.tools) {
    plain[t.urlEnv] = t.url;
    if (t.token) secret[t.token.env] = { secretName: t.token.secretName, key: t.token.key, optional: t.token.optional };
  }
  return { plain, secret };
}

/** The volumeClaimTemplates of a stateful agent. */
export function volumeClaimTemplates(spec: AgentSpec) {
  const p = spec.persistence;
  if (!p) return [];
  return [{
    metadata: { name: p.claimName, labels: { ...spec.selectorLabels } },
    spec: {
      accessModes: [p.accessMode],
      ...(p.storageClass ? { storageClassName: p.storageClass } : {}),
      resources: { requests: { storage: q(p.size) } },
    },
  }];
}
