import { z } from 'zod';
import { parseMemory } from '../validation';
import { DEFAULTS } from './spec-defaults';
import { extendedOf, extendedResourceProblems, quantityString as q, ResourcesInput } from './resources';
import type { AgentDependency, AgentEgressHost } from './spec-types';
import { podSettingsShape } from './pod-settings';
import { AgentAffinity, AgentEnvFrom, AgentInitContainer, AgentToleration, AgentVolume, AgentVolumeMount } from './props';

/*
 * The normalized pod settings of an agent (AgentSpec.pod, .persistence, .tools) and the
 * cross-field checks that need the whole props object.
 */

type PodSettingsInput = { [K in keyof typeof podSettingsShape]?: z.output<(typeof podSettingsShape)[K]> };

/** The agent's own scratch volume at /tmp (the root filesystem is read-only). */
export const TMP_VOLUME = { name: 'tmp', mountPath: '/tmp', sizeLimit: '256Mi' } as const;
/** Name of the per-replica claim of a stateful agent (volumeClaimTemplates[0]). */
export const DATA_VOLUME = 'data';
/** sizeLimit of an emptyDir volume that sets none, so no volume can fill the node's disk. */
export const DEFAULT_EMPTYDIR_SIZE_LIMIT = '256Mi';
/** Container names AgentService uses itself. */
export const RESERVED_CONTAINER_NAMES = ['agent', 'agent-sidecar'];
/** Pod labels AgentService sets itself (selectors, version subsets). */
export const RESERVED_POD_LABELS = ['app.kubernetes.io/name', 'app.kubernetes.io/instance', 'app.kubernetes.io/version', 'cdk8s-agents.io/track'];

/** Resources of one container, fully defaulted. */
export interface ContainerResourceSpec {
  readonly requests: { readonly cpu: string; readonly memory: string; readonly ephemeralStorage: string };
  readonly limits: { readonly cpu: string; readonly memory: string; readonly ephemeralStorage: string };
  /** Extended resources (`nvidia.com/gpu`: "1"); request and limit are equal. */
  readonly extended: Readonly<Record<string, string>>;
}

/** A pod volume (emptyDir sizeLimit filled in). */
export type VolumeSpec = AgentVolume;

/** An init container, defaulted. */
export interface InitContainerSpec extends Omit<AgentInitContainer, 'resources' | 'env' | 'secretEnv'> {
  readonly env: Readonly<Record<string, string>>;
  readonly secretEnv: Readonly<Record<string, { readonly secretName: string; readonly key: string; readonly optional: boolean }>>;
  readonly resources: ContainerResourceSpec;
}

/** Pod-level and agent-container settings beyond the ones AgentService always sets. */
export interface PodSettingsSpec {
  /** User volumes, emptyDirs with their sizeLimit filled in. */
  readonly volumes: readonly VolumeSpec[];
  /** Mounts of the agent container (the per-replica claim included for a stateful agent). */
  readonly volumeMounts: readonly AgentVolumeMount[];
  readonly envFrom: readonly AgentEnvFrom[];
  readonly command?: readonly string[];
  readonly args?: readonly string[];
  readonly imagePullSecrets: readonly string[];
  readonly nodeSelector: Readonly<Record<string, string>>;
  readonly tolerations: readonly AgentToleration[];
  readonly affinity?: AgentAffinity;
  readonly priorityClassName?: string;
  readonly runtimeClassName?: string;
  readonly initContainers: readonly InitContainerSpec[];
  /** Labels on the pods only (e.g. `azure.workload.identity/use`). */
  readonly labels: Readonly<Record<string, string>>;
}

/** A stateful agent's storage: a StatefulSet with one claim per replica. */
export interface PersistenceSpec {
  readonly size: string;
  readonly storageClass?: string;
  readonly mountPath: string;
  readonly accessMode: 'ReadWriteOnce' | 'ReadWriteOncePod' | 'ReadWriteMany';
  /** Name of the claim template (claims are `<claimName>-<pod name>`). */
  readonly claimName: string;
}

/** One MCP server the agent uses, as the agent sees it (env `MCP_<NAME>_URL`). */
export interface AgentTool {
  /** Tool name as written in `tools`. */
  readonly name: string;
  /** `agent`: another agent (a call graph edge); `service`: an in-cluster Service; `remote`: an https URL. */
  readonly kind: 'agent' | 'service' | 'remote';
  /** The URL the agent calls. */
  readonly url: string;
  /** Agent id, for `agent` tools. */
  readonly agent?: string;
  /** Environment variable holding the URL. */
  readonly urlEnv: string;
  /** Bearer token from a Secret key, in env `tokenEnv`. */
  readonly token?: { readonly secretName: string; readonly key: string; readonly optional: boolean; readonly env: string };
}

/** Environment variable names of one tool (`search-web` → `MCP_SEARCH_WEB_URL`). */
export function toolEnvNames(name: string): { url: string; token: string } {
  const base = `MCP_${name.toUpperCase().replace(/-/g, '_')}`;
  return { url: `${base}_URL`, token: `${base}_TOKEN` };
}
/** Comma-separated tool names. */
export const MCP_SERVERS_ENV = 'MCP_SERVERS';

/** Defaults each value of a resources block separately. */
export function containerResources(input: ResourcesInput | undefined, defaults: Omit<ContainerResourceSpec, 'extended'>): ContainerResourceSpec {
  const r = input?.requests;
  const l = input?.limits;
  return {
    requests: { cpu: q(r?.cpu) ?? defaults.requests.cpu, memory: q(r?.memory) ?? defaults.requests.memory, ephemeralStorage: q(r?.ephemeralStorage) ?? defaults.requests.ephemeralStorage },
    limits: { cpu: q(l?.cpu) ?? defaults.limits.cpu, memory: q(l?.memory) ?? defaults.limits.memory, ephemeralStorage: q(l?.ephemeralStorage) ?? defaults.limits.ephemeralStorage },
    // A limit alone sets the request (Kubernetes' own rule); a request alone is an error (checked).
    extended: { ...extendedOf(l) },
  };
}

export function normalizePodSettings(p: PodSettingsInput): PodSettingsSpec {
  const volumes = (p.volumes ?? []).map((v) => (v.emptyDir ? { ...v, emptyDir: { ...v.emptyDir, sizeLimit: v.emptyDir.sizeLimit ?? DEFAULT_EMPTYDIR_SIZE_LIMIT } } : v));
  const mounts = [...(p.volumeMounts ?? [])];
  if (p.persistence) mounts.push({ name: DATA_VOLUME, mountPath: p.persistence.mountPath ?? '/data' });
  return {
    volumes,
    volumeMounts: mounts,
    envFrom: p.envFrom ?? [],
    command: p.command,
    args: p.args,
    imagePullSecrets: (p.imagePullSecrets ?? []).map((s) => s.name),
    nodeSelector: { ...(p.nodeSelector ?? {}) },
    tolerations: p.tolerations ?? [],
    affinity: p.affinity,
    priorityClassName: p.priorityClassName,
    runtimeClassName: p.runtimeClassName,
    initContainers: (p.initContainers ?? []).map((c) => ({
      ...c,
      env: { ...(c.env ?? {}) },
      secretEnv: Object.fromEntries(Object.entries(c.secretEnv ?? {}).map(([k, v]) => [k, { secretName: v.secretName, key: v.key, optional: v.optional ?? false }])),
      resources: containerResources(c.resources, DEFAULTS.resources),
    })),
    labels: { ...(p.podLabels ?? {}) },
  };
}

export function normalizePersistence(p: PodSettingsInput): PersistenceSpec | undefined {
  if (!p.persistence) return undefined;
  return {
    size: p.persistence.size,
    storageClass: p.persistence.storageClass,
    mountPath: p.persistence.mountPath ?? '/data',
    accessMode: p.persistence.accessMode ?? 'ReadWriteOnce',
    claimName: DATA_VOLUME,
  };
}

/** The agent's tools, with URLs; `agentPort` gives the port of another agent (default 8080). */
export function normalizeTools(p: PodSettingsInput, namespace: string): AgentTool[] {
  return Object.entries(p.tools ?? {}).map(([name, t]) => {
    const env = toolEnvNames(name);
    const token = t.tokenSecret ? { secretName: t.tokenSecret.secretName, key: t.tokenSecret.key, optional: t.tokenSecret.optional ?? false, env: env.token } : undefined;
    const path = t.path ?? '/mcp';
    if (t.url !== undefined) return { name, kind: 'remote', url: t.url, urlEnv: env.url, token };
    if (t.agent !== undefined) {
      const ns = t.namespace ?? namespace;
      return { name, kind: 'agent', agent: t.agent, url: `http://${t.agent}.${ns}.svc.cluster.local:${t.port ?? 8080}${path}`, urlEnv: env.url, token };
    }
    const ns = t.namespace ?? namespace;
    return { name, kind: 'service', url: `http://${t.service}.${ns}.svc.cluster.local:${t.port}${path}`, urlEnv: env.url, token };
  });
}

type Issue = { path: (string | number)[]; message: string };

/** Cross-field problems of the pod settings (see the props docs for each rule). */
export function podSettingsProblems(p: PodSettingsInput & {
  name?: string;
  resources?: ResourcesInput;
  sidecarResources?: ResourcesInput;
  sidecarEnabled: boolean;
  canary?: unknown;
  serviceAccountName?: string;
  env?: Record<string, string>;
  secretEnv?: Record<string, unknown>;
  agentMemoryLimit: string;
  agentEphemeralLimit: string;
  sidecarEphemeralLimit: string;
}): Issue[] {
  const out: Issue[] = [];
  const volumes = p.volumes ?? [];
  const volumeNames = new Map<string, number>();
  volumes.forEach((v, i) => {
    if (v.name === TMP_VOLUME.name) out.push({ path: ['volumes', i, 'name'], message: `("${v.name}") is the agent's own /tmp volume: choose another name` });
    if (p.persistence && v.name === DATA_VOLUME) out.push({ path: ['volumes', i, 'name'], message: `("${v.name}") is the name of the persistence claim: choose another name` });
    if (volumeNames.has(v.name)) out.push({ path: ['volumes', i, 'name'], message: `("${v.name}") is already the name of volumes[${volumeNames.get(v.name)}]` });
    else volumeNames.set(v.name, i);
  });
  const known = new Set([...volumeNames.keys(), ...(p.persistence ? [DATA_VOLUME] : [])]);
  const checkMounts = (mounts: readonly { name: string; mountPath: string }[] | undefined, at: (string | number)[], reserved: string[]) => {
    const paths = new Map<string, number>();
    (mounts ?? []).forEach((m, i) => {
      if (!known.has(m.name)) {
        out.push({ path: [...at, i, 'name'], message: `("${m.name}") names no volume: add it to volumes${known.size ? ` (volumes: ${[...known].join(', ')})` : ''}` });
      }
      const norm = m.mountPath.replace(/\/+$/, '') || '/';
      if (reserved.includes(norm)) out.push({ path: [...at, i, 'mountPath'], message: `("${m.mountPath}") is already mounted by AgentService (${reserved.join(', ')})` });
      if (paths.has(norm)) out.push({ path: [...at, i, 'mountPath'], message: `("${m.mountPath}") is already used by ${formatAt(at)}[${paths.get(norm)}]` });
      else paths.set(norm, i);
    });
  };
  const persistencePath = p.persistence ? (p.persistence.mountPath ?? '/data').replace(/\/+$/, '') : undefined;
  checkMounts(p.volumeMounts, ['volumeMounts'], ['/tmp', ...(persistencePath ? [persistencePath] : [])]);
  if (persistencePath === '/tmp') out.push({ path: ['persistence', 'mountPath'], message: '("/tmp") is the agent\'s scratch volume: choose another path' });

  // Ephemeral storage: the kubelet evicts the pod when its emptyDirs and writable layers exceed
  // the sum of its containers' limits; memory-backed emptyDirs count against memory instead.
  const diskLimit = parseMemory(p.agentEphemeralLimit) + (p.sidecarEnabled ? parseMemory(p.sidecarEphemeralLimit) : 0);
  let disk = parseMemory(TMP_VOLUME.sizeLimit);
  let memory = 0;
  for (const v of volumes) {
    if (!v.emptyDir) continue;
    const size = parseMemory(v.emptyDir.sizeLimit ?? DEFAULT_EMPTYDIR_SIZE_LIMIT);
    if (v.emptyDir.medium === 'Memory') memory += size;
    else disk += size;
  }
  if (disk > diskLimit) {
    out.push({ path: ['volumes'], message: `emptyDir sizeLimits (${fmtBytes(disk)} with the 256Mi /tmp) exceed the pod's ephemeral-storage limits (${fmtBytes(diskLimit)}): raise resources.limits.ephemeralStorage or lower the sizeLimits` });
  }
  if (memory > parseMemory(p.agentMemoryLimit)) {
    out.push({ path: ['volumes'], message: `memory-backed emptyDir sizeLimits (${fmtBytes(memory)}) exceed the agent's memory limit (${p.agentMemoryLimit}), which they count against` });
  }

  for (const [block, at] of [[p.resources, ['resources']], [p.sidecarResources, ['sidecar', 'resources']]] as const) {
    for (const [path, message] of extendedResourceProblems(block)) out.push({ path: [...at, ...path], message });
  }

  const initNames = new Map<string, number>();
  (p.initContainers ?? []).forEach((c, i) => {
    const at = ['initContainers', i];
    if (RESERVED_CONTAINER_NAMES.includes(c.name)) out.push({ path: [...at, 'name'], message: `("${c.name}") is a container AgentService adds itself` });
    if (initNames.has(c.name)) out.push({ path: [...at, 'name'], message: `("${c.name}") is already the name of initContainers[${initNames.get(c.name)}]` });
    else initNames.set(c.name, i);
    if (c.securityContext?.runAsUser === 0) out.push({ path: [...at, 'securityContext', 'runAsUser'], message: '(0) runs the init container as root: the restricted Pod Security Standard requires a non-root user' });
    checkMounts(c.volumeMounts, [...at, 'volumeMounts'], ['/tmp']);
    for (const [path, message] of extendedResourceProblems(c.resources)) out.push({ path: [...at, 'resources', ...path], message });
    const res = containerResources(c.resources, DEFAULTS.resources);
    for (const which of ['memory', 'ephemeralStorage'] as const) {
      if (parseMemory(res.requests[which]) > parseMemory(res.limits[which])) out.push({ path: [...at, 'resources', 'requests', which], message: `(${res.requests[which]}) must not exceed limits.${which} (${res.limits[which]})` });
    }
  });

  if (p.serviceAccount?.annotations && p.serviceAccountName !== undefined) {
    out.push({ path: ['serviceAccount', 'annotations'], message: 'apply only to the ServiceAccount AgentService creates; with serviceAccountName, annotate that ServiceAccount where it is defined' });
  }
  for (const key of Object.keys(p.podLabels ?? {})) {
    if (RESERVED_POD_LABELS.includes(key)) out.push({ path: ['podLabels', key], message: `is set by AgentService (selectors and version subsets depend on it)` });
  }
  if (p.persistence && p.canary !== undefined) {
    out.push({ path: ['canary'], message: 'conflicts with persistence: a canary Deployment would run without the per-replica claims (roll the StatefulSet instead)' });
  }

  const toolEnv = new Set<string>();
  for (const [name, t] of Object.entries(p.tools ?? {})) {
    const env = toolEnvNames(name);
    toolEnv.add(env.url);
    if (t.tokenSecret) toolEnv.add(env.token);
  }
  if (p.tools && Object.keys(p.tools).length > 0) toolEnv.add(MCP_SERVERS_ENV);
  for (const [field, names] of [['env', Object.keys(p.env ?? {})], ['secretEnv', Object.keys(p.secretEnv ?? {})]] as const) {
    for (const n of names) if (toolEnv.has(n)) out.push({ path: [field, n], message: 'is set by tools (MCP server URLs and tokens): rename it or drop the tool' });
  }
  return out;
}

function formatAt(at: (string | number)[]): string {
  return at.map((s, i) => (typeof s === 'number' ? `[${s}]` : i ? `.${s}` : s)).join('');
}

function fmtBytes(n: number): string {
  return n % 2 ** 30 === 0 ? `${n / 2 ** 30}Gi` : `${Math.round(n / 2 ** 20)}Mi`;
}

// Remote MCP servers are external hosts of this agent only.
export function toolEgressHosts(tools: readonly AgentTool[]): AgentEgressHost[] {
  return tools.filter((t) => t.kind === 'remote').map((t) => {
    const u = new URL(t.url);
    return { host: u.hostname, port: u.port ? Number(u.port) : 443, source: `tools.${t.name}` };
  });
}

// In-cluster MCP servers that are not agents: dependencies of kind 'mcp'.
export function toolDependencies(tools: PodSettingsInput['tools'], namespace: string): AgentDependency[] {
  return Object.entries(tools ?? {})
    .filter(([, t]) => t.service !== undefined)
    .map(([name, t]) => ({ kind: 'mcp' as const, service: t.service as string, namespace: t.namespace ?? namespace, port: t.port as number, source: `tools.${name}` }));
}
