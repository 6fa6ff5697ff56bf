/**
 * Built-in validation: the checks the API server runs in Go (pkg/apis/{core,apps,autoscaling,policy}/validation)
 * that no OpenAPI schema encodes, so a manifest it would reject at apply time fails here first.
 */
import type { Collector } from '../collector';
import { podSpecPath, get } from '../policy';
import type { K8sObject, Severity } from '../types';
import { claimSpecRules, claimTemplateNames, statefulSetRules, workloadRules } from './apps';
import { hpaRules } from './autoscaling';
import { isObj } from './errors';
import { pdbRules } from './pdb';
import { podSpecRules } from './pod';
import { serviceRules } from './service';

/** Every rule id the built-in checks report, with its default severity (docs/testing.md lists them). */
export const BUILTIN_RULES: Readonly<Record<string, Severity>> = {
  'k8s/hpa-metric': 'error',
  'k8s/hpa-target': 'error',
  'k8s/hpa-replicas': 'error',
  'k8s/probe': 'error',
  'k8s/port-range': 'error',
  'k8s/restart-policy': 'error',
  'k8s/dns-config': 'error',
  'k8s/volume-mount': 'error',
  'k8s/duplicate-env': 'warning',
  'k8s/quantity': 'error',
  'k8s/requests-above-limits': 'error',
  'k8s/pdb-budget': 'error',
  'k8s/pdb-no-budget': 'warning',
  'k8s/empty-selector': 'error',
  'k8s/rolling-update': 'error',
  'k8s/statefulset-service': 'warning',
  'k8s/claim-template': 'error',
  'k8s/claim-spec': 'error',
  'k8s/claim-template-unused': 'warning',
};

const WORKLOADS = new Set(['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet']);

export function builtinRules(objects: readonly K8sObject[], c: Collector): void {
  for (const obj of objects) {
    if (!isObj(obj) || typeof obj.kind !== 'string' || typeof obj.apiVersion !== 'string') continue;
    const specPath = podSpecPath(obj);
    if (specPath) {
      const spec = get(obj, specPath);
      if (isObj(spec)) podSpecRules(obj, spec, specPath, c, claimTemplateNames(obj));
    }
    if (WORKLOADS.has(obj.kind) && obj.apiVersion === 'apps/v1') workloadRules(obj, c);
    if (obj.kind === 'StatefulSet' && obj.apiVersion === 'apps/v1') statefulSetRules(obj, objects, c);
    if (obj.kind === 'Service' && obj.apiVersion === 'v1') serviceRules(obj, c);
    if (obj.kind === 'HorizontalPodAutoscaler') hpaRules(obj, c);
    if (obj.kind === 'PodDisruptionBudget') pdbRules(obj, c);
    if (obj.kind === 'PersistentVolumeClaim' && obj.apiVersion === 'v1') claimSpecRules(obj, (obj as any).spec, ['spec'], c);
  }
}
