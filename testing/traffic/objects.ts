/** The objects the traffic model reads, indexed by kind and namespace. */
import type { K8sObject } from '../types';

type Json = Record<string, any>;

export interface ContainerPort { readonly name?: string; readonly containerPort: number; readonly protocol?: string }

/** A pod template: what a Deployment/StatefulSet/DaemonSet/Pod runs. */
export interface Workload {
  readonly kind: string;
  readonly name: string;
  readonly namespace: string;
  readonly labels: Record<string, string>;
  readonly annotations: Record<string, string>;
  readonly serviceAccount: string;
  readonly ports: readonly ContainerPort[];
  readonly ref: string;
}

export interface ServicePort {
  readonly name?: string;
  readonly port: number;
  readonly targetPort: number | string;
  readonly protocol: string;
  readonly appProtocol?: string;
}

export interface ServiceInfo {
  readonly name: string;
  readonly namespace: string;
  readonly selector?: Record<string, string>;
  readonly ports: readonly ServicePort[];
  readonly ref: string;
}

/** `Kind/namespace/name` */
export function refOf(o: K8sObject): string {
  const ns = o.metadata?.namespace;
  return `${o.kind}/${ns ? `${ns}/` : ''}${o.metadata?.name ?? ''}`;
}

const WORKLOAD_KINDS = new Set(['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet', 'Job']);

export class ObjectIndex {
  readonly workloads: Workload[] = [];
  readonly services: ServiceInfo[] = [];
  private readonly byKind = new Map<string, K8sObject[]>();
  /** Namespaces named by any object. */
  readonly namespaces = new Set<string>();
  /** Namespaces holding Istio objects. */
  readonly istioNamespaces = new Set<string>();

  constructor(objects: readonly K8sObject[], defaultNamespace = 'default') {
    for (const raw of objects) {
      if (!raw || typeof raw !== 'object' || typeof raw.kind !== 'string') continue;
      const o = raw as Json;
      const namespace: string = o.metadata?.namespace ?? defaultNamespace;
      const list = this.byKind.get(o.kind) ?? [];
      list.push(raw);
      this.byKind.set(o.kind, list);
      if (o.kind !== 'Namespace') this.namespaces.add(namespace);
      if (/\.istio\.io\//.test(String(o.apiVersion))) this.istioNamespaces.add(namespace);
      if (WORKLOAD_KINDS.has(o.kind) || o.kind === 'Pod') {
        const tpl: Json = o.kind === 'Pod' ? o : o.spec?.template ?? {};
        const spec: Json = tpl.spec ?? {};
        this.workloads.push({
          kind: o.kind,
          name: o.metadata?.name ?? '',
          namespace,
          labels: { ...(tpl.metadata?.labels ?? {}) },
          annotations: { ...(tpl.metadata?.annotations ?? {}) },
          serviceAccount: spec.serviceAccountName ?? spec.serviceAccount ?? 'default',
          ports: [...(spec.containers ?? []), ...(spec.initContainers ?? []).filter((c: Json) => c.restartPolicy === 'Always')]
            .flatMap((c: Json) => (c.ports ?? []) as ContainerPort[]),
          ref: refOf(raw),
        });
      }
      if (o.kind === 'Service' && o.apiVersion === 'v1') {
        this.services.push({
          name: o.metadata?.name ?? '',
          namespace,
          selector: o.spec?.selector,
          ports: ((o.spec?.ports ?? []) as Json[]).map((p) => ({
            name: p.name,
            port: p.port,
            targetPort: p.targetPort ?? p.port,
            protocol: p.protocol ?? 'TCP',
            appProtocol: p.appProtocol,
          })),
          ref: refOf(raw),
        });
      }
    }
  }

  /** Objects of a kind (optionally in one namespace). */
  of(kind: string, namespace?: string): Json[] {
    const all = (this.byKind.get(kind) ?? []) as Json[];
    return namespace === undefined ? all : all.filter((o) => (o.metadata?.namespace ?? 'default') === namespace);
  }

  service(name: string, namespace: string | undefined): ServiceInfo | undefined {
    return this.services.find((s) => s.name === name && (namespace === undefined || s.namespace === namespace));
  }

  workload(name: string, namespace: string | undefined): Workload | undefined {
    return this.workloads.find((w) => w.name === name && (namespace === undefined || w.namespace === namespace));
  }
}
