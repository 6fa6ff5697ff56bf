import { Chart, Testing } from 'cdk8s';
import { AgentService, AgentServiceProps } from '../constructs';
import { validateManifests } from '../testing';
import { buildApp } from '../main';

// Every object AgentService writes is checked with the package's one validator: kubernetes-models
// and the pinned CRD schemas (unknown fields are errors), the restricted Pod Security Standard,
// resources on every container, pinned images and naming limits.
const variants: Array<[string, Partial<AgentServiceProps>]> = [
  ['defaults', {}],
  ['fixed replicas, no sidecar', { replicas: 3, sidecar: false }],
  ['single replica', { replicas: 1 }],
  ['everything set', {
    port: 3000,
    env: { A: '1' },
    secretEnv: { KEY: { secretName: 'llm', key: 'k', optional: true } },
    resources: { requests: { cpu: '1', memory: '1G' }, limits: { cpu: '2500m', memory: '4Gi' } },
    healthCheck: { livenessPath: '/livez', readinessPath: '/readyz', startupPath: '/startz', port: 3001, startupTimeoutSeconds: 900 },
    serviceAccountName: 'shared',
    automountServiceAccountToken: true,
    labels: { 'example.com/team': 'a' },
    annotations: { 'example.com/owner': 'a' },
    terminationGracePeriodSeconds: 600,
    drainSeconds: 0,
    sidecar: { cacheMaxEntries: 10, cacheMaxBytes: 8 * 2 ** 20, redisUrl: 'redis://r:6379', resources: { limits: { memory: '128Mi' } } },
    slo: { availability: 99.9, latencyP95Seconds: 10 },
    canary: { image: 'ghcr.io/example/planner:2.0.0', replicas: 2 },
  }],
  ['KEDA in-flight, scale to zero', { autoscaling: { metric: 'inflight', scaleToZero: true, maxReplicas: 30 } }],
  ['digest image', { image: `ghcr.io/example/planner@sha256:${'0'.repeat(64)}` }],
];

describe('AgentService output is schema-valid and restricted-PSS clean', () => {
  test.each(variants)('%s', async (_name, props) => {
    const chart = new Chart(Testing.app(), 'multi-agents', { namespace: 'multi-agents', disableResourceNameHashes: true });
    new AgentService(chart, 'planner', { image: 'ghcr.io/example/planner:1.0.0', ...props });
    const result = await validateManifests(chart);
    expect(result.problems).toEqual([]);
    expect(result.objectCount).toBeGreaterThanOrEqual(3);
  });

  test('the validator is not blind: a privileged container and a pruned field are reported', async () => {
    const chart = new Chart(Testing.app(), 'multi-agents', { namespace: 'multi-agents', disableResourceNameHashes: true });
    new AgentService(chart, 'planner', { image: 'ghcr.io/example/planner:1.0.0' });
    const objects = Testing.synth(chart);
    const deployment = objects.find((o) => o.kind === 'Deployment');
    deployment.spec.template.spec.containers[0].securityContext.privileged = true;
    deployment.spec.template.spec.containers[0].securityContext.runAsNonRot = true;
    const result = await validateManifests(objects);
    expect(result.errors.map((p) => p.path)).toEqual(expect.arrayContaining([
      'spec.template.spec.containers[0].securityContext.privileged',
      'spec.template.spec.containers[0].securityContext.runAsNonRot',
    ]));
  });
});

test('every object synthesized by main.ts validates', async () => {
  const app = buildApp(Testing.app());
  const result = await validateManifests(app);
  expect(result.toString()).toMatch(/^OK: 0 errors/);
  expect(result.problems).toEqual([]);
});
