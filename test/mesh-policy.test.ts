import { Chart, Testing } from 'cdk8s';
import { AgentService, AgentServiceProps } from '../constructs/agent-service';
import { MeshPolicy, MeshPolicyProps } from '../constructs/mesh-policy';
import { PropsValidationError } from '../constructs/validation';
import { MultiAgentChart } from '../main';
import { selectorMatches, validateManifests } from '../testing';

const NS = 'multi-agents';
const MESH_KINDS = ['VirtualService', 'DestinationRule', 'PeerAuthentication', 'AuthorizationPolicy', 'NetworkPolicy', 'Telemetry', 'ServiceEntry', 'Sidecar'];

interface System {
  chart: Chart;
  mesh: MeshPolicy;
  planner: AgentService;
  researcher: AgentService;
  coder: AgentService;
  critic: AgentService;
}

/** The example system: planner -> researcher, coder (coder has a canary Deployment); critic is outside the mesh. */
function system(meshProps: Partial<MeshPolicyProps> = {}, opts: { coder?: Partial<AgentServiceProps>; declareCalls?: boolean } = {}): System {
  const app = Testing.app();
  const chart = new Chart(app, NS, { namespace: NS, disableResourceNameHashes: true });
  const planner = new AgentService(chart, 'planner', { image: 'ghcr.io/example/planner-agent:1.4.2', autoscaling: { minReplicas: 2, maxReplicas: 6 } });
  const researcher = new AgentService(chart, 'researcher', { image: 'ghcr.io/example/researcher-agent:2.0.1', maxConcurrentRequests: 4 });
  const coder = new AgentService(chart, 'coder', {
    image: 'ghcr.io/example/coder-agent:0.9.0',
    replicas: 3,
    canary: { image: 'ghcr.io/example/coder-agent:1.0.0-rc.1' },
    ...opts.coder,
  });
  const critic = new AgentService(chart, 'critic', { image: 'ghcr.io/example/critic-agent:1.0.0' });
  const mesh = new MeshPolicy(chart, 'mesh', { services: [planner, researcher, coder], ...meshProps });
  if (opts.declareCalls !== false) mesh.allow(planner, [researcher, coder]);
  return { chart, mesh, planner, researcher, coder, critic };
}

const synth = (s: System) => Testing.synth(s.chart);
const meshObjects = (objects: any[]) => objects.filter((o) => MESH_KINDS.includes(o.kind));
const one = (objects: any[], kind: string, name: string) => {
  const found = objects.filter((o) => o.kind === kind && o.metadata.name === name);
  expect(found).toHaveLength(1);
  return found[0];
};

/** Runs fn with stderr muted (MeshPolicy prints its warnings there). */
function quietly<T>(fn: () => T): T {
  const write = jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
  try {
    return fn();
  } finally {
    write.mockRestore();
  }
}

/** Builds a system and returns the error message (fails the test when nothing is thrown). */
function errorOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(PropsValidationError);
    return (e as Error).message;
  }
  throw new Error('expected a PropsValidationError');
}

describe('MeshPolicy in the example system', () => {
  const s = system({ agents: { coder: { canary: { weight: 10 } } } });
  const objects = synth(s);
  const mesh = meshObjects(objects);

  test('snapshot', () => {
    expect(mesh).toMatchSnapshot();
  });

  test('stable human names, all in the agents namespace', () => {
    expect(mesh.map((o) => `${o.kind}/${o.metadata.name}`).sort()).toEqual([
      'AuthorizationPolicy/coder-allow',
      'AuthorizationPolicy/default-deny',
      'AuthorizationPolicy/planner-allow',
      'AuthorizationPolicy/researcher-allow',
      'DestinationRule/coder',
      'DestinationRule/planner',
      'DestinationRule/researcher',
      'NetworkPolicy/coder-allow',
      'NetworkPolicy/default-deny',
      'NetworkPolicy/planner-allow',
      'NetworkPolicy/researcher-allow',
      'PeerAuthentication/multi-agents-mtls',
      'Sidecar/coder-sidecar',
      'Sidecar/planner-sidecar',
      'Sidecar/researcher-sidecar',
      'Telemetry/multi-agents-telemetry',
      'VirtualService/coder',
      'VirtualService/planner',
      'VirtualService/researcher',
    ]);
    for (const o of mesh) {
      expect(o.metadata.namespace).toBe(NS);
      expect(o.metadata.labels).toMatchObject({ 'app.kubernetes.io/managed-by': 'cdk8s-agents', 'app.kubernetes.io/part-of': 'multi-agents' });
    }
    // Istio objects use the v1 APIs.
    for (const o of mesh.filter((m) => m.kind !== 'NetworkPolicy')) expect(o.apiVersion).toMatch(/\.istio\.io\/v1$/);
  });

  test('deterministic output', () => {
    expect(synth(system({ agents: { coder: { canary: { weight: 10 } } } }))).toEqual(objects);
  });

  test('the edges are exposed for other constructs', () => {
    expect(s.mesh.edges).toEqual([{ caller: 'planner', callee: 'coder' }, { caller: 'planner', callee: 'researcher' }]);
  });
});

describe('schema validity (cdk8s-agents/testing validateManifests)', () => {
  test('default mesh objects are valid, with no unknown fields', async () => {
    const result = await validateManifests(synth(system()));
    expect(result.errors).toEqual([]);
  });

  test('every option at once is valid', async () => {
    const s = quietly(() => system({
      agents: {
        planner: {
          timeout: '600s',
          retries: { attempts: 3, perTryTimeout: '200s', retryOn: 'connect-failure,reset,503' },
          sessionAffinityHeader: 'x-conversation-id',
          connectionPool: { maxConnections: 50, maxRequests: 40, maxPendingRequests: 5, maxRetries: 3, connectTimeout: '5s', idleTimeout: '15m' },
          outlierDetection: { consecutiveGatewayErrors: 3, interval: '10s', baseEjectionTime: '1m', maxEjectionPercent: 30, minHealthPercent: 50 },
          routes: [
            { name: 'planner-batch', uriPrefix: '/v1/batch', timeout: '30m', retries: false },
            { headers: { 'x-debug': { prefix: 'on' }, 'x-tenant': 'acme' }, uriPrefix: '/v1/plan' },
          ],
        },
        researcher: { loadBalancer: 'random', outlierDetection: false, fault: { delay: { fixedDelay: '5s', percentage: 10 }, abort: { httpStatus: 503, percentage: 2.5 } } },
        coder: {
          loadBalancer: { strategy: 'weighted', weights: { '0.9.0': 75, '1.0.0-rc.1': 25 } },
          routes: [{ name: 'coder-canary-pin', headers: { 'x-agent-track': 'canary' }, subset: 'canary' }],
        },
      },
      mtlsMode: 'PERMISSIVE',
      trustDomain: 'prod.example.com',
      prometheus: { plaintextFrom: ['10.42.0.0/16'] },
      telemetry: { tracing: { provider: 'tempo', samplingPercentage: 100 }, accessLogging: { provider: 'otel-als', filter: 'response.code >= 400' } },
      egress: { hosts: ['api.openai.com', { host: 'api.anthropic.com', port: 8443 }], registryOnly: true },
      networkPolicy: { dnsNamespace: 'kube-dns', istioNamespace: 'istio', externalCidrs: ['0.0.0.0/0'], externalExcept: [] },
    }));
    s.mesh.allowIngress(s.planner, { namespaces: ['istio-ingress'], principals: ['prod.example.com/ns/web/sa/frontend'] });
    const objects = synth(s);
    expect(meshObjects(objects).map((o) => o.kind)).toEqual(expect.arrayContaining(['ServiceEntry', 'Sidecar', 'PeerAuthentication', 'Telemetry']));
    const result = await validateManifests(objects);
    expect(result.errors).toEqual([]);
  });

  test('the validator used here does catch an unknown field in a mesh object', async () => {
    const objects = JSON.parse(JSON.stringify(synth(system())));
    one(objects, 'VirtualService', 'planner').spec.http[0].retries.perTryTimout = '10s';
    const result = await validateManifests(objects);
    expect(result.errors.map((e) => `${e.rule} ${e.object} ${e.path}`)).toEqual([
      'schema/unknown-field VirtualService/multi-agents/planner spec.http[0].retries.perTryTimout',
    ]);
  });
});

describe('VirtualService', () => {
  test('defaults suit long agent calls: 300s timeout, 2 retries on failures without side effects, each try may use the whole timeout', () => {
    const vs = one(synth(system()), 'VirtualService', 'researcher');
    expect(vs.spec).toEqual({
      hosts: ['researcher.multi-agents.svc.cluster.local'],
      http: [{
        name: 'researcher',
        match: [{ port: 8080 }],
        route: [{ destination: { host: 'researcher.multi-agents.svc.cluster.local', subset: 'stable', port: { number: 8080 } } }],
        timeout: '300s',
        retries: { attempts: 2, perTryTimeout: '300s', retryOn: 'connect-failure,refused-stream,unavailable,cancelled,503' },
      }],
    });
    expect(vs.spec.http[0].retries.retryOn).not.toMatch(/(^|,)(5xx|gateway-error|reset)(,|$)/);
  });

  test('an agent with a canary Deployment but no mesh canary sends everything to stable', () => {
    const vs = one(synth(system()), 'VirtualService', 'coder');
    expect(vs.spec.http[0].route).toEqual([{ destination: { host: 'coder.multi-agents.svc.cluster.local', subset: 'stable', port: { number: 8080 } } }]);
  });

  test('canary { weight } splits stable/canary; version may be given and must match', () => {
    for (const canary of [{ weight: 20 }, { version: '1.0.0-rc.1', weight: 20 }]) {
      const vs = one(synth(system({ agents: { coder: { canary } } })), 'VirtualService', 'coder');
      expect(vs.spec.http[0].route.map((r: any) => [r.destination.subset, r.weight])).toEqual([['stable', 80], ['canary', 20]]);
    }
  });

  test('the default per-try timeout follows the route timeout', () => {
    const vs = one(synth(system({ agents: { planner: { timeout: '45s' } } })), 'VirtualService', 'planner');
    expect(vs.spec.http[0]).toMatchObject({ timeout: '45s', retries: { attempts: 2, perTryTimeout: '45s' } });
  });

  test('routes on headers and URI prefix come first, each with its own subset, timeout, retries and fault', () => {
    const vs = one(synth(system({
      agents: {
        coder: {
          canary: { weight: 5 },
          timeout: '120s',
          fault: { delay: { fixedDelay: '2s', percentage: 50 } },
          routes: [
            { name: 'pin-canary', headers: { 'x-agent-track': 'canary' }, subset: 'canary' },
            { uriPrefix: '/v1/long', timeout: '20m', retries: { attempts: 1, perTryTimeout: '10m', retryOn: 'gateway-error,connect-failure' }, fault: { abort: { httpStatus: 500, percentage: 1 } } },
          ],
        },
      },
    }, { coder: { terminationGracePeriodSeconds: 1300 } })), 'VirtualService', 'coder');
    const [pin, long, dflt] = vs.spec.http;
    expect(vs.spec.http).toHaveLength(3);
    expect(pin).toMatchObject({
      name: 'pin-canary',
      match: [{ port: 8080, headers: { 'x-agent-track': { exact: 'canary' } } }],
      route: [{ destination: { subset: 'canary' } }],
      timeout: '120s',
      fault: { delay: { fixedDelay: '2s', percentage: { value: 50 } } },
    });
    expect(pin.route[0].weight).toBeUndefined();
    expect(long).toMatchObject({
      name: 'coder-route-1',
      match: [{ port: 8080, uri: { prefix: '/v1/long' } }],
      timeout: '20m',
      retries: { attempts: 1, perTryTimeout: '10m', retryOn: 'gateway-error,connect-failure' },
      fault: { abort: { httpStatus: 500, percentage: { value: 1 } } },
    });
    expect(long.route.map((r: any) => r.weight)).toEqual([95, 5]);
    expect(dflt).toMatchObject({ name: 'coder', match: [{ port: 8080 }], timeout: '120s' });
    expect(dflt.match[0].headers).toBeUndefined();
  });

  test('a per-try timeout shorter than the timeout that nothing retries is a warning: the call would just fail early', () => {
    const s = quietly(() => system({ agents: { planner: { retries: { perTryTimeout: '60s' } }, researcher: { retries: { perTryTimeout: '60s', retryOn: 'reset,connect-failure' } } } }));
    expect(s.mesh.warnings).toEqual([
      'agents.planner.retries.perTryTimeout (60s) is shorter than timeout (300s) but retryOn "connect-failure,refused-stream,unavailable,cancelled,503" does not retry a timed-out try (add 5xx, gateway-error, reset, 504): calls fail after 60s',
    ]);
  });

  test('a timeout longer than a terminating pod has to finish its calls is a warning', () => {
    const s = quietly(() => system({ agents: { coder: { timeout: '250s' }, planner: { routes: [{ uriPrefix: '/batch', timeout: '1h' }] } } }, { coder: { terminationGracePeriodSeconds: 300 } }));
    expect(s.mesh.warnings).toEqual([
      'agents.planner.routes[0].timeout (1h) is longer than a terminating pod has to finish calls (terminationGracePeriodSeconds 330 - drainSeconds 15 = 315s): raise terminationGracePeriodSeconds on multi-agents/planner or calls are cut during rollouts',
    ]);
  });

  test('the default 300 s route timeout counts too: terminationGracePeriodSeconds 300 with the 15 s drain is a warning', () => {
    const s = quietly(() => system({}, { coder: { terminationGracePeriodSeconds: 300 } }));
    expect(s.mesh.warnings).toEqual([
      'agents.coder.timeout (300s, the default route timeout) is longer than a terminating pod has to finish calls (terminationGracePeriodSeconds 300 - drainSeconds 15 = 285s): raise terminationGracePeriodSeconds on multi-agents/coder or calls are cut during rollouts',
    ]);
    // The defaults (330 s grace) leave room for the default timeout plus the drain.
    expect(quietly(() => system()).mesh.warnings).toEqual([]);
  });

  test('retries: false (or attempts 0) disables retries explicitly', () => {
    for (const retries of [false as const, { attempts: 0 }]) {
      const vs = one(synth(system({ agents: { planner: { retries } } })), 'VirtualService', 'planner');
      expect(vs.spec.http[0].retries).toEqual({ attempts: 0 });
    }
  });
});

describe('DestinationRule', () => {
  test.each([
    ['round_robin', 'ROUND_ROBIN'],
    ['least_loaded', 'LEAST_REQUEST'],
    ['random', 'RANDOM'],
  ] as const)('strategy %s -> %s', (strategy, simple) => {
    const dr = one(synth(system({ agents: { researcher: { loadBalancer: strategy } } })), 'DestinationRule', 'researcher');
    expect(dr.spec.trafficPolicy.loadBalancer).toEqual({ simple });
  });

  test('default strategy is least_loaded (LEAST_REQUEST), the reference design default', () => {
    const dr = one(synth(system()), 'DestinationRule', 'planner');
    expect(dr.spec.trafficPolicy.loadBalancer).toEqual({ simple: 'LEAST_REQUEST' });
  });

  test('weighted -> subset weights in the VirtualService, least request inside each subset', () => {
    const objects = synth(system({ agents: { coder: { loadBalancer: { strategy: 'weighted', weights: { '0.9.0': 70, '1.0.0-rc.1': 30 } } } } }));
    expect(one(objects, 'DestinationRule', 'coder').spec.trafficPolicy.loadBalancer).toEqual({ simple: 'LEAST_REQUEST' });
    expect(one(objects, 'VirtualService', 'coder').spec.http[0].route.map((r: any) => [r.destination.subset, r.weight])).toEqual([['stable', 70], ['canary', 30]]);
  });

  test('session affinity: consistent hash on a header (no simple strategy, Istio allows one of them)', () => {
    const dr = one(synth(system({ agents: { planner: { sessionAffinityHeader: 'x-conversation-id' } } })), 'DestinationRule', 'planner');
    expect(dr.spec.trafficPolicy.loadBalancer).toEqual({ consistentHash: { httpHeaderName: 'x-conversation-id' } });
  });

  test('connection pool from the per-instance capacity (maxConcurrentRequests) times replicas', () => {
    const objects = synth(system());
    // researcher: 4 per replica x 10 max replicas (HPA default); coder: 10 x (3 fixed + 1 canary); planner: 10 x 6.
    expect(one(objects, 'DestinationRule', 'researcher').spec.trafficPolicy.connectionPool).toEqual({ tcp: { maxConnections: 40 }, http: { http2MaxRequests: 40, http1MaxPendingRequests: 4 } });
    expect(one(objects, 'DestinationRule', 'coder').spec.trafficPolicy.connectionPool.http.http2MaxRequests).toBe(40);
    expect(one(objects, 'DestinationRule', 'planner').spec.trafficPolicy.connectionPool.http.http2MaxRequests).toBe(60);
  });

  test('outlier detection uses the current field names, ISTIO_MUTUAL TLS', () => {
    const objects = synth(system());
    for (const dr of objects.filter((o) => o.kind === 'DestinationRule')) {
      expect(dr.spec.trafficPolicy.outlierDetection).toEqual({ consecutive5xxErrors: 5, interval: '30s', baseEjectionTime: '30s', maxEjectionPercent: 50, minHealthPercent: 30 });
      expect(dr.spec.trafficPolicy.tls).toEqual({ mode: 'ISTIO_MUTUAL' });
    }
    expect(JSON.stringify(objects)).not.toContain('consecutiveErrors');
  });

  test('outlierDetection: false removes it', () => {
    const dr = one(synth(system({ agents: { planner: { outlierDetection: false } } })), 'DestinationRule', 'planner');
    expect(dr.spec.trafficPolicy.outlierDetection).toBeUndefined();
  });

  test('subsets select exactly the stable and the canary pods', () => {
    const objects = synth(system());
    const dr = one(objects, 'DestinationRule', 'coder');
    const pods = (name: string) => one(objects, 'Deployment', name).spec.template.metadata.labels;
    const selects = (subset: string) => ['coder', 'coder-canary'].filter((d) => {
      const s = dr.spec.subsets.find((x: any) => x.name === subset);
      return selectorMatches({ matchLabels: { ...s.labels, 'app.kubernetes.io/name': 'coder' } }, pods(d));
    });
    expect(selects('stable')).toEqual(['coder']);
    expect(selects('canary')).toEqual(['coder-canary']);
    expect(one(objects, 'DestinationRule', 'planner').spec.subsets).toEqual([{ name: 'stable', labels: { 'app.kubernetes.io/version': '1.4.2' } }]);
  });
});

describe('mTLS', () => {
  test('STRICT for the namespace by default', () => {
    const s = system();
    expect(one(synth(s), 'PeerAuthentication', 'multi-agents-mtls').spec).toEqual({ mtls: { mode: 'STRICT' } });
    expect(s.mesh.warnings).toEqual([]);
  });

  test('PERMISSIVE for migrations, with a warning', () => {
    const write = jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      const s = system({ mtlsMode: 'PERMISSIVE' });
      expect(one(synth(s), 'PeerAuthentication', 'multi-agents-mtls').spec).toEqual({ mtls: { mode: 'PERMISSIVE' } });
      expect(s.mesh.warnings).toEqual([expect.stringContaining('PERMISSIVE')]);
      expect(write).toHaveBeenCalledWith(expect.stringContaining('[WARNING] multi-agents/mesh: mtlsMode is PERMISSIVE'));
    } finally {
      write.mockRestore();
    }
  });
});

/**
 * Reads the AuthorizationPolicies back from the YAML and lists every allowed (source, target, port):
 * sources are agents (principal -> service account -> agent), `ns:<namespace>`, `principal:<p>` or
 * `ip:<cidr>`; targets are the agents whose pods the policy selects.
 */
function allowedFromYaml(objects: any[]): string[] {
  const deployments = objects.filter((o) => o.kind === 'Deployment');
  const agentOfPods = (selector: any) =>
    [...new Set(deployments.filter((d) => selectorMatches(selector, d.spec.template.metadata.labels)).map((d) => d.spec.template.metadata.labels['app.kubernetes.io/name']))];
  const saToAgent = new Map(deployments.map((d) => [`${d.metadata.namespace}/${d.spec.template.spec.serviceAccountName}`, d.spec.template.metadata.labels['app.kubernetes.io/name']]));
  const out = new Set<string>();
  for (const ap of objects.filter((o) => o.kind === 'AuthorizationPolicy')) {
    const action = ap.spec.action ?? 'ALLOW';
    expect(action).toBe('ALLOW');
    if (!ap.spec.selector) {
      // The only namespace-wide ALLOW policy is the allow-nothing default deny.
      expect(ap.spec).toEqual({});
      continue;
    }
    const targets = agentOfPods(ap.spec.selector);
    for (const rule of ap.spec.rules ?? []) {
      expect(rule.when).toBeUndefined();
      expect(rule.from).toBeDefined();
      expect(rule.to).toBeDefined();
      const sources: string[] = [];
      for (const f of rule.from) {
        const src = f.source;
        // One positive field per source: a not* field or an AND of fields would widen or hide access.
        expect(Object.keys(src)).toHaveLength(1);
        expect(['principals', 'namespaces', 'ipBlocks']).toContain(Object.keys(src)[0]);
        for (const p of src.principals ?? []) {
          const m = /^(.+)\/ns\/([^/]+)\/sa\/([^/]+)$/.exec(p);
          const agent = m && saToAgent.get(`${m[2]}/${m[3]}`);
          sources.push(agent ? `agent:${agent}` : `principal:${p}`);
        }
        for (const n of src.namespaces ?? []) sources.push(`ns:${n}`);
        for (const ip of src.ipBlocks ?? []) sources.push(`ip:${ip}`);
      }
      for (const t of rule.to) {
        const op = t.operation;
        expect(op.ports?.length).toBeGreaterThan(0);
        for (const k of Object.keys(op)) expect(['ports', 'methods', 'paths']).toContain(k);
        const what = op.paths ? ` ${op.methods.join('|')} ${op.paths.join('|')}` : '';
        for (const src of sources) for (const target of targets) for (const port of op.ports) out.add(`${src} -> ${target}:${port}${what}`);
      }
    }
  }
  return [...out].sort();
}

describe('AuthorizationPolicy: zero trust from the declared call graph', () => {
  const scrapes = ['coder', 'planner', 'researcher'].map((a) => `ns:monitoring -> ${a}:9464 GET /metrics`);

  test('allows exactly the declared edges plus the Prometheus scrapes, and nothing else', () => {
    expect(allowedFromYaml(synth(system()))).toEqual([
      'agent:planner -> coder:9466',
      'agent:planner -> researcher:9466',
      ...scrapes,
    ].sort());
  });

  test('a default deny for the namespace', () => {
    expect(one(synth(system()), 'AuthorizationPolicy', 'default-deny').spec).toEqual({});
  });

  test('edges from props, allow() and allowIngress() all count; the critic outside the mesh gets nothing', () => {
    const none = system({}, { declareCalls: false });
    expect(allowedFromYaml(synth(none))).toEqual(scrapes);
    const s3 = system({}, { declareCalls: false });
    s3.mesh.allow(s3.researcher, s3.coder).allow(s3.coder, [s3.researcher]);
    s3.mesh.allowIngress(s3.planner, { namespaces: ['istio-ingress'], principals: ['cluster.local/ns/web/sa/frontend'] });
    expect(allowedFromYaml(synth(s3))).toEqual([
      'agent:coder -> researcher:9466',
      'agent:researcher -> coder:9466',
      'ns:istio-ingress -> planner:9466',
      'principal:cluster.local/ns/web/sa/frontend -> planner:9466',
      ...scrapes,
    ].sort());
  });

  test('calls in props', () => {
    const app = Testing.app();
    const chart = new Chart(app, NS, { namespace: NS, disableResourceNameHashes: true });
    const a = new AgentService(chart, 'a', { image: 'ghcr.io/example/a:1.0.0', sidecar: false });
    const b = new AgentService(chart, 'b', { image: 'ghcr.io/example/b:1.0.0', sidecar: false, serviceAccountName: 'shared-sa' });
    new MeshPolicy(chart, 'mesh', { services: [a, b], calls: [[a, b], [b, a], [a, b]] });
    const objects = Testing.synth(chart);
    // No sidecar: no metrics port, no scrape rule.
    expect(allowedFromYaml(objects)).toEqual(['agent:a -> b:8080', 'agent:b -> a:8080']);
    expect(one(objects, 'AuthorizationPolicy', 'a-allow').spec.rules[0].from[0].source.principals).toEqual(['cluster.local/ns/multi-agents/sa/shared-sa']);
  });

  describe('agent tools are call graph edges', () => {
    const build = (planner: Partial<AgentServiceProps>, docsPort?: number, inMesh = true) => {
      const app = Testing.app();
      const chart = new Chart(app, NS, { namespace: NS, disableResourceNameHashes: true });
      const a = new AgentService(chart, 'planner', { image: 'ghcr.io/example/planner:1.0.0', sidecar: false, ...planner });
      const docs = new AgentService(chart, 'docs-mcp', { image: 'ghcr.io/example/docs-mcp:1.0.0', sidecar: false, port: docsPort });
      const mesh = new MeshPolicy(chart, 'mesh', { services: inMesh ? [a, docs] : [a] });
      return { chart, mesh };
    };

    test('the tool agent admits the caller without calls or allow()', () => {
      const { chart, mesh } = build({ tools: { docs: { agent: 'docs-mcp' } } });
      expect(mesh.edges).toEqual([{ caller: 'planner', callee: 'docs-mcp' }]);
      const objects = Testing.synth(chart);
      expect(allowedFromYaml(objects)).toEqual(['agent:planner -> docs-mcp:8080']);
      const rules = one(objects, 'AuthorizationPolicy', 'docs-mcp-allow').spec.rules;
      expect(rules.flatMap((r: any) => r.from.flatMap((f: any) => f.source.principals ?? []))).toEqual(['cluster.local/ns/multi-agents/sa/planner']);
      // The caller's egress reaches the tool agent's Service.
      expect(JSON.stringify(one(objects, 'Sidecar', 'planner-sidecar').spec.egress)).toContain('docs-mcp.multi-agents.svc.cluster.local');
    });

    test('without the tool nothing may call the tool agent', () => {
      const objects = Testing.synth(build({}).chart);
      expect(allowedFromYaml(objects)).toEqual([]);
    });

    test('a tool agent outside the mesh, or at another port, is an error naming the field', () => {
      expect(errorOf(() => build({ tools: { docs: { agent: 'docs-mcp' } } }, undefined, false))).toContain(
        'multi-agents/mesh: services[0] (multi-agents/planner): tools.docs.agent: agent "docs-mcp" is not in this mesh\'s services (planner)',
      );
      expect(errorOf(() => build({ tools: { docs: { agent: 'docs-mcp', namespace: 'tools' } } }))).toMatch(/tools\.docs\.agent: agent "docs-mcp" in namespace tools is not in this mesh's services/);
      expect(errorOf(() => build({ tools: { docs: { agent: 'docs-mcp' } } }, 9000))).toContain(
        'tools.docs.port: (8080) is not the port of agent "docs-mcp" (9000); set port: 9000',
      );
      // With the right port it is an edge.
      expect(build({ tools: { docs: { agent: 'docs-mcp', port: 9000 } } }, 9000).mesh.edges).toEqual([{ caller: 'planner', callee: 'docs-mcp' }]);
    });
  });

  test('an agent nobody calls and nobody scrapes gets an ALLOW policy without rules (deny)', () => {
    const s = system({ prometheus: false }, { declareCalls: false });
    const ap = one(synth(s), 'AuthorizationPolicy', 'planner-allow');
    expect(ap.spec.rules).toBeUndefined();
    expect(allowedFromYaml(synth(s))).toEqual([]);
  });

  test('Prometheus by principals, by another namespace, or plaintext from IP blocks (with a port-level PERMISSIVE policy)', () => {
    expect(allowedFromYaml(synth(system({ prometheus: { namespace: 'observability' } })))).toContain('ns:observability -> planner:9464 GET /metrics');
    expect(allowedFromYaml(synth(system({ prometheus: { principals: ['cluster.local/ns/monitoring/sa/prometheus-k8s'] } })))).toContain(
      'principal:cluster.local/ns/monitoring/sa/prometheus-k8s -> planner:9464 GET /metrics',
    );
    const write = jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      const s = system({ prometheus: { plaintextFrom: ['10.42.0.0/16'] } });
      const objects = synth(s);
      expect(allowedFromYaml(objects)).toContain('ip:10.42.0.0/16 -> planner:9464 GET /metrics');
      expect(one(objects, 'PeerAuthentication', 'planner-metrics-plaintext').spec).toEqual({
        selector: { matchLabels: { 'app.kubernetes.io/instance': 'planner', 'app.kubernetes.io/name': 'planner' } },
        portLevelMtls: { 9464: { mode: 'PERMISSIVE' } },
      });
      expect(s.mesh.warnings).toEqual([expect.stringContaining('plaintext')]);
    } finally {
      write.mockRestore();
    }
  });

  test('kubelet probes need no ALLOW rule: Istio rewrites them to the sidecar agent, and the pods keep rewriting on', () => {
    const objects = synth(system());
    for (const d of objects.filter((o) => o.kind === 'Deployment')) {
      expect(d.spec.template.metadata.annotations?.['sidecar.istio.io/rewriteAppHTTPProbers']).not.toBe('false');
    }
    expect(allowedFromYaml(objects).filter((e) => /:(15020|15021)/.test(e))).toEqual([]);
  });

  test('the trust domain is configurable', () => {
    const ap = one(synth(system({ trustDomain: 'prod.example.com' })), 'AuthorizationPolicy', 'coder-allow');
    expect(ap.spec.rules[0].from[0].source.principals).toEqual(['prod.example.com/ns/multi-agents/sa/planner']);
  });
});

/** Reads the NetworkPolicies back: `from -> to:port` for ingress and egress of each agent. */
function networkEdges(objects: any[]) {
  const deployments = objects.filter((o) => o.kind === 'Deployment');
  const agentsOf = (sel: any) => [...new Set(deployments.filter((d) => selectorMatches(sel, d.spec.template.metadata.labels)).map((d) => d.spec.template.metadata.labels['app.kubernetes.io/name']))];
  const peer = (p: any) => (p.podSelector && !p.namespaceSelector ? agentsOf(p.podSelector).map((a) => `agent:${a}`)
    : p.namespaceSelector ? [`ns:${p.namespaceSelector.matchLabels['kubernetes.io/metadata.name']}${p.podSelector ? `/${Object.values(p.podSelector.matchLabels).join(',')}` : ''}`]
      : [`ip:${p.ipBlock.cidr}`]);
  const ingress = new Set<string>();
  const egress = new Set<string>();
  for (const np of objects.filter((o) => o.kind === 'NetworkPolicy' && o.metadata.name !== 'default-deny')) {
    const [self] = agentsOf(np.spec.podSelector);
    for (const r of np.spec.ingress ?? []) for (const p of r.from) for (const src of peer(p)) for (const port of r.ports) ingress.add(`${src} -> ${self}:${port.port}/${port.protocol}`);
    for (const r of np.spec.egress ?? []) for (const p of r.to) for (const dst of peer(p)) for (const port of r.ports) egress.add(`${self} -> ${dst}:${port.port}/${port.protocol}`);
  }
  return { ingress: [...ingress].sort(), egress: [...egress].sort() };
}

describe('NetworkPolicy mirrors the graph', () => {
  test('ingress: declared callers on the http port, Prometheus on the metrics ports; egress: DNS, istiod, callees', () => {
    const objects = synth(system());
    const { ingress, egress } = networkEdges(objects);
    expect(ingress).toEqual([
      'agent:planner -> coder:9466/TCP',
      'agent:planner -> researcher:9466/TCP',
      ...['coder', 'planner', 'researcher'].flatMap((a) => [`ns:monitoring -> ${a}:15020/TCP`, `ns:monitoring -> ${a}:9464/TCP`]),
    ].sort());
    expect(egress).toEqual([
      ...['coder', 'planner', 'researcher'].flatMap((a) => [
        `${a} -> ns:kube-system/kube-dns:53/TCP`,
        `${a} -> ns:kube-system/kube-dns:53/UDP`,
        `${a} -> ns:istio-system/istiod:15012/TCP`,
      ]),
      'planner -> agent:coder:9466/TCP',
      'planner -> agent:researcher:9466/TCP',
    ].sort());
    expect(one(objects, 'NetworkPolicy', 'default-deny').spec).toEqual({ podSelector: {}, policyTypes: ['Ingress', 'Egress'] });
  });

  test('external hosts open TLS egress to public addresses only', () => {
    const { egress } = networkEdges(synth(system({ egress: { hosts: ['api.openai.com', { host: 'api.anthropic.com', port: 8443 }] } })));
    expect(egress.filter((e) => e.startsWith('planner -> ip:'))).toEqual(['planner -> ip:0.0.0.0/0:443/TCP', 'planner -> ip:0.0.0.0/0:8443/TCP']);
    const np = one(synth(system({ egress: { hosts: ['api.openai.com'] } })), 'NetworkPolicy', 'planner-allow');
    expect(np.spec.egress.at(-1).to[0].ipBlock.except).toEqual(['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '169.254.0.0/16']);
  });

  test('networkPolicy: false creates none', () => {
    expect(synth(system({ networkPolicy: false })).filter((o) => o.kind === 'NetworkPolicy')).toEqual([]);
  });
});

describe('Telemetry and egress', () => {
  test('tracing with a sampling percentage and provider, access logging', () => {
    expect(one(synth(system()), 'Telemetry', 'multi-agents-telemetry').spec).toEqual({
      tracing: [{ providers: [{ name: 'otel-tracing' }], randomSamplingPercentage: 10 }],
      accessLogging: [{ providers: [{ name: 'envoy' }] }],
    });
    expect(one(synth(system({ telemetry: { tracing: { provider: 'tempo', samplingPercentage: 1 }, accessLogging: false } })), 'Telemetry', 'multi-agents-telemetry').spec).toEqual({
      tracing: [{ providers: [{ name: 'tempo' }], randomSamplingPercentage: 1 }],
    });
    expect(synth(system({ telemetry: false })).filter((o) => o.kind === 'Telemetry')).toEqual([]);
  });

  test('a ServiceEntry per external host; registryOnly adds a REGISTRY_ONLY Sidecar', () => {
    const objects = synth(system({ egress: { hosts: ['api.openai.com', { host: 'api.anthropic.com', port: 8443 }], registryOnly: true } }));
    expect(one(objects, 'ServiceEntry', 'egress-api-openai-com').spec).toEqual({
      hosts: ['api.openai.com'],
      location: 'MESH_EXTERNAL',
      resolution: 'DNS',
      ports: [{ number: 443, name: 'tls-443', protocol: 'TLS' }],
      exportTo: ['.'],
    });
    expect(one(objects, 'ServiceEntry', 'egress-api-anthropic-com').spec.ports).toEqual([{ number: 8443, name: 'tls-8443', protocol: 'TLS' }]);
    expect(one(objects, 'Sidecar', 'multi-agents-egress').spec).toEqual({ outboundTrafficPolicy: { mode: 'REGISTRY_ONLY' } });
    expect(synth(system()).filter((o) => o.kind === 'ServiceEntry' || o.metadata.name === 'multi-agents-egress')).toEqual([]);
  });
});

describe('bad input gives clear errors naming the mesh path and the field', () => {
  test.each<[string, Partial<MeshPolicyProps>, string]>([
    ['unknown strategy', { agents: { planner: { loadBalancer: 'fastest' as never } } },
      'multi-agents/mesh: agents.planner.loadBalancer.strategy ("fastest") must be one of round_robin, least_loaded, weighted, random'],
    ['weights not summing to 100', { agents: { coder: { loadBalancer: { strategy: 'weighted', weights: { '0.9.0': 80, '1.0.0-rc.1': 30 } } } } },
      'multi-agents/mesh: agents.coder.loadBalancer.weights: must sum to 100 (got 110)'],
    ['weighted without weights', { agents: { planner: { loadBalancer: 'weighted' } } },
      'multi-agents/mesh: agents.planner.loadBalancer.weights: the weighted strategy needs weights per version (e.g. { "1.4.2": 90 })'],
    ['weights for an unknown version', { agents: { coder: { loadBalancer: { strategy: 'weighted', weights: { '0.9.0': 50, '2.0.0': 50 } } } } },
      'multi-agents/mesh: agents.coder.loadBalancer.weights.2.0.0: "2.0.0" is not a version of coder (versions: 0.9.0, 1.0.0-rc.1)'],
    ['weights with another strategy', { agents: { coder: { loadBalancer: { strategy: 'random', weights: { '0.9.0': 100 } } } } },
      'multi-agents/mesh: agents.coder.loadBalancer.weights: weights only apply to the weighted strategy (strategy is random)'],
    ['weights and canary', { agents: { coder: { canary: { weight: 10 }, loadBalancer: { strategy: 'weighted', weights: { '0.9.0': 100 } } } } },
      'multi-agents/mesh: agents.coder.loadBalancer.weights: set either canary.weight or loadBalancer.weights, not both'],
    ['negative timeout', { agents: { planner: { timeout: '-5s' } } },
      'multi-agents/mesh: agents.planner.timeout ("-5s") must be a positive duration'],
    ['zero timeout', { agents: { planner: { timeout: '0s' } } },
      'multi-agents/mesh: agents.planner.timeout ("0s") must be at least 1ms'],
    ['Prometheus-style duration Istio cannot parse', { agents: { planner: { timeout: '1d' } } },
      'multi-agents/mesh: agents.planner.timeout ("1d") must be a duration such as "500ms", "30s", "5m" or "1h30m"'],
    ['per-try timeout above the route timeout', { agents: { planner: { timeout: '60s', retries: { perTryTimeout: '90s' } } } },
      'multi-agents/mesh: agents.planner.retries.perTryTimeout (90s) must not exceed timeout (60s)'],
    ['per-try timeout above the default timeout', { agents: { planner: { retries: { perTryTimeout: '10m' } } } },
      'multi-agents/mesh: agents.planner.retries.perTryTimeout (10m) must not exceed timeout (300s, the default)'],
    ['per-try timeout above a route timeout', { agents: { planner: { retries: { perTryTimeout: '100s' }, routes: [{ uriPrefix: '/fast', timeout: '30s' }] } } },
      'multi-agents/mesh: agents.planner.retries.perTryTimeout (100s) must not exceed timeout (30s)'],
    ['negative retry attempts', { agents: { planner: { retries: { attempts: -1 } } } },
      'multi-agents/mesh: agents.planner.retries.attempts: must not be negative'],
    ['unknown retry condition', { agents: { planner: { retries: { retryOn: 'connect-failure,sometimes' } } } },
      'multi-agents/mesh: agents.planner.retries.retryOn: unknown retry condition "sometimes"'],
    ['fault percentage above 100', { agents: { planner: { fault: { abort: { httpStatus: 503, percentage: 150 } } } } },
      'multi-agents/mesh: agents.planner.fault.abort.percentage: must be at most 100'],
    ['route without a match', { agents: { planner: { routes: [{ timeout: '10s' }] } } },
      'multi-agents/mesh: agents.planner.routes[0]: a route needs headers or uriPrefix to match on'],
    ['upper-case header', { agents: { planner: { routes: [{ headers: { 'X-Tenant': 'a' } }] } } },
      'multi-agents/mesh: agents.planner.routes[0].headers.X-Tenant: header names must be lower-case'],
    ['canary subset on an agent without canary', { agents: { planner: { routes: [{ uriPrefix: '/x', subset: 'canary' }] } } },
      'multi-agents/mesh: agents.planner.routes[0].subset: multi-agents/planner has no canary Deployment'],
    ['canary on an agent without canary Deployment', { agents: { planner: { canary: { weight: 10 } } } },
      'multi-agents/mesh: agents.planner.canary: multi-agents/planner has no canary Deployment; set canary on the AgentService first'],
    ['canary version that does not match the AgentService', { agents: { coder: { canary: { version: '1.0.0', weight: 10 } } } },
      'multi-agents/mesh: agents.coder.canary.version ("1.0.0") does not match the AgentService\'s canary version "1.0.0-rc.1"'],
    ['canary weight above 100', { agents: { coder: { canary: { weight: 120 } } } },
      'multi-agents/mesh: agents.coder.canary.weight: must be at most 100'],
    ['session affinity with an explicit strategy', { agents: { planner: { loadBalancer: 'random', sessionAffinityHeader: 'x-session' } } },
      'multi-agents/mesh: agents.planner.loadBalancer: sessionAffinityHeader replaces the random strategy'],
    ['options for an agent not in the mesh', { agents: { critic: { timeout: '10s' } } },
      'multi-agents/mesh: agents.critic: is not an agent of this mesh (agents: coder, planner, researcher)'],
    ['unknown option', { agents: { planner: { timeOut: '10s' } as never } },
      'multi-agents/mesh: unknown field "agents.planner.timeOut"'],
    ['duplicate egress hosts', { egress: { hosts: ['api.openai.com', { host: 'api.openai.com', port: 443 }] } },
      'multi-agents/mesh: egress.hosts[1]: "api.openai.com" is already listed (egress.hosts[0])'],
    ['wildcard egress host', { egress: { hosts: ['*.openai.com'] } },
      'multi-agents/mesh: egress.hosts[0].host: must be a DNS-1123 subdomain'],
    ['cluster-local egress host', { egress: { hosts: ['redis.cache.svc.cluster.local'] } },
      'multi-agents/mesh: egress.hosts[0].host: is a cluster service: it needs no ServiceEntry'],
    ['mTLS disabled', { mtlsMode: 'DISABLE' as never },
      'multi-agents/mesh: mtlsMode: must be "STRICT" or "PERMISSIVE"'],
    ['tracing sampling above 100', { telemetry: { tracing: { samplingPercentage: 101 } } },
      'multi-agents/mesh: telemetry.tracing.samplingPercentage: must be between 0 and 100'],
    ['malformed principal', { prometheus: { principals: ['prometheus'] } },
      'multi-agents/mesh: prometheus.principals[0]: must be a SPIFFE-style principal'],
  ])('%s', (_name, props, message) => {
    expect(errorOf(() => system(props))).toContain(message);
  });

  test('a problem shared by routes that inherit the agent\'s retries is reported once', () => {
    const message = errorOf(() => system({ agents: { planner: { timeout: '60s', retries: { perTryTimeout: '90s' }, routes: [{ uriPrefix: '/a' }, { uriPrefix: '/b' }] } } }));
    expect(message).toBe('multi-agents/mesh: agents.planner.retries.perTryTimeout (90s) must not exceed timeout (60s)');
  });

  test('every problem is reported at once', () => {
    const message = errorOf(() => system({ agents: { planner: { timeout: '-1s', loadBalancer: 'fastest' as never } }, mtlsMode: 'OFF' as never }));
    expect(message.split('\n')).toEqual([
      expect.stringContaining('agents.planner.timeout'),
      expect.stringContaining('agents.planner.loadBalancer.strategy'),
      expect.stringContaining('mtlsMode'),
    ]);
  });

  test('a call graph naming an agent outside the mesh: calls in props', () => {
    const chart = new Chart(Testing.app(), NS, { namespace: NS, disableResourceNameHashes: true });
    const planner = new AgentService(chart, 'planner', { image: 'ghcr.io/example/planner:1.0.0' });
    const critic = new AgentService(chart, 'critic', { image: 'ghcr.io/example/critic:1.0.0' });
    expect(errorOf(() => new MeshPolicy(chart, 'mesh', { services: [planner], calls: [[planner, critic]] }))).toBe(
      'multi-agents/mesh: calls[0][1]: critic (multi-agents/critic) is not in this mesh\'s services (planner)',
    );
  });

  test('a call graph naming an agent outside the mesh: allow() and allowIngress()', () => {
    const s = system();
    expect(errorOf(() => s.mesh.allow(s.planner, [s.researcher, s.critic]))).toBe(
      'multi-agents/mesh: allow(callees[1]): critic (multi-agents/critic) is not in this mesh\'s services (coder, planner, researcher)',
    );
    expect(errorOf(() => s.mesh.allow(s.critic, s.planner))).toContain('allow(caller): critic (multi-agents/critic) is not in this mesh');
    expect(errorOf(() => s.mesh.allowIngress(s.critic, { namespaces: ['web'] }))).toContain('allowIngress.to: critic');
    expect(errorOf(() => s.mesh.allowIngress(s.planner, {}))).toBe('multi-agents/mesh: allowIngress: name at least one namespace or principal');
    // A failed allow() changes nothing.
    expect(s.mesh.edges).toHaveLength(2);
  });

  test('one MeshPolicy per namespace, across the charts of an app', () => {
    const app = Testing.app();
    const agents = new Chart(app, 'agents', { namespace: NS, disableResourceNameHashes: true });
    const mesh = new Chart(app, 'mesh', { disableResourceNameHashes: true });
    const planner = new AgentService(agents, 'planner', { image: 'ghcr.io/example/planner:1.0.0' });
    const coder = new AgentService(agents, 'coder', { image: 'ghcr.io/example/coder:1.0.0' });
    new MeshPolicy(mesh, 'one', { services: [planner] });
    // Objects land in the agents' namespace even when the mesh's chart has none.
    expect(Testing.synth(mesh).every((o: any) => o.metadata.namespace === NS)).toBe(true);
    expect(errorOf(() => new MeshPolicy(agents, 'two', { services: [coder] }))).toBe(
      'agents/two: services: namespace "multi-agents" already has a MeshPolicy (mesh/one); put all its agents in one MeshPolicy',
    );
  });

  test('services must be AgentServices in one namespace, each once', () => {
    const s = system();
    expect(errorOf(() => new MeshPolicy(s.chart, 'empty', { services: [] }))).toBe('multi-agents/empty: services: name at least one AgentService');
    expect(errorOf(() => new MeshPolicy(s.chart, 'twice', { services: [s.planner, s.planner] }))).toContain('services[1]: agent "planner" (multi-agents/planner) is listed twice');
    const other = new AgentService(s.chart, 'translator', { image: 'ghcr.io/example/translator:1.0.0', namespace: 'tools' });
    expect(errorOf(() => new MeshPolicy(s.chart, 'split', { services: [s.planner, other] }))).toBe(
      'multi-agents/split: services: all agents must share one namespace (found planner in multi-agents, translator in tools)',
    );
    expect(errorOf(() => new MeshPolicy(s.chart, 'notagent', { services: [{} as never] }))).toContain('services[0]: must be an AgentService');
    expect(errorOf(() => new MeshPolicy(s.chart, 'again', { services: [s.critic] }))).toBe(
      'multi-agents/again: services: namespace "multi-agents" already has a MeshPolicy (multi-agents/mesh); put all its agents in one MeshPolicy',
    );
  });
});

describe('the example app (main.ts) inside a MeshPolicy', () => {
  const chart = new MultiAgentChart(Testing.app(), 'multi-agents');
  const mesh = chart.mesh;
  const objects = Testing.synth(chart);

  test('every object is schema-valid', async () => {
    const result = await validateManifests(objects);
    expect(result.errors).toEqual([]);
    expect(mesh.warnings).toEqual([]);
  });

  test('the declared call graph, the ingress gateway and the scrapes are all that is allowed', () => {
    expect(mesh.edges).toEqual([{ caller: 'planner', callee: 'coder' }, { caller: 'planner', callee: 'researcher' }]);
    expect(allowedFromYaml(objects)).toEqual([
      'agent:planner -> coder:9466',
      'agent:planner -> researcher:9466',
      'ns:istio-ingress -> planner:9466',
      ...['coder', 'planner', 'researcher'].map((a) => `ns:monitoring -> ${a}:9464 GET /metrics`),
    ].sort());
  });
});
