/**
 * The sidecar's Redis tier as a dependency of the agent, so MeshPolicy opens egress to it (and
 * nothing else). Cluster hosts (`svc`, `svc.ns`, `svc.ns.svc[.cluster.local]`) become
 * AgentSpec.dependencies; other DNS names become egressHosts; IP addresses cannot be matched to a
 * Service and yield nothing (MeshPolicy then blocks the connection: use a host name).
 */
import type { AgentDependency, AgentEgressHost } from './agent/spec-types';

export const REDIS_DEFAULT_PORT = 6379;
const SOURCE = 'sidecar.redisUrl';

export function redisTarget(redisUrl: string | undefined, agentNamespace: string): { dependency?: AgentDependency; egressHost?: AgentEgressHost } {
  if (!redisUrl) return {};
  let url: URL;
  try {
    url = new URL(redisUrl);
  } catch {
    return {};
  }
  const host = url.hostname.toLowerCase().replace(/\.$/, '');
  const port = url.port ? Number(url.port) : REDIS_DEFAULT_PORT;
  if (!host || /^[0-9.]+$/.test(host) || host.includes(':') || host.startsWith('[')) return {};
  const labels = host.split('.');
  const svcIndex = labels.indexOf('svc');
  if (labels.length === 1) return { dependency: { kind: 'redis', service: host, namespace: agentNamespace, port, source: SOURCE } };
  if (labels.length === 2) return { dependency: { kind: 'redis', service: labels[0], namespace: labels[1], port, source: SOURCE } };
  if (svcIndex === 2) return { dependency: { kind: 'redis', service: labels[0], namespace: labels[1], port, source: SOURCE } };
  return { egressHost: { host, port, source: SOURCE } };
}
