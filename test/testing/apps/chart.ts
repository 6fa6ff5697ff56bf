import { ApiObject, App, Chart } from 'cdk8s';
import * as kplus from 'cdk8s-plus-28';
import { VirtualService } from '../../../imports/istio-networking.istio.io';
import { PrometheusRule, PrometheusRuleSpecGroupsRulesExpr } from '../../../imports/prometheusrule-monitoring.coreos.com';
import { ServiceMonitor } from '../../../imports/servicemonitor-monitoring.coreos.com';

/** A small agent app; `broken` plants three mistakes the validation plugin must report. */
export function buildApp(broken: boolean): App {
  const app = new App();
  const chart = new Chart(app, 'agents', { namespace: 'agents', disableResourceNameHashes: true });
  const labels = { 'app.kubernetes.io/name': 'planner', 'app.kubernetes.io/instance': 'planner' };
  new kplus.ServiceAccount(chart, 'sa', { metadata: { name: 'planner' }, automountToken: false });
  new ApiObject(chart, 'deployment', {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'planner', labels },
    spec: {
      replicas: 2,
      selector: { matchLabels: labels },
      template: {
        metadata: { labels },
        spec: {
          serviceAccountName: 'planner',
          securityContext: { runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } },
          containers: [
            {
              name: 'agent',
              image: 'ghcr.io/example/planner-agent:1.4.2',
              ports: [{ name: 'http', containerPort: 8080 }, { name: 'metrics', containerPort: 9464 }],
              securityContext: {
                allowPrivilegeEscalation: false,
                readOnlyRootFilesystem: true,
                capabilities: { drop: ['ALL'] },
                ...(broken ? { privileged: true } : {}),
              },
              resources: { requests: { cpu: '100m', memory: '256Mi' }, limits: { cpu: '500m', memory: '1Gi' } },
            },
          ],
        },
      },
    },
  });
  new ApiObject(chart, 'service', {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 'planner', labels },
    spec: { selector: labels, ports: [{ name: 'http', port: 8080, targetPort: 'http' }, { name: 'metrics', port: 9464, targetPort: 'metrics' }] },
  });
  const retries = { attempts: 2, perTryTimeout: '30s' };
  if (broken) {
    // An escape hatch with a typo: the API server would prune it silently (no per-try timeout).
    new ApiObject(chart, 'virtual-service', {
      apiVersion: 'networking.istio.io/v1',
      kind: 'VirtualService',
      metadata: { name: 'planner' },
      spec: { hosts: ['planner'], http: [{ route: [{ destination: { host: 'planner' } }], retries: { attempts: 2, perTryTimout: '30s' } }] },
    });
  } else {
    new VirtualService(chart, 'virtual-service', {
      metadata: { name: 'planner' },
      spec: { hosts: ['planner'], http: [{ route: [{ destination: { host: 'planner' } }], retries }] },
    });
  }
  new ServiceMonitor(chart, 'service-monitor', {
    metadata: { name: 'planner' },
    spec: { selector: { matchLabels: { 'app.kubernetes.io/name': 'planner' } }, endpoints: [{ port: 'metrics', interval: '30s' }] },
  });
  new PrometheusRule(chart, 'rules', {
    metadata: { name: 'planner' },
    spec: {
      groups: [
        {
          name: 'planner',
          rules: [
            {
              alert: 'AgentDown',
              expr: PrometheusRuleSpecGroupsRulesExpr.fromString('up{job="planner"} == 0'),
              for: broken ? '5 minutes' : '5m',
              labels: { severity: 'critical' },
              annotations: { summary: 'planner is down', description: 'no target up for 5m', runbook_url: 'https://example.com/runbooks/AgentDown' },
            },
          ],
        },
      ],
    },
  });
  return app;
}
