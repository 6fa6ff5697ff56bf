import { Chart, Testing } from 'cdk8s';
import { AgentService, MeshPolicy, MeshPolicyProps, MonitoringStack } from '../../constructs';
import { installJestMatchers, synthObjects, TrafficModel, trafficMatrix } from '../../testing';

installJestMatchers();

// How Prometheus reaches the sidecar metrics port under STRICT mTLS, in both documented modes.
function system(mesh: Partial<MeshPolicyProps> = {}, meshTls?: boolean) {
  const chart = new Chart(Testing.app(), 'c', { namespace: 'agents' });
  const planner = new AgentService(chart, 'planner', { image: 'ghcr.io/example/planner:1.0.0' });
  const coder = new AgentService(chart, 'coder', { image: 'ghcr.io/example/coder:1.0.0' });
  new MeshPolicy(chart, 'mesh', { services: [planner, coder], calls: [[planner, coder]], ...mesh });
  const monitoring = new MonitoringStack(chart, 'monitoring', { services: [planner, coder], meshTls, prometheusConfig: true });
  return { objects: synthObjects(chart).objects, monitoring };
}

const prometheus = (mesh: 'sidecar' | 'certs' | 'none', namespace = 'monitoring') => ({ pod: { namespace, serviceAccount: 'prometheus', mesh, ip: '10.9.0.7' } });
const metrics = (service: string, method = 'GET', path = '/metrics') => ({ service, port: 'http-metrics', method, path });

describe('mTLS scrape with Istio certificates (the default of AgentSystem)', () => {
  const { objects, monitoring } = system({}, true);
  const model = new TrafficModel(objects);

  test('the ServiceMonitor and the plain scrape config present Istio certificate files', () => {
    const sm = objects.find((o) => o.kind === 'ServiceMonitor') as any;
    expect(sm.spec.endpoints[0]).toMatchObject({
      port: 'http-metrics',
      scheme: 'https',
      tlsConfig: { caFile: '/etc/prom-certs/root-cert.pem', certFile: '/etc/prom-certs/cert-chain.pem', keyFile: '/etc/prom-certs/key.pem', insecureSkipVerify: true },
    });
    expect(monitoring.scrapeConfigs[0]).toMatchObject({ scheme: 'https', tls_config: { cert_file: '/etc/prom-certs/cert-chain.pem' } });
    expect(objects.filter((o) => o.kind === 'PeerAuthentication').map((o) => o.metadata?.name)).toEqual(['agents-mtls']);
  });

  test('Prometheus with certificates or a sidecar scrapes GET /metrics; nothing else gets through', () => {
    for (const agent of ['planner', 'coder']) {
      expect(model).toAllowTraffic(prometheus('certs'), metrics(agent));
      expect(model).toAllowTraffic(prometheus('sidecar'), metrics(agent));
      expect(model).toDenyTraffic(prometheus('none'), metrics(agent));
      expect(model).toDenyTraffic(prometheus('certs'), metrics(agent, 'POST'));
      expect(model).toDenyTraffic(prometheus('certs'), metrics(agent, 'GET', '/v1/cache'));
      expect(model).toDenyTraffic(prometheus('certs', 'default'), metrics(agent));
      expect(model).toDenyTraffic(prometheus('certs'), { service: agent, port: 'http' });
    }
    expect(model.check(prometheus('none'), metrics('coder')).reason).toMatch(/STRICT .* sends plaintext/);
    expect(model).toDenyTraffic({ workload: 'planner' }, metrics('coder'));
  });
});

describe('which monitors the traffic matrix reads (prometheus-operator namespaceSelector)', () => {
  const outside = (objects: ReturnType<typeof system>['objects']) =>
    trafficMatrix(new TrafficModel(objects)).cells.filter((c) => c.kind === 'scrape' && c.from.startsWith('prometheus (outside')).map((c) => c.from);
  const withSelector = (namespaceSelector: object, namespace: string) =>
    system({}, true).objects.map((o) => (o.kind === 'ServiceMonitor' ? { ...o, metadata: { ...o.metadata, namespace }, spec: { ...(o as any).spec, namespaceSelector } } : o));

  test('an empty matchNames means the monitor\'s own namespace, as the operator reads it', () => {
    expect(outside(withSelector({ matchNames: [] }, 'agents'))).toEqual(Array(2).fill('prometheus (outside the mesh, Istio certificates)'));
    expect(outside(withSelector({ matchNames: [] }, 'monitoring'))).toEqual(Array(2).fill('prometheus (outside the mesh)'));
    expect(outside(withSelector({ matchNames: ['agents'] }, 'monitoring'))).toEqual(Array(2).fill('prometheus (outside the mesh, Istio certificates)'));
    expect(outside(withSelector({ any: true }, 'monitoring'))).toEqual(Array(2).fill('prometheus (outside the mesh, Istio certificates)'));
  });
});

describe('plaintext scrape through a PERMISSIVE metrics port (prometheus.plaintext)', () => {
  const { objects } = system({ prometheus: { plaintext: true } });
  const model = new TrafficModel(objects);

  test('a Prometheus outside the mesh scrapes GET /metrics from its namespace only', () => {
    for (const agent of ['planner', 'coder']) {
      expect(model).toAllowTraffic(prometheus('none'), metrics(agent));
      expect(model).toAllowTraffic(prometheus('sidecar'), metrics(agent));
      expect(model).toDenyTraffic(prometheus('none'), metrics(agent, 'POST'));
      expect(model).toDenyTraffic(prometheus('none'), metrics(agent, 'GET', '/v1/cache'));
      // The AuthorizationPolicy cannot tell namespaces apart without mTLS: the NetworkPolicy does.
      const d = model.check(prometheus('none', 'default'), metrics(agent));
      expect(d.allowed).toBe(false);
      expect(d.steps.find((s) => s.layer === 'network-ingress')?.verdict).toBe('deny');
      expect(model).toDenyTraffic(prometheus('none'), { service: agent, port: 'http' });
    }
    // Another agent is in the namespace but not in the monitoring namespace: refused.
    expect(model).toDenyTraffic({ workload: 'planner' }, metrics('coder'));
  });

  test('the port exception is per agent and covers only the metrics port', () => {
    const pas = objects.filter((o) => o.kind === 'PeerAuthentication') as any[];
    expect(pas.map((p) => p.metadata.name).sort()).toEqual(['agents-mtls', 'coder-metrics-plaintext', 'planner-metrics-plaintext']);
    expect(pas.find((p) => p.metadata.name === 'coder-metrics-plaintext').spec.portLevelMtls).toEqual({ 9464: { mode: 'PERMISSIVE' } });
    const ap = objects.find((o) => o.kind === 'AuthorizationPolicy' && o.metadata?.name === 'coder-allow') as any;
    expect(ap.spec.rules.at(-1)).toEqual({ to: [{ operation: { ports: ['9464'], methods: ['GET'], paths: ['/metrics'] } }] });
  });
});

test('the model catches the default mismatch: a STRICT mesh and a plain-HTTP ServiceMonitor', () => {
  const { objects } = system({}, false);
  const sm = objects.find((o) => o.kind === 'ServiceMonitor') as any;
  expect(sm.spec.endpoints[0].scheme).toBeUndefined();
  expect(objects).toDenyTraffic(prometheus('none'), metrics('planner'));
});
