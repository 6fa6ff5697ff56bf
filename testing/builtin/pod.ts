/**
 * The API server's built-in validation of pod specs (pkg/apis/core/validation: ValidatePodSpec,
 * validateContainers, validateProbe, validateHandler, ValidateResourceRequirements), for every pod
 * template of a workload. Enums the schema already carries (imagePullPolicy, dnsPolicy, protocol,
 * restartPolicy values) are reported by the schema pass, not here.
 */
import type { Collector } from '../collector';
import type { Segment } from '../paths';
import type { K8sObject } from '../types';
import { duplicate, forbidden, invalid, isObj, list, notFound, required, unsupported } from './errors';
import { isPort, PORT_RANGE, portNameErrors } from './names';
import { parseQuantity, QUANTITY_FORMAT } from './quantity';

/** restartPolicy values each controller accepts for its pod template. */
const RESTART_POLICIES: Record<string, readonly string[]> = {
  Deployment: ['Always'],
  StatefulSet: ['Always'],
  DaemonSet: ['Always'],
  ReplicaSet: ['Always'],
  ReplicationController: ['Always'],
  Job: ['OnFailure', 'Never'],
  CronJob: ['OnFailure', 'Never'],
};

const PROBE_HANDLERS = ['exec', 'httpGet', 'tcpSocket', 'grpc'] as const;
const LIFECYCLE_HANDLERS = ['exec', 'httpGet', 'tcpSocket', 'sleep'] as const;

/** Checks one pod spec at `at`; `extraVolumes` are names that also count as volumes (StatefulSet claim templates). */
export function podSpecRules(obj: K8sObject, spec: Record<string, any>, at: Segment[], c: Collector, extraVolumes: readonly string[] = []): void {
  const allowed = RESTART_POLICIES[obj.kind];
  if (allowed && spec.restartPolicy !== undefined && typeof spec.restartPolicy === 'string' && !allowed.includes(spec.restartPolicy)) {
    c.add(obj, 'k8s/restart-policy', [...at, 'restartPolicy'], `${unsupported(spec.restartPolicy, allowed)} (a ${obj.kind} pod template)`);
  }
  if (spec.dnsPolicy === 'None' && !isObj(spec.dnsConfig)) {
    c.add(obj, 'k8s/dns-config', [...at, 'dnsConfig'], required('must provide `dnsConfig` when `dnsPolicy` is None'));
  }
  const volumes = new Set<string>(extraVolumes);
  list(spec.volumes).forEach((v, i) => {
    if (!isObj(v)) return;
    if (typeof v.name === 'string') volumes.add(v.name);
    if (v.emptyDir?.sizeLimit !== undefined) quantityRule(obj, v.emptyDir.sizeLimit, [...at, 'volumes', i, 'emptyDir', 'sizeLimit'], c);
  });
  for (const listName of ['initContainers', 'containers', 'ephemeralContainers'] as const) {
    list(spec[listName]).forEach((ct, i) => {
      if (isObj(ct)) containerRules(obj, ct, [...at, listName, i], listName, volumes, c);
    });
  }
}

function containerRules(obj: K8sObject, ct: Record<string, any>, cp: Segment[], listName: string, volumes: Set<string>, c: Collector): void {
  const portNames = new Set<string>();
  list(ct.ports).forEach((port, j) => {
    if (!isObj(port)) return;
    const pp: Segment[] = [...cp, 'ports', j];
    if (port.containerPort !== undefined && !isPort(port.containerPort)) c.add(obj, 'k8s/port-range', [...pp, 'containerPort'], invalid(port.containerPort, PORT_RANGE));
    if (port.hostPort !== undefined && port.hostPort !== 0 && !isPort(port.hostPort)) c.add(obj, 'k8s/port-range', [...pp, 'hostPort'], invalid(port.hostPort, PORT_RANGE));
    if (typeof port.name === 'string') {
      if (portNames.has(port.name)) c.add(obj, 'schema/duplicate-key', [...pp, 'name'], `${duplicate(port.name)}: port names must be unique within a container`);
      portNames.add(port.name);
    }
  });

  // Probes: regular containers and restartable (sidecar) init containers.
  const mayProbe = listName === 'containers' || (listName === 'initContainers' && ct.restartPolicy === 'Always');
  for (const probe of ['livenessProbe', 'readinessProbe', 'startupProbe'] as const) {
    const p = ct[probe];
    if (!isObj(p)) continue;
    const pp: Segment[] = [...cp, probe];
    if (!mayProbe) {
      c.add(obj, 'k8s/probe', pp, forbidden(`may not be set for ${listName === 'initContainers' ? 'init containers without `restartPolicy: Always`' : 'ephemeral containers'}`));
      continue;
    }
    handlerRules(obj, p, pp, PROBE_HANDLERS, c);
    if (probe !== 'readinessProbe' && p.successThreshold !== undefined && p.successThreshold !== 1) {
      c.add(obj, 'k8s/probe', [...pp, 'successThreshold'], invalid(p.successThreshold, 'must be 1'));
    }
  }
  if (isObj(ct.lifecycle)) {
    for (const hook of ['postStart', 'preStop'] as const) {
      if (isObj(ct.lifecycle[hook])) handlerRules(obj, ct.lifecycle[hook], [...cp, 'lifecycle', hook], LIFECYCLE_HANDLERS, c);
    }
  }

  const envNames = new Map<string, number>();
  list(ct.env).forEach((e, j) => {
    if (!isObj(e) || typeof e.name !== 'string') return;
    if (envNames.has(e.name)) {
      c.add(obj, 'k8s/duplicate-env', [...cp, 'env', j], `hides previous definition of "${e.name}" (env[${envNames.get(e.name)}]), which may be dropped when using apply (the API server warns)`, 'warning');
    }
    envNames.set(e.name, j);
  });

  list(ct.volumeMounts).forEach((m, j) => {
    if (isObj(m) && typeof m.name === 'string' && !volumes.has(m.name)) {
      const known = [...volumes];
      c.add(obj, 'k8s/volume-mount', [...cp, 'volumeMounts', j, 'name'], `${notFound(m.name)}: no volume of that name in the pod (volumes: ${known.length ? known.join(', ') : 'none'})`);
    }
  });

  resourceRules(obj, ct.resources, [...cp, 'resources'], c);
}

/** validateHandler: exactly one handler type; ports in range or valid names. */
function handlerRules(obj: K8sObject, h: Record<string, any>, hp: Segment[], handlers: readonly string[], c: Collector): void {
  const set = handlers.filter((k) => h[k] !== undefined && h[k] !== null);
  if (set.length === 0) {
    c.add(obj, 'k8s/probe', hp, required(`must specify a handler type (one of ${handlers.join(', ')})`));
  }
  for (const extra of set.slice(1)) c.add(obj, 'k8s/probe', [...hp, extra], forbidden(`may not specify more than 1 handler type (${set.join(' and ')} are set)`));
  for (const k of ['httpGet', 'tcpSocket', 'grpc'] as const) {
    const port = h[k]?.port;
    if (port === undefined) continue;
    const at: Segment[] = [...hp, k, 'port'];
    if (typeof port === 'number' || k === 'grpc') {
      if (!isPort(port)) c.add(obj, 'k8s/port-range', at, invalid(port, PORT_RANGE));
    } else if (typeof port === 'string') {
      for (const msg of portNameErrors(port)) c.add(obj, 'naming/port-name', at, invalid(port, msg));
    }
  }
}

/** Every quantity parses and is not negative; requests are not above limits. */
export function resourceRules(obj: K8sObject, res: unknown, rp: Segment[], c: Collector): void {
  if (!isObj(res)) return;
  const parsed: Record<'requests' | 'limits', Record<string, number>> = { requests: {}, limits: {} };
  for (const kind of ['requests', 'limits'] as const) {
    if (!isObj(res[kind])) continue;
    for (const [name, q] of Object.entries(res[kind])) {
      const v = quantityRule(obj, q, [...rp, kind, name], c);
      if (v !== undefined) parsed[kind][name] = v;
    }
  }
  for (const [name, req] of Object.entries(parsed.requests)) {
    const limit = parsed.limits[name];
    if (limit !== undefined && req > limit) {
      c.add(obj, 'k8s/requests-above-limits', [...rp, 'requests', name], invalid(res.requests[name], `must be less than or equal to ${name} limit of ${res.limits[name]}`));
    }
  }
}

/** Reports a quantity that does not parse or is negative; returns its value otherwise. */
export function quantityRule(obj: K8sObject, q: unknown, at: Segment[], c: Collector, positive = false): number | undefined {
  if (q === undefined || q === null) return undefined;
  const v = parseQuantity(q);
  if (v === undefined) {
    c.add(obj, 'k8s/quantity', at, invalid(q, `${QUANTITY_FORMAT} (e.g. 500m, 1.5, 128Mi, 1Gi)`));
    return undefined;
  }
  if (positive ? v <= 0 : v < 0) {
    c.add(obj, 'k8s/quantity', at, invalid(q, positive ? 'must be positive' : 'must be greater than or equal to 0'));
    return undefined;
  }
  return v;
}
