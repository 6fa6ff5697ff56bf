import * as fs from 'fs';
import * as path from 'path';
import { Testing } from 'cdk8s';
import * as YAML from 'yaml';
import { buildSystem } from '../../cli/render';
import { AgentSpec } from '../../constructs';
import { MultiAgentChart } from '../../main';
import { parseSystemSpec, SystemSpec } from '../../system/system-spec';
import { K8sObject, synthObjects, toDot, toMermaid } from '../../testing';
import { ExpectedFlows, expectSystemFlows } from './support';

// The flows every system needs, on the example app, examples/system.yaml and generated systems:
// every cell of the traffic matrix is compared with what the system declares.

/** What a built system declares: its call graph, entry agents, per-agent hosts and dependencies. */
function declared(spec: SystemSpec, agents: readonly AgentSpec[]): ExpectedFlows {
  const meshHosts = (spec.mesh.egress?.hosts ?? []).map((h) => (typeof h === 'string' ? `${h}:443` : `${h.host}:${h.port ?? 443}`));
  return {
    calls: spec.calls.map(([a, b]) => [a, b] as const),
    ingress: spec.agents.filter((a) => a.ingress?.namespaces?.includes('istio-ingress')).map((a) => a.name),
    egress: Object.fromEntries(agents.map((a) => [a.name, [...new Set([...meshHosts, ...a.egressHosts.map((h) => `${h.host}:${h.port}`)])]])),
    dependencies: Object.fromEntries(agents.map((a) => [a.name, a.dependencies.map((d) => `${d.service}.${d.namespace}:${d.port}`)])),
    unscraped: agents.filter((a) => !a.sidecar.enabled).map((a) => a.name),
  };
}

/** A Redis the agents share, as the cluster would run it (not produced by cdk8s-agents). */
function redis(namespace: string, name = 'agent-cache'): K8sObject[] {
  const labels = { 'app.kubernetes.io/name': name };
  return [
    { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name, namespace }, spec: { selector: { matchLabels: labels }, template: { metadata: { labels }, spec: { containers: [{ name: 'redis', image: 'redis:7.4', ports: [{ name: 'redis', containerPort: 6379 }] }] } } } },
    { apiVersion: 'v1', kind: 'Service', metadata: { name, namespace }, spec: { selector: labels, ports: [{ name: 'tcp-redis', port: 6379, targetPort: 6379 }] } },
  ];
}

test('the example app (main.ts)', () => {
  const chart = new MultiAgentChart(Testing.app(), 'multi-agents');
  const objects = synthObjects(chart).objects;
  const m = expectSystemFlows(objects, {
    calls: chart.mesh.edges.map((e) => [e.caller, e.callee] as const),
    ingress: ['planner'],
    egress: { planner: ['api.openai.com:443'], researcher: ['api.openai.com:443'], coder: ['api.openai.com:443'] },
  });
  expect(m.calls).toEqual([{ caller: 'planner', callee: 'coder' }, { caller: 'planner', callee: 'researcher' }]);
  expect(toMermaid(m)).toContain('-.->|scrape|');
  expect(toDot(m)).toContain('"planner" -> "coder" [style=solid];');
});

test('examples/system.yaml, with its Redis', () => {
  const parsed = parseSystemSpec(YAML.parse(fs.readFileSync(path.join(__dirname, '../../examples/system.yaml'), 'utf8')));
  if (!parsed.success) throw new Error(JSON.stringify(parsed.issues));
  const built = buildSystem(parsed.data);
  const objects = [...built.objects.map((o) => o.json as K8sObject), ...redis(parsed.data.namespace)];
  const expected = declared(parsed.data, built.system.agentSpecs);
  expect(expected.calls.length).toBeGreaterThan(5);
  expectSystemFlows(objects, expected);
});

/** Deterministic PRNG (mulberry32), so a failure reproduces. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function generated(seed: number, n: number) {
  const rand = prng(seed);
  const names = Array.from({ length: n }, (_v, i) => `agent-${String(i).padStart(2, '0')}`);
  const agents = names.map((name, i) => {
    const calls = [...new Set(Array.from({ length: Math.floor(rand() * 4) }, () => names[Math.floor(rand() * n)]))].filter((c) => c !== name);
    const r = rand();
    const agent: Record<string, unknown> = { name, image: `ghcr.io/example/${name}:1.0.${i}`, calls, replicas: 1 };
    if (i < 2) agent.ingress = { namespaces: ['istio-ingress'] };
    if (r < 0.3) agent.sidecar = { redisUrl: 'redis://agent-cache:6379' };
    else if (r < 0.4) agent.sidecar = false;
    if (rand() < 0.5 && agent.sidecar !== false) agent.models = { providers: [{ provider: rand() < 0.5 ? 'openai' : 'anthropic', apiKey: { secretName: 'model-keys', key: 'k' } }] };
    return agent;
  });
  return { name: `generated-${seed}`, namespace: `gen-${seed}`, agents, mesh: { egress: { hosts: ['search.example.com'] } } };
}

test.each([[7, 50], [2024, 50]])('a generated system (seed %i, %i agents)', (seed, n) => {
  const parsed = parseSystemSpec(generated(seed, n));
  if (!parsed.success) throw new Error(JSON.stringify(parsed.issues.slice(0, 3)));
  const built = buildSystem(parsed.data);
  const objects = [...built.objects.map((o) => o.json as K8sObject), ...redis(parsed.data.namespace)];
  const expected = declared(parsed.data, built.system.agentSpecs);
  // The generator exercises every kind of flow.
  expect(expected.calls.length).toBeGreaterThan(n / 2);
  expect(Object.values(expected.dependencies ?? {}).flat().length).toBeGreaterThan(3);
  expect(new Set(Object.values(expected.egress).flat()).size).toBe(3);
  expect(expected.unscraped?.length).toBeGreaterThan(0);
  const m = expectSystemFlows(objects, expected);
  expect(m.cells.length).toBeGreaterThan(n * n);
});
