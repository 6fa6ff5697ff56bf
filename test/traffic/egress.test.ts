import { Chart, Testing } from 'cdk8s';
import { AgentService, MeshPolicy, MeshPolicyProps, redisTarget } from '../../constructs';
import { installJestMatchers, K8sObject, synthObjects, TrafficModel, trafficMatrix } from '../../testing';

installJestMatchers();

const ns = 'agents';
function system(mesh: Partial<MeshPolicyProps> = {}) {
  const chart = new Chart(Testing.app(), 'c', { namespace: ns });
  const planner = new AgentService(chart, 'planner', {
    image: 'ghcr.io/example/planner:1.0.0',
    models: { providers: [{ provider: 'openai', apiKey: { secretName: 'keys', key: 'openai' } }] },
  });
  const coder = new AgentService(chart, 'coder', { image: 'ghcr.io/example/coder:1.0.0', sidecar: { redisUrl: 'redis://agent-cache:6379' } });
  const critic = new AgentService(chart, 'critic', { image: 'ghcr.io/example/critic:1.0.0', sidecar: { redisUrl: 'rediss://cache.shared:6380' } });
  new MeshPolicy(chart, 'mesh', { services: [planner, coder, critic], calls: [[planner, coder], [coder, critic]], egress: { hosts: ['search.example.com'] }, ...mesh });
  const labels = { 'app.kubernetes.io/name': 'agent-cache' };
  const redisObjects: K8sObject[] = [
    { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'agent-cache', namespace: ns }, spec: { template: { metadata: { labels }, spec: { containers: [{ name: 'redis', ports: [{ containerPort: 6379 }] }] } } } },
    { apiVersion: 'v1', kind: 'Service', metadata: { name: 'agent-cache', namespace: ns }, spec: { selector: labels, ports: [{ name: 'tcp-redis', port: 6379 }] } },
  ];
  return [...synthObjects(chart).objects, ...redisObjects];
}

test('redisUrl becomes a dependency (cluster host) or an egress host (external name)', () => {
  expect(redisTarget('redis://agent-cache:6379', ns).dependency).toEqual({ kind: 'redis', service: 'agent-cache', namespace: ns, port: 6379, source: 'sidecar.redisUrl' });
  expect(redisTarget('rediss://:secret@cache.shared.svc.cluster.local', ns).dependency).toMatchObject({ service: 'cache', namespace: 'shared', port: 6379 });
  expect(redisTarget('rediss://my.cache.amazonaws.com:6380', ns).egressHost).toEqual({ host: 'my.cache.amazonaws.com', port: 6380, source: 'sidecar.redisUrl' });
  expect(redisTarget('redis://10.0.0.7:6379', ns)).toEqual({});
  const spec = new AgentService(Testing.chart(), 'a', { image: 'ghcr.io/x/a:1', sidecar: { redisUrl: 'redis://agent-cache:6379' } }).spec;
  expect(spec.dependencies.map((d) => `${d.kind} ${d.service}.${d.namespace}:${d.port}`)).toEqual(['redis agent-cache.default:6379']);
});

describe('per-agent egress', () => {
  const objects = system();
  const model = new TrafficModel(objects);

  test('an agent reaches its Redis, no other agent does', () => {
    expect(model).toAllowTraffic({ workload: 'coder' }, { service: 'agent-cache', port: 6379 });
    expect(model).toDenyTraffic({ workload: 'planner' }, { service: 'agent-cache', port: 6379 });
    expect(model).toDenyTraffic({ workload: 'critic' }, { service: 'agent-cache', port: 6379 });
    // The Redis pod is under the namespace's default deny too: it admits exactly its dependents.
    const ap = objects.find((o) => o.kind === 'AuthorizationPolicy' && o.metadata?.name === 'dependency-agent-cache') as any;
    expect(ap.spec.rules).toEqual([{ from: [{ source: { principals: [`cluster.local/ns/${ns}/sa/coder`] } }], to: [{ operation: { ports: ['6379'] } }] }]);
    const sidecar = objects.find((o) => o.kind === 'Sidecar' && o.metadata?.name === 'critic-sidecar') as any;
    expect(sidecar.spec.egress[0].hosts).toContain('shared/cache.shared.svc.cluster.local');
  });

  test('an agent reaches its own model provider and the namespace hosts only; anything else is blackholed', () => {
    expect(model).toAllowTraffic({ workload: 'planner' }, { host: 'api.openai.com' });
    expect(model).toDenyTraffic({ workload: 'coder' }, { host: 'api.openai.com' });
    for (const a of ['planner', 'coder', 'critic']) {
      expect(model).toAllowTraffic({ workload: a }, { host: 'search.example.com' });
      expect(model).toDenyTraffic({ workload: a }, { host: 'exfiltrate.example.com' });
    }
    expect(model.check({ workload: 'coder' }, { host: 'api.openai.com' }).reason).toMatch(/BlackHoleCluster/);
  });

  test('agent -> agent only on declared edges', () => {
    expect(trafficMatrix(model).calls).toEqual([{ caller: 'coder', callee: 'critic' }, { caller: 'planner', callee: 'coder' }]);
  });

  test('registryOnly: false lets unknown hosts through (ALLOW_ANY), and the model says so', () => {
    const open = system({ egress: { hosts: ['search.example.com'], registryOnly: false } });
    expect(open).toAllowTraffic({ workload: 'planner' }, { host: 'exfiltrate.example.com' });
    expect(open).toDenyTraffic({ workload: 'planner' }, { host: 'exfiltrate.example.com' }, { outboundTrafficPolicy: 'REGISTRY_ONLY' });
  });
});

test('the model catches a widened policy: all three layers must be widened for an undeclared call to pass', () => {
  const objects = JSON.parse(JSON.stringify(system())) as any[];
  const coderAllow = objects.find((o) => o.kind === 'AuthorizationPolicy' && o.metadata.name === 'coder-allow');
  coderAllow.spec.rules[0].from[0].source.principals = ['*'];
  expect(objects).toDenyTraffic({ workload: 'critic' }, { service: 'coder', port: 'http' });
  expect(new TrafficModel(objects).check({ workload: 'critic' }, { service: 'coder', port: 'http' }).steps.find((s) => s.layer === 'authorization')?.verdict).toBe('allow');
  const criticNp = objects.find((o) => o.kind === 'NetworkPolicy' && o.metadata.name === 'critic-allow');
  criticNp.spec.egress.push({ to: [{ podSelector: {} }] });
  const coderNp = objects.find((o) => o.kind === 'NetworkPolicy' && o.metadata.name === 'coder-allow');
  coderNp.spec.ingress.push({ from: [{ podSelector: {} }] });
  expect(objects).toDenyTraffic({ workload: 'critic' }, { service: 'coder', port: 'http' });
  const criticSidecar = objects.find((o) => o.kind === 'Sidecar' && o.metadata.name === 'critic-sidecar');
  criticSidecar.spec.egress[0].hosts.push('./*');
  expect(objects).toAllowTraffic({ workload: 'critic' }, { service: 'coder', port: 'http' });
  expect(trafficMatrix(new TrafficModel(objects)).calls).toContainEqual({ caller: 'critic', callee: 'coder' });
});
