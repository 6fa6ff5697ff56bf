/**
 * Built-in validation of apps/v1 workloads (pkg/apis/apps/validation): non-empty selectors, rolling
 * update parameters, and the StatefulSet basics (its governing Service, volume claim templates).
 */
import type { Collector } from '../collector';
import type { Segment } from '../paths';
import type { K8sObject } from '../types';
import { forbidden, invalid, isObj, list, required } from './errors';
import { quantityRule } from './pod';
import { dnsLabelErrors } from './names';

const isZero = (v: unknown) => v === 0 || v === '0%' || v === '0';

export function workloadRules(obj: K8sObject, c: Collector): void {
  const spec = (obj as any).spec;
  if (!isObj(spec)) return;
  const sel = spec.selector;
  if (isObj(sel) && Object.keys(sel.matchLabels ?? {}).length === 0 && list(sel.matchExpressions).length === 0) {
    c.add(obj, 'k8s/empty-selector', ['spec', 'selector'], invalid(sel, `empty selector is invalid for ${obj.kind.toLowerCase()}`));
  }
  if (obj.kind === 'Deployment' && isObj(spec.strategy)) {
    const s = spec.strategy;
    const ru = s.rollingUpdate;
    if (s.type === 'Recreate' && ru !== undefined) {
      c.add(obj, 'k8s/rolling-update', ['spec', 'strategy', 'rollingUpdate'], forbidden("may not be specified when strategy `type` is 'Recreate'"));
    } else if (isObj(ru) && isZero(ru.maxSurge) && isZero(ru.maxUnavailable)) {
      c.add(obj, 'k8s/rolling-update', ['spec', 'strategy', 'rollingUpdate', 'maxUnavailable'], invalid(ru.maxUnavailable, 'may not be 0 when `maxSurge` is 0'));
    }
  }
}

/** The claim template names of a StatefulSet: each becomes a volume of its pods. */
export function claimTemplateNames(obj: K8sObject): string[] {
  if (obj.kind !== 'StatefulSet') return [];
  return list((obj as any).spec?.volumeClaimTemplates)
    .map((t) => t?.metadata?.name)
    .filter((n): n is string => typeof n === 'string');
}

export function statefulSetRules(obj: K8sObject, objects: readonly K8sObject[], c: Collector): void {
  const spec = (obj as any).spec;
  if (!isObj(spec)) return;
  const name = spec.serviceName;
  if (name === undefined || name === '') {
    c.add(obj, 'k8s/statefulset-service', ['spec', 'serviceName'], 'serviceName is not set: the pods get no stable network identity (<pod>.<service> DNS names); name a headless Service', 'warning');
  } else if (typeof name === 'string') {
    for (const msg of dnsLabelErrors(name)) c.add(obj, 'k8s/statefulset-service', ['spec', 'serviceName'], invalid(name, msg));
    const ns = obj.metadata?.namespace ?? '';
    const svc = objects.find((o) => o?.kind === 'Service' && o.apiVersion === 'v1' && o.metadata?.name === name && (o.metadata?.namespace ?? '') === ns);
    if (svc && (svc as any).spec?.clusterIP !== 'None') {
      c.add(obj, 'k8s/statefulset-service', ['spec', 'serviceName'], `Service "${name}" is not headless (clusterIP: None), so the pods get no per-pod DNS names`, 'warning');
    }
  }
  const mounted = new Set<string>();
  const podSpec = spec.template?.spec;
  for (const l of ['initContainers', 'containers']) for (const ct of list(podSpec?.[l])) for (const m of list(ct?.volumeMounts)) mounted.add(m?.name);
  const seen = new Set<string>();
  list(spec.volumeClaimTemplates).forEach((t, i) => {
    if (!isObj(t)) return;
    const at: Segment[] = ['spec', 'volumeClaimTemplates', i];
    const n = t.metadata?.name;
    if (typeof n !== 'string' || n === '') c.add(obj, 'k8s/claim-template', [...at, 'metadata', 'name'], required('each claim template needs a name (the volume name the containers mount)'));
    else if (seen.has(n)) c.add(obj, 'schema/duplicate-key', [...at, 'metadata', 'name'], `Duplicate value: "${n}"`);
    else {
      seen.add(n);
      if (!mounted.has(n)) {
        c.add(obj, 'k8s/claim-template-unused', [...at, 'metadata', 'name'], `no container mounts claim template "${n}": every pod still gets a PersistentVolumeClaim that nothing uses`, 'warning');
      }
    }
    claimSpecRules(obj, t.spec, [...at, 'spec'], c);
  });
}

/** ValidatePersistentVolumeClaimSpec: access modes and a storage request. */
export function claimSpecRules(obj: K8sObject, s: unknown, at: Segment[], c: Collector): void {
  if (!isObj(s)) {
    c.add(obj, 'k8s/claim-spec', at, required());
    return;
  }
  const modes = list(s.accessModes);
  if (modes.length === 0) c.add(obj, 'k8s/claim-spec', [...at, 'accessModes'], required('at least 1 access mode is required'));
  const storage = s.resources?.requests?.storage;
  if (storage === undefined) c.add(obj, 'k8s/claim-spec', [...at, 'resources', 'requests', 'storage'], required('a storage request is required'));
  else quantityRule(obj, storage, [...at, 'resources', 'requests', 'storage'], c, true);
  if (isObj(s.resources?.limits)) for (const [k, v] of Object.entries(s.resources.limits)) quantityRule(obj, v, [...at, 'resources', 'limits', k], c);
}
