/**
 * Package policies: Pod Security Standard "restricted" for every pod template, plus what this
 * package requires on top (read-only root filesystem, requests and limits, pinned images) and
 * Kubernetes naming limits.
 */
import type { Collector } from './collector';
import type { Segment } from './paths';
import type { K8sObject } from './types';

/** Where the pod spec of a workload lives. */
export function podSpecPath(obj: K8sObject): Segment[] | undefined {
  switch (obj.kind) {
    case 'Pod':
      return ['spec'];
    case 'Deployment':
    case 'StatefulSet':
    case 'DaemonSet':
    case 'ReplicaSet':
    case 'ReplicationController':
    case 'Job':
      return ['spec', 'template', 'spec'];
    case 'CronJob':
      return ['spec', 'jobTemplate', 'spec', 'template', 'spec'];
    default:
      return undefined;
  }
}

/** Labels of the pod template (or of the Pod itself). */
export function podTemplateLabels(obj: K8sObject): Record<string, string> | undefined {
  const p = podSpecPath(obj);
  if (!p) return undefined;
  const metaPath = [...p.slice(0, -1), 'metadata', 'labels'];
  return get(obj, metaPath) as Record<string, string> | undefined;
}

export function get(root: unknown, path: readonly Segment[]): unknown {
  let node: any = root;
  for (const s of path) node = node == null ? undefined : node[s as any];
  return node;
}

const isObj = (v: unknown): v is Record<string, any> => !!v && typeof v === 'object' && !Array.isArray(v);

const CONTAINER_LISTS = ['initContainers', 'containers', 'ephemeralContainers'] as const;

/** Capabilities the restricted profile allows to add. */
const ALLOWED_ADD = new Set(['NET_BIND_SERVICE']);

export function policyRules(objects: readonly K8sObject[], c: Collector): void {
  for (const obj of objects) {
    if (!isObj(obj) || typeof obj.kind !== 'string') continue;
    namingRules(obj, c);
    const specPath = podSpecPath(obj);
    if (specPath) {
      const spec = get(obj, specPath);
      if (isObj(spec)) podRules(obj, spec, specPath, c);
    }
  }
}

function podRules(obj: K8sObject, spec: Record<string, any>, at: Segment[], c: Collector): void {
  const podSc = isObj(spec.securityContext) ? spec.securityContext : {};
  for (const host of ['hostNetwork', 'hostPID', 'hostIPC'] as const) {
    if (spec[host] === true) c.add(obj, 'pss/host-namespaces', [...at, host], `${host} must not be true (restricted Pod Security Standard)`);
  }
  (Array.isArray(spec.volumes) ? spec.volumes : []).forEach((v: any, i: number) => {
    if (isObj(v) && v.hostPath !== undefined) {
      c.add(obj, 'pss/host-path', [...at, 'volumes', i, 'hostPath'], `volume "${v.name}" mounts a hostPath; use a configMap, secret, emptyDir, projected or PVC volume`);
    }
  });
  if (podSc.runAsUser === 0) c.add(obj, 'pss/run-as-non-root', [...at, 'securityContext', 'runAsUser'], 'runAsUser must not be 0 (root)');
  const podSeccomp = podSc.seccompProfile?.type;
  if (podSeccomp !== undefined && !['RuntimeDefault', 'Localhost'].includes(podSeccomp)) {
    c.add(obj, 'pss/seccomp-profile', [...at, 'securityContext', 'seccompProfile', 'type'], `seccompProfile.type must be RuntimeDefault or Localhost (got "${podSeccomp}")`);
  }
  if (podSc.sysctls !== undefined) {
    c.add(obj, 'pss/sysctls', [...at, 'securityContext', 'sysctls'], 'sysctls are not allowed by this package policy (the baseline profile allows only a safe subset)', 'warning');
  }

  for (const list of CONTAINER_LISTS) {
    const containers = spec[list];
    if (!Array.isArray(containers)) continue;
    containers.forEach((ct: any, i: number) => {
      if (!isObj(ct)) return;
      const cp: Segment[] = [...at, list, i];
      const who = `${list === 'containers' ? 'container' : list === 'initContainers' ? 'init container' : 'ephemeral container'} "${ct.name}"`;
      const sc = isObj(ct.securityContext) ? ct.securityContext : {};
      const scp: Segment[] = [...cp, 'securityContext'];

      if (sc.privileged === true) c.add(obj, 'pss/privileged', [...scp, 'privileged'], `${who} must not be privileged`);
      if (sc.allowPrivilegeEscalation !== false) {
        c.add(obj, 'pss/allow-privilege-escalation', [...scp, 'allowPrivilegeEscalation'], `${who}: allowPrivilegeEscalation must be false${sc.allowPrivilegeEscalation === undefined ? ' (it is unset; the default allows escalation)' : ''}`);
      }
      // runAsNonRoot: the container setting wins; otherwise the pod's applies.
      const nonRoot = sc.runAsNonRoot ?? podSc.runAsNonRoot;
      if (nonRoot !== true) {
        c.add(obj, 'pss/run-as-non-root', sc.runAsNonRoot === false ? [...scp, 'runAsNonRoot'] : [...at, 'securityContext', 'runAsNonRoot'], `${who}: runAsNonRoot must be true (set it on the pod securityContext or on every container)`);
      }
      if (sc.runAsUser === 0) c.add(obj, 'pss/run-as-non-root', [...scp, 'runAsUser'], `${who}: runAsUser must not be 0 (root)`);
      const seccomp = sc.seccompProfile?.type ?? podSeccomp;
      if (seccomp === undefined) {
        c.add(obj, 'pss/seccomp-profile', [...at, 'securityContext', 'seccompProfile', 'type'], `${who}: seccompProfile.type must be RuntimeDefault or Localhost (set it on the pod securityContext or on every container)`);
      } else if (sc.seccompProfile?.type !== undefined && !['RuntimeDefault', 'Localhost'].includes(sc.seccompProfile.type)) {
        c.add(obj, 'pss/seccomp-profile', [...scp, 'seccompProfile', 'type'], `${who}: seccompProfile.type must be RuntimeDefault or Localhost (got "${sc.seccompProfile.type}")`);
      }
      const drop: unknown[] = Array.isArray(sc.capabilities?.drop) ? sc.capabilities.drop : [];
      if (!drop.includes('ALL')) c.add(obj, 'pss/capabilities', [...scp, 'capabilities', 'drop'], `${who}: capabilities.drop must include "ALL"`);
      const add: unknown[] = Array.isArray(sc.capabilities?.add) ? sc.capabilities.add : [];
      add.forEach((cap, j) => {
        if (!ALLOWED_ADD.has(String(cap))) c.add(obj, 'pss/capabilities', [...scp, 'capabilities', 'add', j], `${who}: adding capability "${cap}" is not allowed (only NET_BIND_SERVICE)`);
      });
      if (sc.readOnlyRootFilesystem !== true) {
        c.add(obj, 'policy/read-only-root-filesystem', [...scp, 'readOnlyRootFilesystem'], `${who}: readOnlyRootFilesystem must be true (mount an emptyDir where the process writes)`);
      }
      (Array.isArray(ct.ports) ? ct.ports : []).forEach((port: any, j: number) => {
        if (isObj(port) && port.hostPort !== undefined && port.hostPort !== 0) {
          c.add(obj, 'pss/host-port', [...cp, 'ports', j, 'hostPort'], `${who}: hostPort must not be set`);
        }
        if (isObj(port) && typeof port.name === 'string' && !isIanaSvcName(port.name)) {
          c.add(obj, 'naming/port-name', [...cp, 'ports', j, 'name'], `port name "${port.name}" must be at most 15 lowercase letters, digits and '-', with at least one letter`);
        }
      });
      if (list !== 'ephemeralContainers') resourceRules(obj, ct, cp, who, c);
      imageRule(obj, ct, cp, who, c);
      if (typeof ct.name === 'string' && !DNS1123_LABEL.test(ct.name)) {
        c.add(obj, 'naming/dns-1123-label', [...cp, 'name'], `container name "${ct.name}" must be a DNS-1123 label (lowercase alphanumerics and '-', at most 63)`);
      }
    });
  }
}

function resourceRules(obj: K8sObject, ct: Record<string, any>, cp: Segment[], who: string, c: Collector): void {
  const res = isObj(ct.resources) ? ct.resources : {};
  for (const kind of ['requests', 'limits'] as const) {
    for (const r of ['cpu', 'memory'] as const) {
      const v = res[kind]?.[r];
      if (v === undefined || v === null || v === '') {
        // A missing CPU limit has its own id below policy/resources, so teams that leave CPU limits unset
        // on purpose can downgrade just that (severity { 'policy/resources/cpu-limit': 'warning' }).
        const rule = kind === 'limits' && r === 'cpu' ? 'policy/resources/cpu-limit' : 'policy/resources';
        c.add(obj, rule, [...cp, 'resources', kind, r], `${who}: missing ${r} ${kind === 'limits' ? 'limit' : 'request'}`);
      }
    }
  }
}

function imageRule(obj: K8sObject, ct: Record<string, any>, cp: Segment[], who: string, c: Collector): void {
  if (typeof ct.image !== 'string' || ct.image.length === 0) return;
  const image = ct.image;
  if (/@sha256:[0-9a-f]{64}$/.test(image)) return;
  const lastSlash = image.lastIndexOf('/');
  const lastColon = image.lastIndexOf(':');
  const tag = lastColon > lastSlash ? image.slice(lastColon + 1) : undefined;
  if (tag === undefined) c.add(obj, 'policy/image-pinned', [...cp, 'image'], `${who}: image "${image}" has no tag (means :latest); pin a version tag or a digest`);
  else if (tag === 'latest') c.add(obj, 'policy/image-pinned', [...cp, 'image'], `${who}: image "${image}" uses :latest; pin a version tag or a digest`);
}

// ---------------------------------------------------------------------------------------------
// naming

export const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const QUALIFIED_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

function isIanaSvcName(n: string): boolean {
  return n.length <= 15 && /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/.test(n) && !n.includes('--') && /[a-z]/.test(n);
}

/** Kinds whose names must be DNS-1123 labels (they become DNS names or label values). */
const LABEL_NAMED = new Set(['Service', 'Namespace']);

/** Checks a qualified key (`prefix/name`) as used by labels and annotations; returns the problem or undefined. */
export function checkQualifiedKey(key: string): string | undefined {
  const parts = key.split('/');
  if (parts.length > 2) return `key "${key}" may contain at most one "/"`;
  const [prefix, name] = parts.length === 2 ? parts : [undefined, parts[0]];
  if (prefix !== undefined && (prefix.length === 0 || prefix.length > 253 || !DNS1123_SUBDOMAIN.test(prefix))) {
    return `key prefix "${prefix}" must be a DNS-1123 subdomain (lowercase, at most 253 characters)`;
  }
  if (name.length === 0 || name.length > 63) return `key name "${name}" must be 1-63 characters (is ${name.length})`;
  if (!QUALIFIED_NAME.test(name)) return `key name "${name}" must consist of alphanumerics, '-', '_' or '.', starting and ending with an alphanumeric`;
  return undefined;
}

export function checkLabelValue(value: unknown): string | undefined {
  if (typeof value !== 'string') return `label value must be a string (got ${JSON.stringify(value)})`;
  if (value.length > 63) return `label value "${value}" is ${value.length} characters; the limit is 63`;
  if (!LABEL_VALUE.test(value)) return `label value "${value}" must be empty or consist of alphanumerics, '-', '_' or '.', starting and ending with an alphanumeric`;
  return undefined;
}

function labelMap(obj: K8sObject, at: Segment[], c: Collector, what: 'labels' | 'selector'): void {
  const m = get(obj, at);
  if (!isObj(m)) return;
  for (const [k, v] of Object.entries(m)) {
    const kp = checkQualifiedKey(k);
    if (kp) c.add(obj, 'naming/label-key', [...at, k], kp);
    const vp = checkLabelValue(v);
    if (vp) c.add(obj, 'naming/label-value', [...at, k], what === 'selector' ? `selector ${vp}` : vp);
  }
}

function namingRules(obj: K8sObject, c: Collector): void {
  const name = obj.metadata?.name;
  if (typeof name === 'string' && name.length > 0) {
    if (LABEL_NAMED.has(obj.kind)) {
      if (name.length > 63 || !DNS1123_LABEL.test(name)) {
        c.add(obj, 'naming/dns-1123-label', ['metadata', 'name'], `${obj.kind} name "${name}" must be a DNS-1123 label: lowercase alphanumerics and '-', at most 63 characters (is ${name.length})`);
      }
    } else if (name.length > 253 || !DNS1123_SUBDOMAIN.test(name)) {
      c.add(obj, 'naming/dns-1123-subdomain', ['metadata', 'name'], `name "${name}" must be a DNS-1123 subdomain: lowercase alphanumerics, '-' and '.', at most 253 characters`);
    }
  }
  const ns = obj.metadata?.namespace;
  if (typeof ns === 'string' && (ns.length > 63 || !DNS1123_LABEL.test(ns))) {
    c.add(obj, 'naming/dns-1123-label', ['metadata', 'namespace'], `namespace "${ns}" must be a DNS-1123 label (lowercase alphanumerics and '-', at most 63)`);
  }
  labelMap(obj, ['metadata', 'labels'], c, 'labels');
  const annotations = obj.metadata?.annotations;
  if (isObj(annotations)) {
    let total = 0;
    for (const [k, v] of Object.entries(annotations)) {
      const kp = checkQualifiedKey(k);
      if (kp) c.add(obj, 'naming/annotation-key', ['metadata', 'annotations', k], kp);
      total += k.length + (typeof v === 'string' ? v.length : 0);
    }
    if (total > 256 * 1024) c.add(obj, 'naming/annotation-size', ['metadata', 'annotations'], `annotations total ${total} bytes; the limit is 262144`);
  }
  const specPath = podSpecPath(obj);
  if (specPath && specPath.length > 1) labelMap(obj, [...specPath.slice(0, -1), 'metadata', 'labels'], c, 'labels');
  if (['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet', 'Job', 'PodDisruptionBudget', 'NetworkPolicy'].includes(obj.kind)) {
    labelMap(obj, obj.kind === 'NetworkPolicy' ? ['spec', 'podSelector', 'matchLabels'] : ['spec', 'selector', 'matchLabels'], c, 'selector');
  }
  if (obj.kind === 'Service') labelMap(obj, ['spec', 'selector'], c, 'selector');
}

/**
 * List-map keys of core kinds that kubernetes-models does not encode: the API server rejects
 * duplicate container names, volume names and Service ports.
 */
export function uniqueKeyRules(obj: K8sObject, c: Collector): void {
  const dup = (list: unknown, at: Segment[], key: (x: any) => string | undefined, what: string) => {
    if (!Array.isArray(list)) return;
    const seen = new Map<string, number>();
    list.forEach((item, i) => {
      const k = isObj(item) ? key(item) : undefined;
      if (k === undefined) return;
      if (seen.has(k)) c.add(obj, 'schema/duplicate-key', [...at, i], `duplicate ${what} ${k} (same as item ${seen.get(k)}); the API server rejects it`);
      else seen.set(k, i);
    });
  };
  const specPath = podSpecPath(obj);
  const spec = specPath ? get(obj, specPath) : undefined;
  if (specPath && isObj(spec)) {
    const names = [...(Array.isArray(spec.initContainers) ? spec.initContainers : []), ...(Array.isArray(spec.containers) ? spec.containers : [])];
    const offset = Array.isArray(spec.initContainers) ? spec.initContainers.length : 0;
    const seen = new Map<string, string>();
    names.forEach((ct: any, i: number) => {
      if (!isObj(ct) || typeof ct.name !== 'string') return;
      const here = i < offset ? `initContainers[${i}]` : `containers[${i - offset}]`;
      const at: Segment[] = i < offset ? [...specPath, 'initContainers', i, 'name'] : [...specPath, 'containers', i - offset, 'name'];
      if (seen.has(ct.name)) c.add(obj, 'schema/duplicate-key', at, `duplicate container name "${ct.name}" (also ${seen.get(ct.name)}); names must be unique across containers and init containers`);
      else seen.set(ct.name, here);
    });
    dup(spec.volumes, [...specPath, 'volumes'], (v) => v.name, 'volume name');
    for (const list of ['initContainers', 'containers'] as const) {
      (Array.isArray(spec[list]) ? spec[list] : []).forEach((ct: any, i: number) => {
        if (!isObj(ct)) return;
        dup(ct.ports, [...specPath, list, i, 'ports'], (p) => (p.containerPort === undefined ? undefined : `${p.containerPort}/${p.protocol ?? 'TCP'}`), 'containerPort');
        dup(ct.volumeMounts, [...specPath, list, i, 'volumeMounts'], (m) => m.mountPath, 'mountPath');
      });
    }
  }
  if (obj.kind === 'Service' && obj.apiVersion === 'v1') {
    const ports = get(obj, ['spec', 'ports']);
    dup(ports, ['spec', 'ports'], (p) => (p.port === undefined ? undefined : `${p.port}/${p.protocol ?? 'TCP'}`), 'port');
    dup(ports, ['spec', 'ports'], (p) => (typeof p.name === 'string' ? `"${p.name}"` : undefined), 'port name');
  }
}
