import { Construct } from 'constructs';
import { ScaledObject } from '../../imports/scaledobject-keda.sh';
import { METRICS, TARGET_LABELS } from '../../sidecar/contract';
import { AgentSpec } from '../spec';

/**
 * KEDA ScaledObject scaling on the sidecar's in-flight gauge. With scale-to-zero a second
 * trigger on the callers' Istio request rate wakes the agent, since an agent with no pods
 * has no sidecar to report in-flight calls.
 */
export function inflightScaledObject(scope: Construct, spec: AgentSpec): ScaledObject {
  if (spec.scaling.kind !== 'inflight') throw new Error('inflightScaledObject needs inflight scaling');
  const s = spec.scaling;
  const selector = `${TARGET_LABELS.namespace}="${spec.namespace}",${TARGET_LABELS.agent}="${spec.name}"`;
  const triggers = [{
    type: 'prometheus',
    name: 'inflight',
    metricType: 'AverageValue',
    metadata: {
      serverAddress: s.prometheusAddress,
      query: `sum(${METRICS.inflight}{${selector}})`,
      threshold: String(s.targetPerReplica),
      activationThreshold: String(s.activationThreshold),
    },
  }];
  if (s.scaleToZero) {
    triggers.push({
      type: 'prometheus',
      name: 'requests',
      metricType: 'AverageValue',
      metadata: {
        serverAddress: s.prometheusAddress,
        query: `sum(rate(istio_requests_total{reporter="source",destination_service_namespace="${spec.namespace}",destination_service_name="${spec.names.service}"}[2m]))`,
        // Only wakes the agent; the in-flight trigger sizes it.
        threshold: '1000000',
        activationThreshold: '0',
      },
    });
  }
  return new ScaledObject(scope, 'ScaledObject', {
    metadata: { name: `${spec.name}-scaler`, namespace: spec.namespace, labels: { ...spec.labels } },
    spec: {
      scaleTargetRef: { apiVersion: 'apps/v1', kind: spec.workloadKind, name: spec.names.deployment },
      minReplicaCount: s.minReplicas,
      maxReplicaCount: s.maxReplicas,
      pollingInterval: s.pollingIntervalSeconds,
      cooldownPeriod: s.scaleDownStabilizationSeconds,
      advanced: {
        horizontalPodAutoscalerConfig: {
          name: spec.names.hpa,
          behavior: {
            scaleDown: {
              stabilizationWindowSeconds: s.scaleDownStabilizationSeconds,
              selectPolicy: 'Min',
              policies: [{ type: 'Pods', value: 1, periodSeconds: 120 }],
            },
          },
        },
      },
      triggers,
    },
  });
}
