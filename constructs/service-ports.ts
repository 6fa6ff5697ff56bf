/**
 * The agent Service's ports, named by Istio's convention (`<protocol>[-<suffix>]`) and with
 * `appProtocol`, so the mesh never sniffs the protocol (istioctl analyze IST0118) and HTTP-only
 * authorization fields (methods, paths) apply.
 */
import { ApiObject, JsonPatch } from 'cdk8s';
import * as kplus from 'cdk8s-plus-28';
import { AgentSpec } from './spec';

/** Service port names; the ServiceMonitor selects the metrics port by name. */
export const SERVICE_PORT_NAMES = { http: 'http', metrics: 'http-metrics' } as const;

/** The Service ports of an agent: `http` always, `http-metrics` with the sidecar. */
/** With the proxy, callers keep the agent's port on the Service, but it lands on the sidecar (targetPort). */
export function agentServicePorts(spec: AgentSpec): kplus.ServicePort[] {
  const ports: kplus.ServicePort[] = [{ name: SERVICE_PORT_NAMES.http, port: spec.port, targetPort: spec.targetPort, protocol: kplus.Protocol.TCP }];
  if (spec.sidecar.enabled) {
    ports.push({ name: SERVICE_PORT_NAMES.metrics, port: spec.sidecar.metricsPort, targetPort: spec.sidecar.metricsPort, protocol: kplus.Protocol.TCP });
  }
  return ports;
}

/** Sets `appProtocol: http` on every port (cdk8s-plus ServicePort has no such field). */
export function setAppProtocols(service: kplus.Service): void {
  const api = ApiObject.of(service);
  service.ports.forEach((_p, i) => api.addJsonPatch(JsonPatch.add(`/spec/ports/${i}/appProtocol`, 'http')));
}
