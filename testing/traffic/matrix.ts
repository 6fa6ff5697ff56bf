/**
 * The flow matrix of a system: every agent to every agent, Prometheus (in and outside the mesh)
 * to every metrics port, ingress gateways to every agent, every agent to every external host and
 * every non-agent Service of the objects. The allowed agent-to-agent cells are the effective call
 * graph, to compare with the declared one.
 */
import { inNamespaces } from '../cross';
import { selectorMatches } from './match';
import { TrafficModel } from './model';
import type { Workload } from './objects';
import type { TrafficDestination, TrafficModelOptions, TrafficSource } from './types';

const MANAGED_BY = 'cdk8s-agents';
const NAME_LABEL = 'app.kubernetes.io/name';

export type FlowKind = 'call' | 'scrape' | 'ingress' | 'egress' | 'dependency';

/** One cell of the matrix. */
export interface FlowCell {
  readonly kind: FlowKind;
  /** Display name of the source: agent name, `prometheus (mesh)`, `ingress istio-ingress`... */
  readonly from: string;
  /** Display name of the destination: agent name, `host:port`, `service:port`. */
  readonly to: string;
  readonly allowed: boolean;
  readonly reason: string;
  readonly decidedBy: readonly string[];
  readonly source: TrafficSource;
  readonly destination: TrafficDestination;
}

export interface TrafficMatrix {
  /** Agents (by name; `namespace/name` when the objects span namespaces). */
  readonly agents: readonly string[];
  readonly cells: readonly FlowCell[];
  /** Allowed agent -> agent calls (the effective call graph), sorted. */
  readonly calls: ReadonlyArray<{ readonly caller: string; readonly callee: string }>;
}

export interface MatrixOptions {
  /** Where Prometheus runs and its service account. @default { namespace: 'monitoring', serviceAccount: 'prometheus' } */
  readonly prometheus?: { readonly namespace?: string; readonly serviceAccount?: string };
  /** Ingress gateways. @default [{ namespace: 'istio-ingress', serviceAccount: 'istio-ingressgateway' }] */
  readonly ingress?: ReadonlyArray<{ readonly namespace: string; readonly serviceAccount?: string }>;
  /** Options of the model (cluster facts). */
  readonly model?: TrafficModelOptions;
}

interface Agent { readonly key: string; readonly workload: Workload; readonly service: string; readonly namespace: string; readonly metricsPort?: string }

/** The agents of the objects: stable workloads managed by cdk8s-agents with a Service of their name. */
export function agentsOf(model: TrafficModel): Agent[] {
  const candidates = model.index.workloads.filter((w) => w.labels['app.kubernetes.io/managed-by'] === MANAGED_BY && w.labels[NAME_LABEL] && w.labels['cdk8s-agents.io/track'] !== 'canary');
  const multiNs = new Set(candidates.map((w) => w.namespace)).size > 1;
  const agents: Agent[] = [];
  for (const w of candidates) {
    const svc = model.index.service(w.labels[NAME_LABEL], w.namespace);
    if (!svc || !svc.ports.some((p) => p.name === 'http')) continue;
    const metrics = svc.ports.find((p) => p.name === 'http-metrics' || p.name === 'metrics');
    agents.push({ key: multiNs ? `${w.namespace}/${svc.name}` : svc.name, workload: w, service: svc.name, namespace: w.namespace, metricsPort: metrics?.name });
  }
  return agents.sort((a, b) => cmp(a.key, b.key));
}

/** How Prometheus outside the mesh connects: with Istio certificates when a monitor of the agent says so. */
function outsideScrapeMesh(model: TrafficModel, agent: Agent): 'certs' | 'none' {
  const svc = model.index.of('Service', agent.namespace).find((s) => s.metadata?.name === agent.service);
  const monitors = [...model.index.of('ServiceMonitor'), ...model.index.of('PodMonitor')].filter((m) => {
    // A namespace-less object lands in "default" in this model (objects.ts).
    if (!inNamespaces(m.spec, m.metadata?.namespace ?? 'default')(agent.namespace)) return false;
    const labels = m.kind === 'ServiceMonitor' ? svc?.metadata?.labels : agent.workload.labels;
    return selectorMatches(m.spec?.selector ?? {}, labels ?? {});
  });
  const endpoints = monitors.flatMap((m) => (m.spec?.endpoints ?? m.spec?.podMetricsEndpoints ?? []) as Array<Record<string, any>>);
  return endpoints.some((e) => e.scheme === 'https' && e.tlsConfig?.certFile) ? 'certs' : 'none';
}

export function trafficMatrix(model: TrafficModel, options: MatrixOptions = {}): TrafficMatrix {
  const agents = agentsOf(model);
  const cells: FlowCell[] = [];
  const add = (kind: FlowKind, from: string, to: string, source: TrafficSource, destination: TrafficDestination) => {
    const d = model.check(source, destination);
    cells.push({ kind, from, to, allowed: d.allowed, reason: d.reason, decidedBy: d.decidedBy, source, destination });
  };
  const agentSource = (a: Agent): TrafficSource => ({ workload: a.workload.name, namespace: a.namespace });
  const http = (a: Agent): TrafficDestination => ({ service: a.service, namespace: a.namespace, port: 'http', method: 'POST', path: '/' });

  for (const a of agents) for (const b of agents) add('call', a.key, b.key, agentSource(a), http(b));

  const promNs = options.prometheus?.namespace ?? 'monitoring';
  const promSa = options.prometheus?.serviceAccount ?? 'prometheus';
  for (const b of agents) {
    if (!b.metricsPort) continue;
    const to = { service: b.service, namespace: b.namespace, port: b.metricsPort, method: 'GET', path: '/metrics' };
    add('scrape', 'prometheus (mesh)', b.key, { pod: { namespace: promNs, serviceAccount: promSa, mesh: 'sidecar', name: 'prometheus (mesh)', labels: { 'app.kubernetes.io/name': 'prometheus' } } }, to);
    const outside = outsideScrapeMesh(model, b);
    const name = `prometheus (outside the mesh${outside === 'certs' ? ', Istio certificates' : ''})`;
    add('scrape', name, b.key, { pod: { namespace: promNs, serviceAccount: promSa, mesh: outside, name, labels: { 'app.kubernetes.io/name': 'prometheus' } } }, to);
  }

  for (const g of options.ingress ?? [{ namespace: 'istio-ingress', serviceAccount: 'istio-ingressgateway' }]) {
    const name = `ingress ${g.namespace}`;
    for (const b of agents) add('ingress', name, b.key, { pod: { namespace: g.namespace, serviceAccount: g.serviceAccount ?? 'istio-ingressgateway', mesh: 'sidecar', name, labels: { istio: 'ingressgateway' } } }, http(b));
  }

  const hosts = new Map<string, { host: string; port: number }>();
  for (const se of model.index.of('ServiceEntry')) {
    for (const host of (se.spec?.hosts ?? []) as string[]) {
      for (const p of (se.spec?.ports ?? [{ number: 443 }]) as Array<{ number: number }>) hosts.set(`${host}:${p.number}`, { host, port: p.number });
    }
  }
  const sortedHosts = [...hosts.entries()].sort(([x], [y]) => cmp(x, y));
  for (const a of agents) for (const [key, h] of sortedHosts) add('egress', a.key, key, agentSource(a), h);

  const agentServices = new Set(agents.map((a) => `${a.namespace}/${a.service}`));
  const others = model.index.services.filter((s) => !agentServices.has(`${s.namespace}/${s.name}`) && model.index.workloads.some((w) => w.namespace === s.namespace && s.selector && selectorMatches({ matchLabels: s.selector }, w.labels)));
  for (const a of agents) {
    for (const s of others) for (const p of s.ports) add('dependency', a.key, `${s.name}.${s.namespace}:${p.port}`, agentSource(a), { service: s.name, namespace: s.namespace, port: p.port });
  }

  const calls = cells.filter((c) => c.kind === 'call' && c.allowed).map((c) => ({ caller: c.from, callee: c.to }));
  return { agents: agents.map((a) => a.key), cells, calls };
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
