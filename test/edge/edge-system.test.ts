import * as fs from 'fs';
import * as path from 'path';
import { Chart, Testing } from 'cdk8s';
import * as YAML from 'yaml';
import { AgentGateway } from '../../constructs/agent-gateway';
import { AgentService } from '../../constructs/agent-service';
import { MeshPolicy } from '../../constructs/mesh-policy';
import { AgentSystem, AgentSystemProps } from '../../system/agent-system';
import { formatSpecIssue, parseSystemSpec } from '../../system/system-spec';
import { validateManifests } from '../../testing';
import { cli, requireBuiltCli, tmpdir, writeFile } from '../cli/support';

const EXAMPLE = path.join(__dirname, '..', '..', 'examples', 'edge-system.yaml');
const example = () => YAML.parse(fs.readFileSync(EXAMPLE, 'utf8')) as AgentSystemProps;
type Obj = { kind: string; metadata: { name: string; namespace?: string }; spec?: any };
const EDGE_KINDS = ['Gateway', 'VirtualService', 'RequestAuthentication', 'AuthorizationPolicy', 'EnvoyFilter', 'DestinationRule', 'NetworkPolicy'];
const edgeObjects = (objs: Obj[]) => objs.filter((o) => EDGE_KINDS.includes(o.kind)).map(({ metadata: { name, namespace }, kind, spec }) => ({ kind, name, namespace, spec }))
  .sort((a, b) => `${a.kind}/${a.namespace}/${a.name}`.localeCompare(`${b.kind}/${b.namespace}/${b.name}`));

describe('examples/edge-system.yaml', () => {
  const chart = new Chart(Testing.app(), 'edge', { disableResourceNameHashes: true });
  const system = new AgentSystem(chart, 'chat-assistant', example());
  const objs = Testing.synth(chart) as Obj[];

  test('synthesizes valid objects: Gateway with TLS, JWT at the gateway and the entry agents, rate limits, mirror', async () => {
    expect(system.gateway).toBeInstanceOf(AgentGateway);
    const kinds = new Set(objs.map((o) => o.kind));
    for (const k of ['Gateway', 'RequestAuthentication', 'EnvoyFilter']) expect(kinds).toContain(k);
    const result = await validateManifests(objs);
    expect(result.problems.filter((p) => p.severity === 'error')).toEqual([]);
    const gw = objs.find((o) => o.kind === 'Gateway')!;
    expect(gw.metadata).toMatchObject({ name: 'chat-assistant', namespace: 'istio-ingress' });
    expect(objs.find((o) => o.kind === 'VirtualService' && o.metadata.name === 'chat-assistant-ingress')!.spec.http[0].mirrorPercentage).toEqual({ value: 20 });
  });

  test('the same system written in TypeScript gives the same edge objects', () => {
    const c = new Chart(Testing.app(), 'edge', { disableResourceNameHashes: true });
    const ns = 'chat';
    const chat = new AgentService(c, 'chat', {
      image: 'ghcr.io/example/chat-agent:2.1.0', namespace: ns, system: 'chat-assistant', component: 'gateway', team: 'agents-core',
      autoscaling: { minReplicas: 2, maxReplicas: 8 }, secretEnv: { OPENAI_API_KEY: { secretName: 'model-provider', key: 'openai-api-key' } },
    });
    const coder = new AgentService(c, 'coder', {
      image: 'ghcr.io/example/coder-agent:0.9.0', namespace: ns, system: 'chat-assistant', team: 'agents-dev', replicas: 2,
      canary: { image: 'ghcr.io/example/coder-agent:1.0.0-rc.1' },
    });
    const mesh = new MeshPolicy(c, 'mesh', {
      services: [chat, coder], calls: [[chat, coder]],
      agents: {
        chat: { sessionAffinity: { cookie: { name: 'chat-session', ttl: '3600s' } }, rateLimit: { requestsPerSecond: 50, burst: 100 } },
        coder: { mirror: { percentage: 20 }, locality: { failover: [{ from: 'europe-west1', to: 'europe-west4' }] } },
      },
    });
    new AgentGateway(c, 'gw', {
      mesh,
      gateway: { name: 'chat-assistant' },
      hosts: ['chat.example.com'],
      tls: { secretName: 'chat-example-com-tls' },
      jwt: {
        issuer: 'https://auth.example.com/', jwksUri: 'https://auth.example.com/.well-known/jwks.json', audiences: ['chat-api'],
        forwardClaims: { sub: 'x-user-id' }, requiredClaims: { scope: ['chat:use'] },
      },
      rateLimit: { requestsPerMinute: 600, burst: 60 },
      routes: [
        { agent: chat, pathPrefix: '/', timeout: '600s', idleTimeout: '120s' },
        { agent: coder, pathPrefix: '/v1/code', requiredClaims: { groups: ['developers'] }, rateLimit: { requestsPerSecond: 2, burst: 5 } },
      ],
    });
    expect(edgeObjects(Testing.synth(c) as Obj[])).toEqual(edgeObjects(objs));
  });

  test('a route to an unknown agent and gateway mistakes are reported at their spec paths, all at once', () => {
    const input = example() as any;
    input.gateway.routes[1].agent = 'codr';
    input.gateway.jwt.issuer = 'http://auth.example.com/';
    input.gateway.rateLimit = { requestsPerMinute: 0 };
    const parsed = parseSystemSpec(input);
    expect(parsed.success).toBe(false);
    if (parsed.success) return;
    expect(parsed.issues.map(formatSpecIssue)).toEqual(expect.arrayContaining([
      'gateway.routes[1].agent: routes to unknown agent "codr"; did you mean "coder"?',
      expect.stringMatching(/^gateway\.jwt\.issuer: \("http:\/\/auth\.example\.com\/"\) must use https/),
      expect.stringMatching(/^gateway\.rateLimit\.requestsPerMinute: requestsPerMinute must be at least 1/),
    ]));
  });

  test('the CLI names file:line for a gateway mistake and writes nothing', () => {
    requireBuiltCli();
    const dir = tmpdir();
    const text = fs.readFileSync(EXAMPLE, 'utf8').replace('agent: coder', 'agent: codr');
    const file = writeFile(dir, 'system.yaml', text);
    const out = path.join(dir, 'out');
    const r = cli(['synth', file, '--out', out]);
    expect(r.status).not.toBe(0);
    const line = text.split('\n').findIndex((l) => l.includes('agent: codr')) + 1;
    expect(r.stderr).toContain(`system.yaml:${line}:`);
    expect(r.stderr).toContain('routes to unknown agent "codr"');
    expect(fs.existsSync(out)).toBe(false);
  });
});
