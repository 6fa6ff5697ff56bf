import * as fs from 'fs';
import * as path from 'path';
import { App, Chart, Testing } from 'cdk8s';
import * as YAML from 'yaml';
import { emitDocuments } from '../../cli/emit';
import { buildSystem } from '../../cli/render';
import { AgentSystem, AgentSystemProps } from '../../system/agent-system';
import { formatSpecIssue, parseSystemSpec, SystemSpecError } from '../../system/system-spec';
import { PropsValidationError } from '../../constructs/validation';
import { synthObjects, validateManifests } from '../../testing';

const EXAMPLE = path.join(__dirname, '..', '..', 'examples', 'system.yaml');
const exampleInput = () => YAML.parse(fs.readFileSync(EXAMPLE, 'utf8')) as AgentSystemProps;

function chart(namespace?: string) {
  const app = Testing.app();
  return new Chart(app, 'test', { namespace, disableResourceNameHashes: true });
}

/** The error AgentSystem throws for `props`, as `path: message` lines. */
function systemErrors(props: AgentSystemProps): string[] {
  try {
    new AgentSystem(chart(), 'sys', props);
  } catch (e) {
    if (e instanceof SystemSpecError) {
      expect(e).toBeInstanceOf(PropsValidationError);
      expect(e.problems).toEqual(e.issues.map(formatSpecIssue));
      expect(e.constructPath).toBe('test/sys');
      expect(e.message.split('\n').every((l) => l.startsWith('test/sys: '))).toBe(true);
      return e.issues.map(formatSpecIssue);
    }
    throw e;
  }
  throw new Error('expected AgentSystem to throw');
}

describe('AgentSystem on examples/system.yaml', () => {
  const c = chart();
  const system = new AgentSystem(c, 'research', exampleInput());
  const m = synthObjects(c);

  test('every output object passes the schema and policy validator', async () => {
    const result = await validateManifests(m);
    expect(result.errors).toEqual([]);
    expect(result.objectCount).toBe(m.length);
  });

  test('one AgentService per agent, in spec order, in the system namespace', () => {
    expect([...system.agents.keys()]).toEqual(['gateway', 'planner', 'researcher', 'retriever', 'web-search', 'coder', 'sandbox', 'writer', 'critic', 'memory']);
    expect(system.agentSpecs.map((s) => s.namespace)).toEqual(Array(10).fill('research'));
    expect(system.agentSpecs.map((s) => s.system)).toEqual(Array(10).fill('research-assistant'));
    for (const name of system.agents.keys()) {
      expect(m.get('Deployment', name).metadata?.labels?.['app.kubernetes.io/part-of']).toBe('research-assistant');
      m.get('Service', name);
      m.get('VirtualService', name);
      m.get('DestinationRule', name);
    }
    expect(system.agent('coder').canaryDeployment).toBeDefined();
    expect(() => system.agent('nobody')).toThrow(/no agent "nobody" \(agents: gateway, planner/);
  });

  test('the namespace is created, cluster-scoped, with sidecar injection on', () => {
    const ns = m.get('Namespace', 'research') as any;
    expect(ns.metadata).toEqual({
      name: 'research',
      labels: { 'app.kubernetes.io/managed-by': 'cdk8s-agents', 'app.kubernetes.io/part-of': 'research-assistant', 'istio-injection': 'enabled' },
    });
    expect(system.namespace).toBeDefined();
  });

  test('autoscaling: in-flight agents get a KEDA ScaledObject on the sidecar gauge and no HPA; others keep the CPU/memory HPA', () => {
    const planner = m.get('ScaledObject', 'planner-scaler') as any;
    expect(planner.spec.triggers[0]).toMatchObject({ type: 'prometheus', metadata: { threshold: '4', query: expect.stringContaining('agent_inflight_invocations{namespace="research",agent="planner"}') } });
    expect(m.find({ kind: 'HorizontalPodAutoscaler', agent: 'planner' })).toEqual([]);
    const webSearch = m.get('ScaledObject', 'web-search-scaler') as any;
    expect(webSearch.spec).toMatchObject({ minReplicaCount: 0, maxReplicaCount: 6 });
    expect(webSearch.spec.triggers[0].metadata.activationThreshold).toBe('1');
    const gateway = m.get('HorizontalPodAutoscaler', 'gateway-hpa') as any;
    expect(gateway.spec.metrics.map((x: any) => x.resource.name)).toEqual(['cpu', 'memory']);
    expect(m.find({ kind: 'ScaledObject', agent: 'gateway' })).toEqual([]);
  });

  test('the mesh allows exactly the declared call graph', () => {
    const expected = [
      ['gateway', 'planner'], ['planner', 'researcher'], ['planner', 'coder'], ['planner', 'writer'], ['planner', 'critic'], ['planner', 'memory'],
      ['researcher', 'retriever'], ['researcher', 'web-search'], ['retriever', 'memory'], ['coder', 'sandbox'], ['writer', 'critic'], ['gateway', 'critic'],
    ];
    expect(system.spec.calls).toEqual(expected);
    const sorted = expected.map(([caller, callee]) => ({ caller, callee })).sort((a, b) => a.caller.localeCompare(b.caller) || a.callee.localeCompare(b.callee));
    expect(system.mesh.edges).toEqual(sorted);
    // Callers of memory, read from its AuthorizationPolicy: planner and retriever only.
    const policy = m.get('AuthorizationPolicy', 'memory-allow') as any;
    const principals = policy.spec.rules.flatMap((r: any) => r.from.flatMap((f: any) => f.source.principals ?? []));
    expect(principals.sort()).toEqual(['cluster.local/ns/research/sa/planner', 'cluster.local/ns/research/sa/retriever']);
    // The gateway is reachable from the ingress namespace.
    const gw = m.get('AuthorizationPolicy', 'gateway-allow') as any;
    expect(JSON.stringify(gw.spec.rules)).toContain('istio-ingress');
  });

  test('canary: a canary Deployment and a 90/10 split in the VirtualService', () => {
    m.get('Deployment', 'coder-canary');
    const vs = m.get('VirtualService', 'coder') as any;
    const route = vs.spec.http.find((h: any) => h.name === 'coder').route;
    expect(route.map((r: any) => [r.destination.subset, r.weight])).toEqual([['stable', 90], ['canary', 10]]);
  });

  test('the reference-form agent: routing_rules and load_balancer reach the mesh', () => {
    const dr = m.get('DestinationRule', 'memory') as any;
    expect(dr.spec.trafficPolicy.loadBalancer).toEqual({ simple: 'LEAST_REQUEST' });
    const vs = m.get('VirtualService', 'memory') as any;
    expect(vs.spec.http[0]).toMatchObject({ match: [{ uri: { prefix: '/v1/recall' } }], retries: { attempts: 2, perTryTimeout: '10s' } });
    const deployment = m.get('Deployment', 'memory') as any;
    expect(deployment.spec.template.spec.containers[0].image).toBe('ghcr.io/example/memory-agent:2.3.0');
  });

  test('SLOs reach the agent specs (read by the monitoring stack)', () => {
    expect(system.agentSpecs.filter((s) => s.slo).map((s) => s.name)).toEqual(['gateway', 'planner', 'researcher', 'retriever', 'coder', 'writer']);
  });

  test('monitoring: one ServiceMonitor, PrometheusRule and dashboard for the system, with its options', () => {
    expect(system.monitoring).toBeDefined();
    const rule = m.get('PrometheusRule', 'research-assistant-agents', 'research') as any;
    expect(rule.metadata.labels.release).toBe('kube-prometheus-stack');
    const rules = rule.spec.groups.flatMap((g: any) => g.rules);
    // Per-agent alertThresholds become the stack's overrides: a threshold series for retriever.
    expect(rules).toContainEqual(expect.objectContaining({ record: 'agent:error_ratio:threshold', expr: 'vector(0.02)', labels: expect.objectContaining({ agent: 'retriever' }) }));
    expect(rules.filter((r: any) => r.alert).every((r: any) => r.labels.tenant === 'research')).toBe(true);
    // SLO burn-rate alerts exist for the agents with an SLO.
    expect(JSON.stringify(rules)).toContain('slo_objective');
    const monitor = m.get('ServiceMonitor', 'research-assistant-agents') as any;
    expect(monitor.spec.selector.matchLabels['app.kubernetes.io/part-of']).toBe('research-assistant');
    const dashboard = m.get('ConfigMap', 'research-assistant-agents-dashboard') as any;
    expect(dashboard.metadata.annotations).toEqual({ grafana_folder: 'Agents' });
  });
});

describe('AgentSystem monitoring switches', () => {
  const agents = [{ name: 'a', image: 'ghcr.io/acme/a:1.0.0' }];
  const kinds = (props: AgentSystemProps) => {
    const c = chart();
    const s = new AgentSystem(c, 'sys', props);
    return { s, kinds: synthObjects(c).objects.map((o) => o.kind) };
  };

  test('createNamespace: false leaves the namespace to someone else', () => {
    const { s, kinds: k } = kinds({ agents, createNamespace: false });
    expect(s.namespace).toBeUndefined();
    expect(k).not.toContain('Namespace');
  });

  test('monitoring: false builds none', () => {
    const { s, kinds: k } = kinds({ agents, monitoring: false });
    expect(s.monitoring).toBeUndefined();
    expect(k).not.toContain('PrometheusRule');
  });

  test('no agent runs the sidecar: nothing to scrape, so no monitoring (and no error)', () => {
    const { s, kinds: k } = kinds({ agents: [{ ...agents[0], sidecar: false }] });
    expect(s.monitoring).toBeUndefined();
    expect(k).not.toContain('ServiceMonitor');
  });

  test('monitoring objects go to the system namespace unless monitoring.namespace says otherwise', () => {
    const c = chart();
    new AgentSystem(c, 'sys', { namespace: 'agents', agents, monitoring: { namespace: 'monitoring' } });
    expect(synthObjects(c).get('PrometheusRule', 'agents-agents').metadata?.namespace).toBe('monitoring');
    const c2 = chart('other');
    new AgentSystem(c2, 'sys', { namespace: 'agents', agents });
    expect(synthObjects(c2).get('PrometheusRule', 'agents-agents').metadata?.namespace).toBe('agents');
  });

  test('bad monitoring options are reported under monitoring, with a did-you-mean', () => {
    expect(systemErrors({ agents, monitoring: { thresholds: { errorRatio: 2 }, dashbaord: false } } as AgentSystemProps)).toEqual([
      'monitoring.thresholds.errorRatio: Too big: expected number to be <1',
      'monitoring.dashbaord: unknown field "dashbaord"; did you mean "dashboard"?',
    ]);
  });
});

describe('AgentSystem from TypeScript', () => {
  test('camelCase and reference agents side by side; chart namespace is not used (the spec decides)', () => {
    const c = chart('elsewhere');
    const s = new AgentSystem(c, 'support', {
      name: 'support',
      namespace: 'agents',
      agents: [
        { name: 'planner', image: 'ghcr.io/acme/planner:1.2.0', calls: ['researcher'], autoscaling: { metric: 'inflight', targetPerReplica: 4 } },
        { agent_id: 'researcher', image: 'ghcr.io/acme/researcher', tag: '2.0.1', load_balancer: 'RANDOM' },
      ],
    });
    expect(s.agentSpecs.map((x) => `${x.namespace}/${x.name}`)).toEqual(['agents/planner', 'agents/researcher']);
    expect(s.mesh.edges).toEqual([{ caller: 'planner', callee: 'researcher' }]);
  });

  test('a parsed spec is accepted as is', () => {
    const parsed = parseSystemSpec({ agents: [{ name: 'a', image: 'ghcr.io/acme/a:1.0.0' }] });
    if (!parsed.success) throw new Error('invalid');
    const s = new AgentSystem(chart(), 'sys', parsed.data);
    expect(s.spec).toBe(parsed.data);
  });

  test('invalid specs throw a SystemSpecError naming the construct path and each field', () => {
    expect(systemErrors({ agents: [{ name: 'a', image: 'ghcr.io/acme/a:latest', calls: ['b'] }] } as AgentSystemProps)).toEqual([
      'agents[0].image: "ghcr.io/acme/a:latest" uses the mutable tag "latest": pin a version or a digest',
      'agents[0].calls[0]: calls unknown agent "b"',
    ]);
  });

  test('errors raised by MeshPolicy come back on the agent field that caused them', () => {
    expect(systemErrors({ agents: [{ name: 'a', image: 'ghcr.io/acme/a:1.0.0', loadBalancer: { strategy: 'weighted' } }] })).toEqual([
      expect.stringMatching(/^agents\[0\]\.loadBalancer\.weights: the weighted strategy needs weights/),
    ]);
    expect(systemErrors({ agents: [{ name: 'a', image: 'ghcr.io/acme/a:1.0.0', canary: { image: 'ghcr.io/acme/a:1.0.0', weight: 5 } }] })).toEqual([
      expect.stringMatching(/^agents\[0\]\.canary\.version: .*must differ from the stable version/),
    ]);
  });

  test('deterministic: the same spec gives the same bytes, build after build', () => {
    const render = () => {
      const parsed = parseSystemSpec(exampleInput());
      if (!parsed.success) throw new Error('invalid');
      return emitDocuments(buildSystem(parsed.data).objects.map((o) => o.json));
    };
    const a = render();
    const b = render();
    expect(b).toBe(a);
    expect(a).not.toMatch(/\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/);
  });

  test('two systems in one app (different namespaces) do not clash', () => {
    const app = new App();
    const c1 = new Chart(app, 'one', { disableResourceNameHashes: true });
    const c2 = new Chart(app, 'two', { disableResourceNameHashes: true });
    new AgentSystem(c1, 's', { namespace: 'one', agents: [{ name: 'a', image: 'ghcr.io/acme/a:1.0.0' }] });
    new AgentSystem(c2, 's', { namespace: 'two', agents: [{ name: 'a', image: 'ghcr.io/acme/a:1.0.0' }] });
    expect(synthObjects(app).find({ kind: 'Deployment' }).map((d) => d.metadata?.namespace)).toEqual(['one', 'two']);
  });
});
