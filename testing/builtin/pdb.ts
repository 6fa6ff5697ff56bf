/** Built-in validation of policy/v1 PodDisruptionBudgets (pkg/apis/policy/validation). */
import type { Collector } from '../collector';
import type { K8sObject } from '../types';
import { invalid, isObj } from './errors';

export function pdbRules(obj: K8sObject, c: Collector): void {
  if (obj.apiVersion !== 'policy/v1') return;
  const spec = (obj as any).spec;
  if (!isObj(spec)) return;
  const set = (['minAvailable', 'maxUnavailable'] as const).filter((k) => spec[k] !== undefined && spec[k] !== null);
  if (set.length === 2) {
    c.add(obj, 'k8s/pdb-budget', ['spec', 'minAvailable'], invalid(spec.minAvailable, 'minAvailable and maxUnavailable cannot be both set'));
  }
  if (set.length === 0) {
    c.add(obj, 'k8s/pdb-no-budget', ['spec'], 'neither minAvailable nor maxUnavailable is set: the API server accepts it, but the budget then allows every disruption (set exactly one)', 'warning');
  }
  for (const k of set) {
    const v = spec[k];
    if (typeof v === 'number' && v < 0) c.add(obj, 'k8s/pdb-budget', ['spec', k], invalid(v, 'must be greater than or equal to 0'));
    if (typeof v === 'string') {
      const m = /^([0-9]+)%$/.exec(v);
      if (!m) c.add(obj, 'k8s/pdb-budget', ['spec', k], invalid(v, "must be an integer or percentage (e.g '5%')"));
      else if (Number(m[1]) > 100) c.add(obj, 'k8s/pdb-budget', ['spec', k], invalid(v, 'must not be greater than 100%'));
    }
  }
}
