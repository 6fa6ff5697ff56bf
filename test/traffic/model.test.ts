import { installJestMatchers, K8sObject, TrafficModel } from '../../testing';

installJestMatchers();

// A small cluster written by hand, so each Kubernetes/Istio rule is exercised on its own.
const ns = 'shop';
const deploy = (name: string, labels: Record<string, string>, ports: Array<{ name: string; containerPort: number }>, sa = name, annotations: Record<string, string> = {}): K8sObject => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name, namespace: ns },
  spec: { template: { metadata: { labels, annotations }, spec: { serviceAccountName: sa, containers: [{ name: 'main', ports }] } } },
});
const service = (name: string, selector: Record<string, string>, ports: Array<Record<string, unknown>>): K8sObject => ({
  apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: ns }, spec: { selector, ports },
});
const obj = (apiVersion: string, kind: string, name: string, spec: Record<string, unknown>, namespace = ns): K8sObject => ({ apiVersion, kind, metadata: { name, namespace }, spec });
const np = (name: string, spec: Record<string, unknown>) => obj('networking.k8s.io/v1', 'NetworkPolicy', name, spec);
const ap = (name: string, spec: Record<string, unknown>, namespace = ns) => obj('security.istio.io/v1', 'AuthorizationPolicy', name, spec, namespace);
const pa = (name: string, spec: Record<string, unknown>, namespace = ns) => obj('security.istio.io/v1', 'PeerAuthentication', name, spec, namespace);

const base: K8sObject[] = [
  deploy('api', { app: 'api' }, [{ name: 'http', containerPort: 8080 }, { name: 'metrics', containerPort: 9464 }]),
  deploy('web', { app: 'web' }, [{ name: 'http', containerPort: 3000 }]),
  deploy('batch', { app: 'batch' }, [], 'batch', { 'sidecar.istio.io/inject': 'false' }),
  service('api', { app: 'api' }, [
    { name: 'http', port: 80, targetPort: 'http' },
    { name: 'http-metrics', port: 9464, targetPort: 9464, appProtocol: 'http' },
    { name: 'tcp-raw', port: 7000, targetPort: 8080 },
  ]),
  pa('mtls', { mtls: { mode: 'STRICT' } }),
];
const web = { workload: 'web' };
const api = { service: 'api', port: 'http' } as const;
const prometheus = (mesh: 'sidecar' | 'certs' | 'none', namespace = 'monitoring') => ({ pod: { namespace, serviceAccount: 'prometheus', mesh, ip: '10.1.2.3' } });
const metrics = { service: 'api', port: 'http-metrics', path: '/metrics' } as const;

describe('Services', () => {
  test('an unknown Service, port or a Service without pods is denied with the reason', () => {
    const m = new TrafficModel(base);
    expect(m.check(web, { service: 'nope', port: 80 }).reason).toBe('no Service nope');
    expect(m.check(web, { service: 'api', port: 81 }).reason).toMatch(/has no port 81/);
    const orphan = new TrafficModel([...base, service('ghost', { app: 'ghost' }, [{ name: 'http', port: 80 }])]);
    expect(orphan.check(web, { service: 'ghost', port: 80 }).reason).toMatch(/selects no workload/);
  });

  test('no policy at all: allowed (mesh PERMISSIVE default, no isolation)', () => {
    const plain = base.filter((o) => o.kind !== 'PeerAuthentication');
    expect(plain).toAllowTraffic(web, api, { meshNamespaces: [ns] });
    expect(plain).toAllowTraffic({ pod: { namespace: 'other' } }, api, { meshNamespaces: [ns] });
  });
});

describe('NetworkPolicy', () => {
  test('default deny isolates both directions; a rule admits a pod selector on a named port', () => {
    const objects = [
      ...base,
      np('deny', { podSelector: {}, policyTypes: ['Ingress', 'Egress'] }),
      np('api-in', { podSelector: { matchLabels: { app: 'api' } }, ingress: [{ from: [{ podSelector: { matchLabels: { app: 'web' } } }], ports: [{ port: 'http', protocol: 'TCP' }] }] }),
    ];
    const d = new TrafficModel(objects).check(web, api);
    expect(d.allowed).toBe(false);
    expect(d.steps.find((s) => s.layer === 'network-egress')?.verdict).toBe('deny');
    expect(d.steps.find((s) => s.layer === 'network-ingress')?.verdict).toBe('allow');
    const withEgress = [...objects, np('web-out', { podSelector: { matchLabels: { app: 'web' } }, policyTypes: ['Egress'], egress: [{ to: [{ podSelector: { matchLabels: { app: 'api' } } }], ports: [{ port: 8080 }] }] })];
    expect(withEgress).toAllowTraffic(web, api);
    // Same port number, but the rule names the container port 'http': the metrics port is not admitted.
    expect(withEgress).toDenyTraffic(web, metrics);
  });

  test('policyTypes defaults to Ingress only when the policy has no egress section', () => {
    const objects = [...base, np('api-none', { podSelector: { matchLabels: { app: 'web' } } })];
    const d = new TrafficModel(objects).check(web, api);
    expect(d.steps.find((s) => s.layer === 'network-egress')?.verdict).toBe('allow');
  });

  test('namespaceSelector, namespaceSelector AND podSelector, and ipBlock with except', () => {
    const objects = [
      ...base,
      np('api-in', {
        podSelector: { matchLabels: { app: 'api' } },
        ingress: [
          { from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } }, podSelector: { matchLabels: { app: 'prometheus' } } }] },
          { from: [{ ipBlock: { cidr: '192.168.0.0/16', except: ['192.168.9.0/24'] } }] },
        ],
      }),
    ];
    const m = new TrafficModel(objects);
    const pod = (namespace: string, labels: Record<string, string>, ip?: string) => ({ pod: { namespace, labels, ip, mesh: 'sidecar' as const } });
    expect(m).toAllowTraffic(pod('monitoring', { app: 'prometheus' }), api);
    expect(m).toDenyTraffic(pod('monitoring', { app: 'grafana' }), api);
    expect(m).toDenyTraffic(pod('other', { app: 'prometheus' }), api);
    expect(m.check({ external: { ip: '192.168.1.1' } }, api).steps.find((s) => s.layer === 'network-ingress')?.verdict).toBe('allow');
    expect(m.check({ external: { ip: '192.168.9.1' } }, api).steps.find((s) => s.layer === 'network-ingress')?.verdict).toBe('deny');
  });
});

describe('PeerAuthentication', () => {
  test('STRICT refuses plaintext; a workload policy port exception is PERMISSIVE for that port only', () => {
    expect(base).toDenyTraffic(prometheus('none'), metrics);
    expect(base).toDenyTraffic({ workload: 'batch' }, api);
    const objects = [...base, pa('api-metrics', { selector: { matchLabels: { app: 'api' } }, portLevelMtls: { 9464: { mode: 'PERMISSIVE' } } })];
    expect(objects).toAllowTraffic(prometheus('none'), metrics);
    expect(objects).toDenyTraffic(prometheus('none'), api);
  });

  test('precedence: workload > namespace > mesh-wide root namespace; portLevelMtls needs a selector', () => {
    const noNs = base.filter((o) => o.kind !== 'PeerAuthentication');
    const meshWide = [...noNs, pa('default', { mtls: { mode: 'STRICT' } }, 'istio-system')];
    expect(meshWide).toDenyTraffic(prometheus('none'), metrics, { meshNamespaces: [ns] });
    const nsPermissive = [...meshWide, pa('ns', { mtls: { mode: 'PERMISSIVE' } })];
    expect(nsPermissive).toAllowTraffic(prometheus('none'), metrics, { meshNamespaces: [ns] });
    const workloadStrict = [...nsPermissive, pa('api', { selector: { matchLabels: { app: 'api' } }, mtls: { mode: 'STRICT' } })];
    expect(workloadStrict).toDenyTraffic(prometheus('none'), metrics, { meshNamespaces: [ns] });
    const ignoredPortLevel = [...base, pa('ns2', { portLevelMtls: { 9464: { mode: 'PERMISSIVE' } } })];
    expect(ignoredPortLevel).toDenyTraffic(prometheus('none'), metrics);
  });

  test('a client with Istio certificates speaks mTLS without a sidecar', () => {
    expect(base).toAllowTraffic(prometheus('certs'), metrics);
  });
});

describe('AuthorizationPolicy', () => {
  const allowMonitoring = ap('api-allow', {
    selector: { matchLabels: { app: 'api' } },
    rules: [{ from: [{ source: { namespaces: ['monitoring'] } }], to: [{ operation: { ports: ['9464'], methods: ['GET'], paths: ['/metrics'] } }] }],
  });

  test('ALLOW: a policy that applies must match; namespaces need mTLS', () => {
    const objects = [...base, allowMonitoring];
    expect(objects).toAllowTraffic(prometheus('sidecar'), metrics);
    expect(objects).toDenyTraffic(prometheus('sidecar'), { ...metrics, method: 'POST' });
    expect(objects).toDenyTraffic(prometheus('sidecar'), { ...metrics, path: '/debug' });
    expect(objects).toDenyTraffic(prometheus('sidecar', 'other'), metrics);
    // Plaintext through a PERMISSIVE port: no namespace to match.
    const permissive = [...objects, pa('api-metrics', { selector: { matchLabels: { app: 'api' } }, portLevelMtls: { 9464: { mode: 'PERMISSIVE' } } })];
    const d = new TrafficModel(permissive).check(prometheus('none'), metrics);
    expect(d.allowed).toBe(false);
    expect(d.reason).toMatch(/plaintext client/);
    expect(d.decidedBy).toEqual(['AuthorizationPolicy/shop/api-allow']);
  });

  test('an empty ALLOW policy denies everything; rules: [{}] allows everything', () => {
    expect([...base, ap('deny-all', {})]).toDenyTraffic(web, api);
    expect([...base, ap('deny-all', {}), ap('all', { rules: [{}] })]).toAllowTraffic(web, api);
  });

  test('DENY wins over ALLOW, notPrincipals matches plaintext, mesh-wide root policies apply', () => {
    const denyWeb = ap('deny-web', { action: 'DENY', rules: [{ from: [{ source: { principals: ['cluster.local/ns/shop/sa/web'] } }] }] });
    expect([...base, ap('all', { rules: [{}] }), denyWeb]).toDenyTraffic(web, api);
    const d = new TrafficModel([...base, denyWeb]).check(web, api);
    expect(d.decidedBy).toEqual(['AuthorizationPolicy/shop/deny-web']);
    const requireIdentity = ap('require-mtls', { action: 'DENY', rules: [{ from: [{ source: { notPrincipals: ['*'] } }] }] }, 'istio-system');
    const permissive = [...base.filter((o) => o.kind !== 'PeerAuthentication'), requireIdentity];
    expect(permissive).toDenyTraffic(prometheus('none'), metrics, { meshNamespaces: [ns] });
    expect(permissive).toAllowTraffic(prometheus('sidecar'), metrics, { meshNamespaces: [ns] });
  });

  test('HTTP-only fields: an ALLOW rule never matches a TCP port, a DENY rule drops them', () => {
    const raw = { service: 'api', port: 'tcp-raw' } as const;
    expect([...base, ap('a', { rules: [{ to: [{ operation: { ports: ['8080'], methods: ['GET'] } }] }] })]).toDenyTraffic(web, raw);
    expect([...base, ap('a', { rules: [{ to: [{ operation: { ports: ['8080'] } }] }] })]).toAllowTraffic(web, raw);
    expect([...base, ap('d', { action: 'DENY', rules: [{ to: [{ operation: { methods: ['DELETE'] } }] }] })]).toDenyTraffic(web, raw);
    expect([...base, ap('d', { action: 'DENY', rules: [{ to: [{ operation: { methods: ['DELETE'] } }] }] })]).toAllowTraffic(web, api);
  });

  test('a pod without a sidecar is not subject to Istio policies', () => {
    const objects = [...base, deploy('legacy', { app: 'legacy' }, [{ name: 'http', containerPort: 80 }], 'legacy', { 'sidecar.istio.io/inject': 'false' }), service('legacy', { app: 'legacy' }, [{ name: 'http', port: 80 }]), ap('deny-all', {})];
    expect(objects).toAllowTraffic(web, { service: 'legacy', port: 80 });
  });
});

describe('egress', () => {
  const se = (name: string, hosts: string[], exportTo?: string[]) => obj('networking.istio.io/v1', 'ServiceEntry', name, { hosts, ports: [{ number: 443, name: 'tls', protocol: 'TLS' }], location: 'MESH_EXTERNAL', resolution: 'DNS', exportTo });
  const lock = obj('networking.istio.io/v1', 'Sidecar', 'lock', { outboundTrafficPolicy: { mode: 'REGISTRY_ONLY' } });

  test('REGISTRY_ONLY: only ServiceEntry hosts exported to the namespace; ALLOW_ANY passes the rest through', () => {
    const objects = [...base, lock, se('openai', ['api.openai.com']), se('elsewhere', ['api.anthropic.com'], ['.'])];
    expect(objects).toAllowTraffic(web, { host: 'api.openai.com' });
    expect(objects).toDenyTraffic(web, { host: 'evil.example.com' });
    expect(objects).toAllowTraffic(web, { host: 'api.anthropic.com' });
    const foreign = [...base, lock, obj('networking.istio.io/v1', 'ServiceEntry', 'x', { hosts: ['api.anthropic.com'], ports: [{ number: 443, name: 'tls', protocol: 'TLS' }], exportTo: ['.'] }, 'team-b')];
    expect(foreign).toDenyTraffic(web, { host: 'api.anthropic.com' });
    expect(base).toAllowTraffic(web, { host: 'evil.example.com' });
    expect(base).toDenyTraffic(web, { host: 'evil.example.com' }, { outboundTrafficPolicy: 'REGISTRY_ONLY' });
  });

  test('Sidecar egress hosts narrow the registry per workload; the workload Sidecar wins over the namespace one', () => {
    const perWorkload = obj('networking.istio.io/v1', 'Sidecar', 'web', {
      workloadSelector: { labels: { app: 'web' } },
      egress: [{ hosts: ['./api.openai.com', 'istio-system/*'] }],
      outboundTrafficPolicy: { mode: 'REGISTRY_ONLY' },
    });
    const objects = [...base, lock, perWorkload, se('openai', ['api.openai.com']), se('anthropic', ['api.anthropic.com'])];
    expect(objects).toAllowTraffic(web, { host: 'api.openai.com' });
    expect(objects).toDenyTraffic(web, { host: 'api.anthropic.com' });
    // The Service api is not imported by web's Sidecar: REGISTRY_ONLY blackholes it.
    expect(objects).toDenyTraffic(web, api);
    expect(objects).toAllowTraffic({ workload: 'api' }, { host: 'api.anthropic.com' });
  });

  test('ALLOW_ANY passthrough to a Service that is not imported loses mTLS, so STRICT refuses it', () => {
    const sc = obj('networking.istio.io/v1', 'Sidecar', 'web', { workloadSelector: { labels: { app: 'web' } }, egress: [{ hosts: ['./nothing.example'] }] });
    const d = new TrafficModel([...base, sc]).check(web, api);
    expect(d.allowed).toBe(false);
    expect(d.reason).toMatch(/PassthroughCluster/);
  });

  test('NetworkPolicy egress to external hosts needs an ipBlock that covers the address', () => {
    const objects = [...base, np('web-out', { podSelector: { matchLabels: { app: 'web' } }, policyTypes: ['Egress'], egress: [{ to: [{ ipBlock: { cidr: '0.0.0.0/0', except: ['10.0.0.0/8'] } }], ports: [{ port: 443 }] }] })];
    expect(objects).toAllowTraffic(web, { host: 'api.openai.com' });
    expect(objects).toDenyTraffic(web, { host: 'api.openai.com', port: 8443 });
    expect(objects).toDenyTraffic(web, { host: 'internal.example' }, { externalHostIp: '10.0.0.5' });
  });
});

test('matcher messages explain the decision', () => {
  let message = '';
  try {
    expect(base).toAllowTraffic(prometheus('none'), metrics);
  } catch (e) {
    message = (e as Error).message;
  }
  expect(message).toContain('expected monitoring/prometheus (none) -> api:http-metrics GET /metrics to be allowed; the model denies it');
  expect(message).toContain('deny  mtls');
});
