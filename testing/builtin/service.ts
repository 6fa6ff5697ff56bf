/** Built-in validation of Services (pkg/apis/core/validation: ValidateService, validateServicePort). */
import type { Collector } from '../collector';
import type { K8sObject } from '../types';
import { forbidden, invalid, isObj, list, required } from './errors';
import { dnsLabelErrors, isPort, PORT_RANGE, portNameErrors } from './names';

export function serviceRules(obj: K8sObject, c: Collector): void {
  const spec = (obj as any).spec;
  if (!isObj(spec)) return;
  const ports = list(spec.ports);
  const type = spec.type ?? 'ClusterIP';
  ports.forEach((port, i) => {
    if (!isObj(port)) return;
    const at = ['spec', 'ports', i];
    if (port.name === undefined || port.name === '') {
      if (ports.length > 1) c.add(obj, 'naming/port-name', [...at, 'name'], required('a Service with more than one port must name every port'));
    } else if (typeof port.name === 'string') {
      for (const msg of dnsLabelErrors(port.name)) c.add(obj, 'naming/port-name', [...at, 'name'], invalid(port.name, msg));
    }
    if (port.port !== undefined && !isPort(port.port)) c.add(obj, 'k8s/port-range', [...at, 'port'], invalid(port.port, PORT_RANGE));
    const tp = port.targetPort;
    if (typeof tp === 'number' && !isPort(tp)) c.add(obj, 'k8s/port-range', [...at, 'targetPort'], invalid(tp, PORT_RANGE));
    if (typeof tp === 'string') for (const msg of portNameErrors(tp)) c.add(obj, 'naming/port-name', [...at, 'targetPort'], invalid(tp, msg));
    if (port.nodePort !== undefined && port.nodePort !== 0) {
      if (type === 'ClusterIP' || type === 'ExternalName') {
        c.add(obj, 'k8s/port-range', [...at, 'nodePort'], forbidden(`may not be used when \`type\` is '${type}'`));
      } else if (!isPort(port.nodePort)) c.add(obj, 'k8s/port-range', [...at, 'nodePort'], invalid(port.nodePort, PORT_RANGE));
    }
  });
}
