import { Construct } from 'constructs';
import { AgentService } from '../constructs/agent-service';
import { MeshPolicy, MeshPolicyProps } from '../constructs/mesh-policy';
import { MonitoringStack, MonitoringStackProps } from '../constructs/monitoring-stack';
import { AlertThresholdsInput, IngressPeerInput, MeshAgentOptionsInput } from './options';
import type { SystemSpec } from './system-spec';

/* How a parsed system spec becomes the system's MeshPolicy and MonitoringStack. */

export type SystemMesh = MeshPolicy;
export type SystemMonitoring = MonitoringStack | undefined;

/** The MeshPolicy of a system: every agent, the call graph, per-agent options and ingress. */
export function buildMesh(scope: Construct, id: string, spec: SystemSpec, services: readonly AgentService[]): MeshPolicy {
  const byName = new Map(services.map((s) => [s.spec.name, s]));
  const service = (name: string) => {
    const s = byName.get(name);
    if (!s) throw new Error(`internal: no AgentService for agent "${name}"`);
    return s;
  };
  const agents: Record<string, MeshAgentOptionsInput> = {};
  for (const a of spec.agents) if (Object.keys(a.mesh).length > 0) agents[a.name] = a.mesh;
  return new MeshPolicy(scope, id, {
    ...(spec.mesh as Omit<MeshPolicyProps, 'services'>),
    services: [...services],
    calls: spec.calls.map(([from, to]) => [service(from), service(to)] as [AgentService, AgentService]),
    ingress: spec.agents.filter((a) => a.ingress).map((a) => ({ ...(a.ingress as IngressPeerInput), to: service(a.name) })),
    agents: agents as MeshPolicyProps['agents'],
  });
}

/**
 * The MonitoringStack of a system, in the system namespace unless `monitoring.namespace` says
 * otherwise. None when `monitoring: false` or when no agent runs the sidecar (nothing to scrape).
 */
export function buildMonitoring(scope: Construct, id: string, spec: SystemSpec, services: readonly AgentService[]): MonitoringStack | undefined {
  if (spec.monitoring === false) return undefined;
  const monitored = services.filter((s) => s.spec.sidecar.enabled);
  if (monitored.length === 0) return undefined;
  const overrides: Record<string, AlertThresholdsInput> = {};
  for (const a of spec.agents) if (a.alertThresholds) overrides[a.name] = a.alertThresholds;
  return new MonitoringStack(scope, id, {
    // The mesh is STRICT: scrape with Istio's certificate unless the mesh opens a plaintext metrics port.
    meshTls: defaultMeshTls(spec),
    ...(spec.monitoring as Omit<MonitoringStackProps, 'services'>),
    namespace: spec.monitoring.namespace ?? spec.namespace,
    services: services,
    ...(Object.keys(overrides).length ? { overrides } : {}),
  } as MonitoringStackProps);
}

/** mTLS scrape with Istio certificates, unless the mesh scrapes in plaintext or allows no scrape. */
function defaultMeshTls(spec: SystemSpec): boolean {
  const p = spec.mesh.prometheus;
  if (p === false || spec.mesh.mtlsMode === 'PERMISSIVE') return false;
  return !(p?.plaintext || p?.plaintextFrom);
}
