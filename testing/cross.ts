/**
 * Rules across objects of the same set: selectors that select nothing, ports and references that
 * point nowhere. A rule only speaks when the objects it would look for are part of the set (a
 * ServiceMonitor for Services deployed elsewhere is not an error).
 */
import type { Collector } from './collector';
import { podSpecPath, podTemplateLabels } from './policy';
import type { K8sObject } from './types';

interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: Array<{ key: string; operator: string; values?: string[] }>;
}

const isObj = (v: unknown): v is Record<string, any> => !!v && typeof v === 'object' && !Array.isArray(v);

/** Kubernetes label selector semantics; an empty selector matches everything. */
export function selectorMatches(selector: LabelSelector | undefined, labels: Record<string, string> | undefined): boolean {
  const l = labels ?? {};
  for (const [k, v] of Object.entries(selector?.matchLabels ?? {})) if (l[k] !== v) return false;
  for (const e of selector?.matchExpressions ?? []) {
    const has = Object.prototype.hasOwnProperty.call(l, e.key);
    switch (e.operator) {
      case 'In':
        if (!has || !(e.values ?? []).includes(l[e.key])) return false;
        break;
      case 'NotIn':
        if (has && (e.values ?? []).includes(l[e.key])) return false;
        break;
      case 'Exists':
        if (!has) return false;
        break;
      case 'DoesNotExist':
        if (has) return false;
        break;
      default:
        return false;
    }
  }
  return true;
}

function describeSelector(s: LabelSelector | undefined): string {
  const parts = Object.entries(s?.matchLabels ?? {}).map(([k, v]) => `${k}=${v}`);
  for (const e of s?.matchExpressions ?? []) parts.push(`${e.key} ${e.operator}${e.values ? ` (${e.values.join(', ')})` : ''}`);
  return parts.length ? parts.join(', ') : '(everything)';
}

const ns = (o: K8sObject) => o.metadata?.namespace ?? '';

interface PodTemplate {
  owner: K8sObject;
  namespace: string;
  labels: Record<string, string>;
  containerPorts: Array<{ name?: string; containerPort?: number }>;
}

function podTemplates(objects: readonly K8sObject[]): PodTemplate[] {
  const out: PodTemplate[] = [];
  for (const o of objects) {
    const p = podSpecPath(o);
    if (!p) continue;
    let spec: any = o;
    for (const s of p) spec = spec?.[s];
    const ports: PodTemplate['containerPorts'] = [];
    for (const list of ['containers', 'initContainers']) {
      for (const c of Array.isArray(spec?.[list]) ? spec[list] : []) for (const port of Array.isArray(c?.ports) ? c.ports : []) ports.push(port);
    }
    out.push({ owner: o, namespace: ns(o), labels: podTemplateLabels(o) ?? {}, containerPorts: ports });
  }
  return out;
}

export function crossObjectRules(objects: readonly K8sObject[], c: Collector): void {
  const valid = objects.filter((o) => isObj(o) && typeof o.kind === 'string' && typeof o.apiVersion === 'string');
  const pods = podTemplates(valid);
  const services = valid.filter((o) => o.kind === 'Service' && o.apiVersion === 'v1');

  for (const o of valid) {
    const spec: any = (o as any).spec;
    if (!isObj(spec)) continue;

    // Workload selector must select its own template (the API server rejects it otherwise).
    if (['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet'].includes(o.kind) && isObj(spec.selector)) {
      const labels = podTemplateLabels(o);
      if (!selectorMatches(spec.selector, labels)) {
        c.add(o, 'k8s/selector-mismatch', 'spec.selector', `selector ${describeSelector(spec.selector)} does not match the pod template labels; the API server rejects this`);
      }
    }

    if (o.kind === 'Service' && o.apiVersion === 'v1' && isObj(spec.selector) && Object.keys(spec.selector).length > 0) {
      const candidates = pods.filter((p) => p.namespace === ns(o));
      if (candidates.length > 0) {
        const matched = candidates.filter((p) => selectorMatches({ matchLabels: spec.selector }, p.labels));
        if (matched.length === 0) {
          c.add(o, 'service/selects-nothing', 'spec.selector', `selector ${describeSelector({ matchLabels: spec.selector })} matches no pod template in this set`, 'warning');
        } else {
          (Array.isArray(spec.ports) ? spec.ports : []).forEach((port: any, i: number) => {
            if (typeof port?.targetPort === 'string' && !matched.some((p) => p.containerPorts.some((cp) => cp.name === port.targetPort))) {
              c.add(o, 'service/target-port', ['spec', 'ports', i, 'targetPort'], `targetPort "${port.targetPort}" is not a named container port of the selected pods`);
            }
          });
        }
      }
    }

    if (o.kind === 'PodDisruptionBudget' && isObj(spec.selector)) {
      const candidates = pods.filter((p) => p.namespace === ns(o));
      if (candidates.length > 0 && !candidates.some((p) => selectorMatches(spec.selector, p.labels))) {
        c.add(o, 'pdb/selects-nothing', 'spec.selector', `selector ${describeSelector(spec.selector)} matches no pod template in this set`, 'warning');
      }
    }

    if ((o.kind === 'HorizontalPodAutoscaler' || (o.kind === 'ScaledObject' && o.apiVersion.startsWith('keda.sh/'))) && isObj(spec.scaleTargetRef)) {
      const ref = spec.scaleTargetRef;
      const kind = ref.kind ?? 'Deployment';
      const sameNs = valid.filter((x) => ns(x) === ns(o) && x.kind === kind);
      if (sameNs.length > 0 && !sameNs.some((x) => x.metadata?.name === ref.name)) {
        c.add(o, 'k8s/dangling-reference', 'spec.scaleTargetRef.name', `scaleTargetRef ${kind} "${ref.name}" is not in this set (${kind} objects here: ${sameNs.map((x) => x.metadata?.name).join(', ')})`);
      }
    }

    if (o.apiVersion.startsWith('monitoring.coreos.com/') && (o.kind === 'ServiceMonitor' || o.kind === 'PodMonitor')) {
      monitorRule(o, spec, o.kind === 'ServiceMonitor' ? services : pods, c);
    }

    if (o.apiVersion.startsWith('networking.istio.io/') && o.kind === 'VirtualService') virtualServiceRules(o, spec, valid, c);
    if (o.apiVersion.startsWith('networking.istio.io/') && o.kind === 'DestinationRule') destinationRuleRules(o, spec, services, pods, c);
    if (
      (o.apiVersion.startsWith('security.istio.io/') && (o.kind === 'AuthorizationPolicy' || o.kind === 'PeerAuthentication' || o.kind === 'RequestAuthentication')) ||
      (o.apiVersion.startsWith('telemetry.istio.io/') && o.kind === 'Telemetry')
    ) {
      const sel = spec.selector;
      const candidates = pods.filter((p) => p.namespace === ns(o));
      if (isObj(sel) && isObj(sel.matchLabels) && candidates.length > 0 && !candidates.some((p) => selectorMatches({ matchLabels: sel.matchLabels }, p.labels))) {
        c.add(o, 'mesh/selects-nothing', 'spec.selector.matchLabels', `selector ${describeSelector({ matchLabels: sel.matchLabels })} matches no pod template in this set, so the ${o.kind} applies to nothing`, 'warning');
      }
    }
  }
}

/** Istio host -> { name, namespace } of a Kubernetes Service, for short and cluster-local names. */
function serviceOfHost(host: string, defaultNs: string): { name: string; namespace: string } | undefined {
  if (host.includes('*')) return undefined;
  const parts = host.split('.');
  if (parts.length === 1) return { name: parts[0], namespace: defaultNs };
  if (parts.length === 2) return { name: parts[0], namespace: parts[1] };
  if (parts[2] === 'svc' && (parts.length === 3 || parts.slice(3).join('.') === 'cluster.local')) return { name: parts[0], namespace: parts[1] };
  return undefined;
}

function sameService(a: { name: string; namespace: string } | undefined, b: { name: string; namespace: string } | undefined): boolean {
  return !!a && !!b && a.name === b.name && a.namespace === b.namespace;
}

/** Route destinations must name subsets that the host's DestinationRule defines (else Istio returns 503 NR). */
function virtualServiceRules(o: K8sObject, spec: any, objects: readonly K8sObject[], c: Collector): void {
  const drs = objects.filter((x) => x.kind === 'DestinationRule' && x.apiVersion.startsWith('networking.istio.io/'));
  for (const proto of ['http', 'tcp', 'tls'] as const) {
    (Array.isArray(spec[proto]) ? spec[proto] : []).forEach((route: any, ri: number) => {
      (Array.isArray(route?.route) ? route.route : []).forEach((dst: any, di: number) => {
        const d = dst?.destination;
        if (!isObj(d) || typeof d.host !== 'string' || typeof d.subset !== 'string') return;
        const target = serviceOfHost(d.host, ns(o));
        const rules = drs.filter((dr) => {
          const h = (dr as any).spec?.host;
          return typeof h === 'string' && (h === d.host || sameService(serviceOfHost(h, ns(dr)), target));
        });
        if (rules.length === 0) return; // defined elsewhere, cannot tell
        const subsets = rules.flatMap((dr) => ((dr as any).spec?.subsets ?? []).map((s: any) => s?.name));
        if (!subsets.includes(d.subset)) {
          c.add(o, 'mesh/unknown-subset', ['spec', proto, ri, 'route', di, 'destination', 'subset'], `subset "${d.subset}" is not defined by the DestinationRule for ${d.host} (subsets: ${subsets.join(', ') || 'none'}); Istio answers 503 NR`);
        }
      });
    });
  }
}

/** Each subset should select some pods of the host's Service. */
function destinationRuleRules(o: K8sObject, spec: any, services: K8sObject[], pods: PodTemplate[], c: Collector): void {
  if (typeof spec.host !== 'string' || !Array.isArray(spec.subsets)) return;
  const target = serviceOfHost(spec.host, ns(o));
  const svc = services.find((s) => sameService({ name: String(s.metadata?.name), namespace: ns(s) }, target));
  if (!svc) return;
  const selector = (svc as any).spec?.selector;
  if (!isObj(selector)) return;
  const backing = pods.filter((p) => p.namespace === ns(svc) && selectorMatches({ matchLabels: selector }, p.labels));
  if (backing.length === 0) return;
  spec.subsets.forEach((sub: any, i: number) => {
    if (!isObj(sub?.labels)) return;
    if (!backing.some((p) => selectorMatches({ matchLabels: sub.labels }, p.labels))) {
      c.add(o, 'mesh/subset-selects-nothing', ['spec', 'subsets', i, 'labels'], `subset "${sub.name}" labels ${describeSelector({ matchLabels: sub.labels })} match no pod template behind Service ${svc.metadata?.name}`, 'warning');
    }
  });
}

/**
 * The namespaces a ServiceMonitor/PodMonitor watches (prometheus-operator's namespaceSelector:
 * `any`, a non-empty `matchNames`, else the monitor's own namespace, `own`).
 */
export function inNamespaces(spec: any, own: string): (namespace: string) => boolean {
  const sel = spec?.namespaceSelector;
  if (isObj(sel) && sel.any === true) return () => true;
  if (isObj(sel) && Array.isArray(sel.matchNames) && sel.matchNames.length > 0) return (n) => sel.matchNames.includes(n);
  return (n) => n === own;
}

function monitorRule(o: K8sObject, spec: any, targets: K8sObject[] | PodTemplate[], c: Collector): void {
  const inNs = inNamespaces(spec, ns(o));
  const isService = o.kind === 'ServiceMonitor';
  const candidates = isService
    ? (targets as K8sObject[]).filter((s) => inNs(ns(s))).map((s) => ({ labels: (s.metadata?.labels ?? {}) as Record<string, string>, obj: s }))
    : (targets as PodTemplate[]).filter((p) => inNs(p.namespace)).map((p) => ({ labels: p.labels, pod: p }));
  if (candidates.length === 0) return; // nothing of that sort in this set: cannot tell
  const selector = isObj(spec.selector) ? spec.selector : {};
  const matched = candidates.filter((x) => selectorMatches(selector, x.labels));
  const what = isService ? 'Service' : 'pod template';
  if (matched.length === 0) {
    c.add(o, 'monitor/selects-nothing', 'spec.selector', `selector ${describeSelector(selector)} matches no ${what} in this set, so nothing is scraped`);
    return;
  }
  const endpointsKey = isService ? 'endpoints' : 'podMetricsEndpoints';
  const endpoints: any[] = Array.isArray(spec[endpointsKey]) ? spec[endpointsKey] : [];
  endpoints.forEach((ep, i) => {
    if (typeof ep?.port !== 'string') return;
    const names = isService
      ? matched.flatMap((m: any) => ((m.obj.spec?.ports ?? []) as any[]).map((p) => p?.name))
      : matched.flatMap((m: any) => (m.pod as PodTemplate).containerPorts.map((p) => p.name));
    if (!names.includes(ep.port)) {
      c.add(o, 'monitor/port-not-found', ['spec', endpointsKey, i, 'port'], `port "${ep.port}" is not a named port of the selected ${what}s (${[...new Set(names.filter(Boolean))].join(', ') || 'no named ports'})`);
    }
  });
}
