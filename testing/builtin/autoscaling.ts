/** Built-in validation of autoscaling/v2 HorizontalPodAutoscalers (pkg/apis/autoscaling/validation). */
import type { Collector } from '../collector';
import { closest, Segment } from '../paths';
import type { K8sObject } from '../types';
import { forbidden, invalid, isObj, list, required, unsupported } from './errors';
import { quantityRule } from './pod';

const SOURCE_TYPES = ['ContainerResource', 'External', 'Object', 'Pods', 'Resource'];
const TARGET_TYPES = ['Utilization', 'Value', 'AverageValue'];
/** The field each metric source type populates. */
const SOURCE_FIELD: Record<string, string> = { Object: 'object', Pods: 'pods', Resource: 'resource', ContainerResource: 'containerResource', External: 'external' };

const hint = (v: unknown, candidates: readonly string[]) => {
  const h = typeof v === 'string' ? closest(v, candidates) : undefined;
  return h && h !== v ? ` (did you mean "${h}"?)` : '';
};

export function hpaRules(obj: K8sObject, c: Collector): void {
  if (obj.apiVersion !== 'autoscaling/v2') return;
  const spec = (obj as any).spec;
  if (!isObj(spec)) return;
  const { minReplicas: min, maxReplicas: max } = spec;
  if (typeof min === 'number' && min < 1) {
    c.add(obj, 'k8s/hpa-replicas', ['spec', 'minReplicas'], invalid(min, 'must be greater than 0 (0 needs the alpha HPAScaleToZero feature gate; use KEDA to scale to zero)'));
  }
  if (typeof max === 'number' && max < 1) c.add(obj, 'k8s/hpa-replicas', ['spec', 'maxReplicas'], invalid(max, 'must be greater than 0'));
  if (typeof min === 'number' && typeof max === 'number' && max < min) {
    c.add(obj, 'k8s/hpa-replicas', ['spec', 'maxReplicas'], invalid(max, `must be greater than or equal to \`minReplicas\` (${min})`));
  }
  list(spec.metrics).forEach((m, i) => {
    if (isObj(m)) metricRules(obj, m, ['spec', 'metrics', i], c);
  });
}

function metricRules(obj: K8sObject, m: Record<string, any>, at: Segment[], c: Collector): void {
  const type = m.type;
  if (type === undefined || type === '') {
    c.add(obj, 'k8s/hpa-metric', [...at, 'type'], required('must specify a metric source type'));
    return;
  }
  if (!SOURCE_TYPES.includes(type)) {
    c.add(obj, 'k8s/hpa-metric', [...at, 'type'], unsupported(type, SOURCE_TYPES) + hint(type, SOURCE_TYPES));
    return;
  }
  const expected = SOURCE_FIELD[type];
  const present = Object.values(SOURCE_FIELD).filter((f) => m[f] !== undefined && m[f] !== null);
  if (!present.includes(expected)) c.add(obj, 'k8s/hpa-metric', [...at, expected], required(`must populate information for the given metric source (type ${type})`));
  for (const f of present) if (f !== expected) c.add(obj, 'k8s/hpa-metric', [...at, f], forbidden(`must populate the given metric source only (type is ${type})`));
  const src = m[expected];
  if (!isObj(src)) return;
  const tp: Segment[] = [...at, expected, 'target'];
  const t = src.target;
  if (!isObj(t)) return; // required by the schema
  targetRules(obj, t, tp, c);
  const has = (k: string) => t[k] !== undefined && t[k] !== null;
  if (type === 'Resource' || type === 'ContainerResource') {
    if (!has('averageUtilization') && !has('averageValue')) c.add(obj, 'k8s/hpa-target', [...tp, 'averageUtilization'], required('must set either a target raw value or a target utilization'));
    if (has('averageUtilization') && has('averageValue')) c.add(obj, 'k8s/hpa-target', [...tp, 'averageValue'], forbidden('may not set both a target raw value and a target utilization'));
  } else if (type === 'Pods') {
    if (!has('averageValue')) c.add(obj, 'k8s/hpa-target', [...tp, 'averageValue'], required('must specify a positive target averageValue'));
  } else {
    if (!has('value') && !has('averageValue')) c.add(obj, 'k8s/hpa-target', [...tp, 'averageValue'], required('must set either a target value or averageValue'));
    if (type === 'External' && has('value') && has('averageValue')) c.add(obj, 'k8s/hpa-target', [...tp, 'value'], forbidden('may not set both a target value for metric and a per-pod target'));
  }
}

/** validateMetricTarget: the type enum (which the OpenAPI schema leaves open) and positive values. */
function targetRules(obj: K8sObject, t: Record<string, any>, tp: Segment[], c: Collector): void {
  if (t.type === undefined || t.type === '') c.add(obj, 'k8s/hpa-target', [...tp, 'type'], required('must specify a metric target type'));
  else if (!TARGET_TYPES.includes(t.type)) {
    c.add(obj, 'k8s/hpa-target', [...tp, 'type'], invalid(t.type, 'must be either Utilization, Value, or AverageValue') + hint(t.type, TARGET_TYPES));
  }
  for (const k of ['value', 'averageValue'] as const) quantityRule(obj, t[k], [...tp, k], c, true);
  if (t.averageUtilization !== undefined && typeof t.averageUtilization === 'number' && t.averageUtilization < 1) {
    c.add(obj, 'k8s/hpa-target', [...tp, 'averageUtilization'], invalid(t.averageUtilization, 'must be greater than 0'));
  }
}
