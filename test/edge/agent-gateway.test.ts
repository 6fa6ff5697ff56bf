import { Chart, Testing } from 'cdk8s';
import { AgentGateway, AgentGatewayProps } from '../../constructs/agent-gateway';
import { AgentService } from '../../constructs/agent-service';
import { MeshPolicy, MeshPolicyProps } from '../../constructs/mesh-policy';
import { PropsValidationError } from '../../constructs/validation';
import { validateManifests } from '../../testing';

const NS = 'agents';
type Obj = { kind: string; metadata: { name: string; namespace?: string }; spec: any };

interface Edge {
  chart: Chart;
  mesh: MeshPolicy;
  chat: AgentService;
  coder: AgentService;
  gateway: AgentGateway;
}

/** A public chat agent (entry) that calls a coder with a canary; the canary gets a mirror of the traffic. */
function edge(props: Partial<AgentGatewayProps> = {}, mesh: Partial<MeshPolicyProps> = {}): Edge {
  const chart = new Chart(Testing.app(), NS, { namespace: NS, disableResourceNameHashes: true });
  const chat = new AgentService(chart, 'chat', { image: 'ghcr.io/example/chat-agent:2.1.0', autoscaling: { minReplicas: 2, maxReplicas: 8 } });
  const coder = new AgentService(chart, 'coder', {
    image: 'ghcr.io/example/coder-agent:0.9.0',
    replicas: 2,
    canary: { image: 'ghcr.io/example/coder-agent:1.0.0-rc.1' },
  });
  const m = new MeshPolicy(chart, 'mesh', {
    services: [chat, coder],
    calls: [[chat, coder]],
    agents: {
      chat: { sessionAffinity: { cookie: { name: 'agent-session', ttl: '3600s' } }, rateLimit: { requestsPerSecond: 50, burst: 100 } },
      coder: { mirror: { percentage: 20 }, locality: { failover: [{ from: 'europe-west1', to: 'europe-west4' }] } },
    },
    ...mesh,
  });
  const gateway = new AgentGateway(chart, 'public', {
    mesh: m,
    hosts: ['agents.example.com'],
    tls: { secretName: 'agents-example-com-tls' },
    jwt: {
      issuer: 'https://auth.example.com/',
      jwksUri: 'https://auth.example.com/.well-known/jwks.json',
      audiences: ['agents-api'],
      forwardClaims: { sub: 'x-user-id' },
      requiredClaims: { scope: ['agents:use'] },
    },
    rateLimit: { requestsPerMinute: 600, burst: 60 },
    routes: [
      { agent: chat, pathPrefix: '/', timeout: '600s', idleTimeout: '120s' },
      { agent: coder, pathPrefix: '/v1/code', requiredClaims: { groups: ['developers'] }, rateLimit: { requestsPerSecond: 2, burst: 5 } },
    ],
    ...props,
  });
  return { chart, mesh: m, chat, coder, gateway };
}

const objects = (e: Edge): Obj[] => Testing.synth(e.chart) as Obj[];
const find = (objs: Obj[], kind: string, name: string) => {
  const found = objs.filter((o) => o.kind === kind && o.metadata.name === name);
  expect(found).toHaveLength(1);
  return found[0];
};
const problemsOf = (f: () => unknown): readonly string[] => {
  try { f(); } catch (e) { if (e instanceof PropsValidationError) return e.problems; throw e; }
  throw new Error('no PropsValidationError');
};

describe('AgentGateway', () => {
  const e = edge();
  const objs = objects(e);

  test('every object passes the pinned schemas (Istio CRDs incl. CEL) and the package policies', async () => {
    const result = await validateManifests(objs);
    expect(result.problems.filter((p) => p.severity === 'error')).toEqual([]);
  });

  test('Gateway: HTTPS with the Secret, HTTP redirects, hosts bindable from the agents namespace only', () => {
    const gw = find(objs, 'Gateway', 'public');
    expect(gw.metadata.namespace).toBe('istio-ingress');
    expect(gw.spec.selector).toEqual({ istio: 'ingressgateway' });
    expect(gw.spec.servers).toEqual([
      { port: { number: 443, name: 'https', protocol: 'HTTPS' }, hosts: ['agents/agents.example.com'], tls: { mode: 'SIMPLE', credentialName: 'agents-example-com-tls', minProtocolVersion: 'TLSV1_2' } },
      { port: { number: 80, name: 'http', protocol: 'HTTP' }, hosts: ['agents/agents.example.com'], tls: { httpsRedirect: true } },
    ]);
  });

  test('routes: longest prefix first, bound to the gateway, following the mesh split and mirror', () => {
    const vs = find(objs, 'VirtualService', 'public-ingress');
    expect(vs.metadata.namespace).toBe(NS);
    expect(vs.spec.gateways).toEqual(['istio-ingress/public']);
    expect(vs.spec.http.map((r: any) => [r.name, r.match[0].uri.prefix])).toEqual([['agents-public-coder', '/v1/code'], ['agents-public-chat', '/']]);
    const [code, chat] = vs.spec.http;
    expect(code.mirror).toEqual({ host: 'coder.agents.svc.cluster.local', subset: 'canary', port: { number: 8080 } });
    expect(code.mirrorPercentage).toEqual({ value: 20 });
    expect(code.route).toEqual([{ destination: { host: 'coder.agents.svc.cluster.local', subset: 'stable', port: { number: 8080 } } }]);
    expect(chat.timeout).toBe('600s');
    expect(code.timeout).toBe('300s');
    expect(chat.mirror).toBeUndefined();
    // The mesh route of the coder mirrors too, so in-mesh callers exercise the canary the same way.
    expect(find(objs, 'VirtualService', 'coder').spec.http.every((r: any) => r.mirrorPercentage?.value === 20)).toBe(true);
  });

  test('JWT: validated at the gateway (claims to headers) and again at each entry agent', () => {
    const gwJwt = find(objs, 'RequestAuthentication', 'public-jwt');
    expect(gwJwt.metadata.namespace).toBe('istio-ingress');
    expect(gwJwt.spec).toEqual({
      selector: { matchLabels: { istio: 'ingressgateway' } },
      jwtRules: [{
        issuer: 'https://auth.example.com/', jwksUri: 'https://auth.example.com/.well-known/jwks.json', audiences: ['agents-api'],
        forwardOriginalToken: true, outputClaimToHeaders: [{ claim: 'sub', header: 'x-user-id' }],
      }],
    });
    const agentJwt = find(objs, 'RequestAuthentication', 'public-chat-jwt');
    expect(agentJwt.metadata.namespace).toBe(NS);
    expect(agentJwt.spec.selector.matchLabels).toEqual({ 'app.kubernetes.io/instance': 'chat', 'app.kubernetes.io/name': 'chat' });
    // At the gateway: a DENY (a shared gateway's other hosts are untouched), Host with or without a port.
    const deny = find(objs, 'AuthorizationPolicy', 'public-require-jwt');
    expect(deny.spec.action).toBe('DENY');
    expect(deny.spec.rules).toEqual([{ from: [{ source: { notRequestPrincipals: ['*'] } }], to: [{ operation: { hosts: ['agents.example.com', 'agents.example.com:*'] } }] }]);
  });

  test('entry agents admit the gateway identity with a valid token and the required claims, per path', () => {
    const allowChat = find(objs, 'AuthorizationPolicy', 'public-chat');
    expect(allowChat.spec.action).toBe('ALLOW');
    expect(allowChat.spec.rules).toEqual([{
      from: [{ source: { principals: ['cluster.local/ns/istio-ingress/sa/istio-ingressgateway'], requestPrincipals: ['https://auth.example.com//*'] } }],
      to: [{ operation: { ports: ['9466'] } }],
      when: [{ key: 'request.auth.claims[scope]', values: ['agents:use'] }],
    }]);
    const allowCoder = find(objs, 'AuthorizationPolicy', 'public-coder');
    expect(allowCoder.spec.rules[0].to).toEqual([{ operation: { ports: ['9466'], paths: ['/v1/code*'] } }]);
    expect(allowCoder.spec.rules[0].when).toEqual([
      { key: 'request.auth.claims[groups]', values: ['developers'] },
      { key: 'request.auth.claims[scope]', values: ['agents:use'] },
    ]);
    // The NetworkPolicy admits only the gateway pods of the gateway namespace on the agent's port.
    const np = find(objs, 'NetworkPolicy', 'public-chat');
    expect(np.spec.ingress).toEqual([{
      from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'istio-ingress' } }, podSelector: { matchLabels: { istio: 'ingressgateway' } } }],
      ports: [{ port: 9466, protocol: 'TCP' }],
    }]);
  });

  test('rate limits: per route at the gateway (inert filter + route configs) and per agent pod', () => {
    const tuning = find(objs, 'EnvoyFilter', 'public-agents-routes');
    const patches = tuning.spec.configPatches;
    expect(patches[0].applyTo).toBe('HTTP_FILTER');
    expect(patches[0].patch.value.typed_config.value).toEqual({ stat_prefix: 'http_local_rate_limiter' });
    const route = (name: string) => patches.find((p: any) => p.match.routeConfiguration?.vhost.route.name === name).patch.value;
    expect(route('agents-public-coder').typed_per_filter_config['envoy.filters.http.local_ratelimit'].value.token_bucket)
      .toEqual({ max_tokens: 5, tokens_per_fill: 2, fill_interval: '1s' });
    expect(route('agents-public-chat').typed_per_filter_config['envoy.filters.http.local_ratelimit'].value.token_bucket)
      .toEqual({ max_tokens: 60, tokens_per_fill: 600, fill_interval: '60s' });
    expect(route('agents-public-chat').route).toEqual({ idle_timeout: '120s' });
    const agentLimit = find(objs, 'EnvoyFilter', 'chat-ratelimit');
    expect(agentLimit.spec.workloadSelector.labels).toEqual({ 'app.kubernetes.io/name': 'chat', 'app.kubernetes.io/instance': 'chat' });
    expect(agentLimit.spec.configPatches[0].match).toEqual({ context: 'SIDECAR_INBOUND', listener: { portNumber: 9466, filterChain: { filter: { name: 'envoy.filters.network.http_connection_manager' } } } });
    expect(agentLimit.spec.configPatches[0].patch.value.typed_config.value.token_bucket).toEqual({ max_tokens: 100, tokens_per_fill: 50, fill_interval: '1s' });
  });

  test('traffic experiments: cookie affinity and locality failover in the DestinationRules', () => {
    expect(find(objs, 'DestinationRule', 'chat').spec.trafficPolicy.loadBalancer).toEqual({ consistentHash: { httpCookie: { name: 'agent-session', ttl: '3600s' } } });
    expect(find(objs, 'DestinationRule', 'coder').spec.trafficPolicy.loadBalancer).toEqual({
      simple: 'LEAST_REQUEST',
      localityLbSetting: { enabled: true, failover: [{ from: 'europe-west1', to: 'europe-west4' }] },
    });
    expect(e.mesh.warnings.some((w) => w.includes('agents.coder.mirror') && w.includes('tool calls'))).toBe(true);
  });

  test('without jwt: no token policies, the gateway identity alone is admitted, and a warning says so', () => {
    const chart = new Chart(Testing.app(), NS, { namespace: NS, disableResourceNameHashes: true });
    const a = new AgentService(chart, 'a', { image: 'ghcr.io/example/a:1.0.0' });
    const mesh = new MeshPolicy(chart, 'mesh', { services: [a] });
    const gw = new AgentGateway(chart, 'open', { mesh, hosts: ['a.example.com'], tls: { secretName: 'tls', httpsRedirect: false }, routes: [{ agent: a }] });
    const out = Testing.synth(chart) as Obj[];
    expect(out.filter((o) => o.kind === 'RequestAuthentication' || o.kind === 'EnvoyFilter')).toEqual([]);
    expect(find(out, 'Gateway', 'open').spec.servers).toHaveLength(1);
    expect(find(out, 'AuthorizationPolicy', 'open-a').spec.rules).toEqual([{ from: [{ source: { principals: ['cluster.local/ns/istio-ingress/sa/istio-ingressgateway'] } }], to: [{ operation: { ports: ['9466'] } }] }]);
    expect(gw.warnings).toEqual([expect.stringContaining('jwt is not set')]);
  });

  test('snapshot of the edge objects', () => {
    const edgeKinds = ['Gateway', 'RequestAuthentication', 'EnvoyFilter'];
    expect(objs.filter((o) => edgeKinds.includes(o.kind) || o.metadata.name.startsWith('public'))).toMatchSnapshot();
  });
});

describe('AgentGateway bad input', () => {
  test('every problem at once, each naming the field', () => {
    const problems = problemsOf(() => edge({
      hosts: ['agents.example.com', 'agents.example.com', 'localhost'],
      tls: { secretName: 'Bad_Name' },
      jwt: { issuer: 'http://auth.example.com/', jwksUri: 'not a url' },
      rateLimit: { requestsPerSecond: 0 },
    }));
    expect(problems).toEqual(expect.arrayContaining([
      expect.stringMatching(/^hosts\[2\] \("localhost"\) must be a fully qualified host name/),
      expect.stringMatching(/^tls\.secretName: /),
      expect.stringMatching(/^jwt\.issuer \("http:\/\/auth\.example\.com\/"\) must use https/),
      expect.stringMatching(/^jwt\.jwksUri \("not a url"\) must be an absolute URL/),
      expect.stringMatching(/^rateLimit\.requestsPerSecond: requestsPerSecond must be at least 1/),
    ]));
  });

  test('duplicate hosts, routes on unknown hosts and claims without jwt', () => {
    const chart = new Chart(Testing.app(), NS, { namespace: NS });
    const a = new AgentService(chart, 'a', { image: 'ghcr.io/example/a:1.0.0' });
    const mesh = new MeshPolicy(chart, 'mesh', { services: [a] });
    expect(problemsOf(() => new AgentGateway(chart, 'gw', {
      mesh, hosts: ['a.example.com', 'a.example.com'], tls: { secretName: 'tls' },
      routes: [{ agent: a, requiredClaims: { role: ['x'] } }, { agent: a }, { agent: a, pathPrefix: '/b', hosts: ['b.example.com'] }],
    }))).toEqual([
      'hosts[1] ("a.example.com") is listed twice',
      'routes[0].requiredClaims: needs jwt: claims come from a validated end-user token',
      'routes[1].pathPrefix ("/") on host a.example.com is already routed by routes[0]',
      'routes[2].hosts[0] ("b.example.com") is not served by this gateway (hosts: a.example.com)',
    ]);
  });

  test('an agent outside the mesh, and a gateway host another gateway already serves', () => {
    const chart = new Chart(Testing.app(), NS, { namespace: NS });
    const a = new AgentService(chart, 'a', { image: 'ghcr.io/example/a:1.0.0' });
    const b = new AgentService(chart, 'b', { image: 'ghcr.io/example/b:1.0.0' });
    const mesh = new MeshPolicy(chart, 'mesh', { services: [a] });
    expect(problemsOf(() => new AgentGateway(chart, 'gw', { mesh, hosts: ['a.example.com'], tls: { secretName: 'tls' }, routes: [{ agent: b }] })))
      .toEqual([`routes[0].agent: b (${NS}/b) is not in the mesh ${NS}/mesh`]);
    new AgentGateway(chart, 'one', { mesh, hosts: ['*.example.com'], tls: { secretName: 'tls' }, routes: [{ agent: a }] });
    expect(problemsOf(() => new AgentGateway(chart, 'two', { mesh, hosts: ['chat.example.com'], tls: { secretName: 'tls' }, routes: [{ agent: a }] })))
      .toEqual(['hosts[0] ("chat.example.com") overlaps "*.example.com" of the AgentGateway agents/one: serve each host from one gateway']);
  });

  test('a mirror without a canary, locality without outlier detection, conflicting affinity', () => {
    const chart = new Chart(Testing.app(), NS, { namespace: NS });
    const a = new AgentService(chart, 'a', { image: 'ghcr.io/example/a:1.0.0' });
    expect(problemsOf(() => new MeshPolicy(chart, 'mesh', {
      services: [a],
      agents: {
        a: {
          mirror: { percentage: 10 },
          locality: { failoverPriority: ['topology.kubernetes.io/region'] },
          outlierDetection: false,
          sessionAffinity: { header: 'x-session', sourceIp: true },
          rateLimit: { requestsPerSecond: 5, requestsPerMinute: 5 },
        },
      },
    }))).toEqual(expect.arrayContaining([
      'agents.a.sessionAffinity: set exactly one of header, cookie, sourceIp',
      'agents.a.rateLimit: set exactly one of requestsPerSecond, requestsPerMinute',
    ]));
    expect(problemsOf(() => new MeshPolicy(new Chart(Testing.app(), NS, { namespace: NS }), 'mesh', {
      services: [new AgentService(chart, 'b', { image: 'ghcr.io/example/b:1.0.0' })],
      agents: { b: { mirror: { percentage: 10 }, locality: { failoverPriority: ['topology.kubernetes.io/region'] }, outlierDetection: false } },
    }))).toEqual([
      `agents.b.mirror: ${NS}/b has no canary Deployment to mirror to; set canary on the AgentService first`,
      'agents.b.locality: locality failover needs outlier detection (outlierDetection is false)',
    ]);
  });
});
