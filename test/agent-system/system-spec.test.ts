import * as fs from 'fs';
import * as path from 'path';
import Ajv2020 from 'ajv/dist/2020';
import * as YAML from 'yaml';
import {
  didYouMean,
  formatSpecIssue,
  levenshtein,
  parsePath,
  parseSystemSpec,
  SpecIssue,
} from '../../system/system-spec';
import { systemSpecJsonSchema, systemSpecJsonSchemaText } from '../../system/json-schema';

const ROOT = path.join(__dirname, '..', '..');
const IMAGE = 'ghcr.io/example/agent:1.0.0';

function issuesOf(input: unknown): SpecIssue[] {
  const r = parseSystemSpec(input);
  if (r.success) throw new Error('expected the spec to be rejected');
  return [...r.issues];
}
function lines(input: unknown): string[] {
  return issuesOf(input).map(formatSpecIssue);
}
function ok(input: unknown) {
  const r = parseSystemSpec(input);
  if (!r.success) throw new Error(r.issues.map(formatSpecIssue).join('\n'));
  return r.data;
}

describe('parseSystemSpec: camelCase form', () => {
  test('defaults: system name multi-agents, namespace = name; system and namespace set on every agent', () => {
    const s = ok({ agents: [{ name: 'planner', image: IMAGE }] });
    expect(s.name).toBe('multi-agents');
    expect(s.namespace).toBe('multi-agents');
    expect(s.agents[0]).toMatchObject({ name: 'planner', index: 0, form: 'camelCase', props: { name: 'planner', image: IMAGE, system: 'multi-agents', namespace: 'multi-agents' } });
    const nsOnly = ok({ namespace: 'agents', agents: [{ name: 'planner', image: IMAGE }] });
    expect([nsOnly.name, nsOnly.namespace]).toEqual(['agents', 'agents']);
  });

  test('per-agent mesh options are split from AgentService props; canary carries both', () => {
    const s = ok({
      name: 'sys',
      namespace: 'agents',
      agents: [{ name: 'coder', image: IMAGE, timeout: '60s', retries: { attempts: 1 }, canary: { image: 'ghcr.io/example/agent:2.0.0', weight: 10, replicas: 2 } }],
    });
    const a = s.agents[0];
    expect(a.props).toEqual({ name: 'coder', image: IMAGE, system: 'sys', namespace: 'agents', canary: { image: 'ghcr.io/example/agent:2.0.0', replicas: 2 } });
    expect(a.mesh).toEqual({ timeout: '60s', retries: { attempts: 1 }, canary: { weight: 10 } });
  });

  test('call graph: per-agent calls and top-level pairs merged, deduplicated, in order', () => {
    const s = ok({
      agents: [
        { name: 'a', image: IMAGE, calls: ['b', 'c'] },
        { name: 'b', image: IMAGE, calls: ['c'] },
        { name: 'c', image: IMAGE },
      ],
      calls: [['a', 'b'], ['c', 'a']],
    });
    expect(s.calls).toEqual([['a', 'b'], ['a', 'c'], ['b', 'c'], ['c', 'a']]);
  });

  test('agent-aware autoscaling passes through to AgentService', () => {
    const s = ok({ agents: [{ name: 'a', image: IMAGE, autoscaling: { metric: 'inflight', targetPerReplica: 4, scaleToZero: true, activationThreshold: 1 } }] });
    expect(s.agents[0].props.autoscaling).toEqual({ metric: 'inflight', targetPerReplica: 4, scaleToZero: true, activationThreshold: 1 });
  });
});

describe('parseSystemSpec: reference form', () => {
  const reference = {
    agents: [
      {
        agent_id: 'planner',
        image: 'ghcr.io/example/planner',
        tag: '1.2.0',
        resources: { cpu_request: '200m', memory_limit: '2Gi' },
        environment: { LOG_LEVEL: 'debug' },
        ports: [9000],
        health_check: { path: '/healthz', readiness_path: '/readyz' },
        scaling: { min_replicas: 3, max_replicas: 9, target_cpu: 60 },
        routing_rules: [{ path_prefix: '/v1', retry_policy: { attempts: 3, perTryTimeout: '20s' }, fault_injection: { delay: { fixedDelay: '1s', percentage: { value: 5 } } } }],
        load_balancer: 'ROUND_ROBIN',
      },
    ],
  };

  test('maps to AgentService props and MeshPolicy options', () => {
    const a = ok(reference).agents[0];
    expect(a.form).toBe('reference');
    expect(a.props).toMatchObject({
      name: 'planner',
      image: 'ghcr.io/example/planner:1.2.0',
      port: 9000,
      env: { LOG_LEVEL: 'debug' },
      resources: { requests: { cpu: '200m' }, limits: { memory: '2Gi' } },
      healthCheck: { livenessPath: '/healthz', readinessPath: '/readyz' },
      autoscaling: { minReplicas: 3, maxReplicas: 9, targetCpuPercent: 60 },
    });
    expect(a.mesh).toEqual({
      loadBalancer: 'round_robin',
      routes: [{ uriPrefix: '/v1', retries: { attempts: 3, perTryTimeout: '20s' }, fault: { delay: { fixedDelay: '1s', percentage: 5 } } }],
    });
  });

  test('value errors are reported on the snake_case field they came from', () => {
    const bad = { agents: [{ agent_id: 'p', image: 'ghcr.io/x/p', tag: 'latest', scaling: { min_replicas: 5, max_replicas: 2 }, resources: { cpu_request: 'lots' } }] };
    expect(lines(bad)).toEqual(expect.arrayContaining([
      expect.stringMatching(/^agents\[0\]\.tag: .*mutable tag "latest"/),
      expect.stringMatching(/^agents\[0\]\.scaling\.max_replicas: \(2\) must be >= minReplicas \(5\)/),
      expect.stringMatching(/^agents\[0\]\.resources\.cpu_request: must be a CPU quantity/),
    ]));
  });

  test('routing rules the mesh cannot express are rejected with the reason', () => {
    const bad = { agents: [{ agent_id: 'p', image: IMAGE, routing_rules: [{ port: 9999 }, { weight: 50 }] }] };
    expect(lines(bad)).toEqual([
      expect.stringMatching(/^agents\[0\]\.routing_rules\[0\]\.port: \(9999\) must be the agent's port 8080/),
      expect.stringMatching(/^agents\[0\]\.routing_rules\[1\]\.weight: \(50\) must be 100/),
    ]);
  });

  test('mixing forms in one agent is rejected, naming the foreign field', () => {
    expect(lines({ agents: [{ agent_id: 'p', image: 'ghcr.io/x/p', tag: '1.0', autoscaling: {} }] })).toEqual([
      expect.stringMatching(/^agents\[0\]\.autoscaling: "autoscaling" is a camelCase field, but this agent uses the reference form \(agent_id\)/),
    ]);
    expect(lines({ agents: [{ name: 'p', image: IMAGE, health_check: {} }] })).toEqual([
      expect.stringMatching(/^agents\[0\]\.health_check: "health_check" is a reference-form field, but this agent uses the camelCase form \(name\).*did you mean "healthCheck"\?/),
    ]);
  });

  test('the two forms mix across agents of one system', () => {
    const s = ok({ agents: [{ name: 'a', image: IMAGE, calls: ['b'] }, { agent_id: 'b', image: 'ghcr.io/x/b', tag: '1.0' }] });
    expect(s.agents.map((a) => a.form)).toEqual(['camelCase', 'reference']);
    expect(s.calls).toEqual([['a', 'b']]);
  });
});

describe('parseSystemSpec: errors', () => {
  test('unknown keys, with a did-you-mean at every level', () => {
    const issues = issuesOf({
      nmae: 'x',
      agents: [{ name: 'a', image: IMAGE, autoscalng: {}, resources: { request: {} }, healthcheck: {} }],
    });
    expect(issues.map(formatSpecIssue)).toEqual(expect.arrayContaining([
      'nmae: unknown field "nmae"; did you mean "name"?',
      'agents[0].autoscalng: unknown field "autoscalng"; did you mean "autoscaling"?',
      'agents[0].resources.request: unknown field "request"; did you mean "requests"?',
      'agents[0].healthcheck: unknown field "healthcheck"; did you mean "healthCheck"?',
    ]));
    expect(issues.every((i) => i.atKey)).toBe(true);
  });

  test('an unknown key far from every field lists what is expected', () => {
    expect(lines({ agents: [{ name: 'a', image: IMAGE, resources: { zzzzzzzz: 1 } }] })).toEqual([
      'agents[0].resources.zzzzzzzz: unknown field "zzzzzzzz" (expected one of: requests, limits)',
    ]);
  });

  test('wrong types say what is expected', () => {
    expect(lines({ agents: [{ name: 'a', image: IMAGE, autoscaling: { maxReplicas: 'ten' } }] })).toEqual([
      'agents[0].autoscaling.maxReplicas: Invalid input: expected number, received string',
    ]);
    expect(lines({ agents: [{ name: 'a' }] })).toEqual(['agents[0].image: missing required field (expected string)']);
    expect(lines({ agents: 'planner' })).toEqual(['agents: Invalid input: expected array, received string']);
    expect(lines({ agents: [] })).toEqual(['agents: a system needs at least one agent']);
    expect(lines('hello')[0]).toMatch(/^expected a mapping with "agents"/);
    expect(lines({ agents: [{ name: 'a', image: IMAGE, sidecar: 'yes' }] })[0]).toMatch(/^agents\[0\]\.sidecar: .*expected one of boolean or a mapping with enabled, image/);
  });

  test('AgentService cross-field rules run at spec time, with the agent path', () => {
    expect(lines({ agents: [{ name: 'a', image: IMAGE, replicas: 2, autoscaling: {} }] })).toEqual([
      'agents[0].replicas: set either replicas (a fixed count) or autoscaling, not both',
    ]);
  });

  test('duplicate agent ids (across forms) point at the second one', () => {
    expect(lines({ agents: [{ name: 'a', image: IMAGE }, { name: 'b', image: IMAGE }, { agent_id: 'a', image: 'x/y', tag: '1' }] })).toEqual([
      'agents[2].agent_id: duplicate agent id "a": already used by agents[0]',
    ]);
  });

  test('call graph naming unknown agents, with a did-you-mean', () => {
    expect(lines({
      agents: [{ name: 'planner', image: IMAGE, calls: ['researcher', 'cdoer'] }, { name: 'coder', image: IMAGE }],
      calls: [['planner', 'coder'], ['ghost', 'coder']],
    })).toEqual([
      'agents[0].calls[0]: calls unknown agent "researcher"',
      'agents[0].calls[1]: calls unknown agent "cdoer"; did you mean "coder"?',
      'calls[1][0]: calls unknown agent "ghost"',
    ]);
    expect(lines({ agents: [{ name: 'a', image: IMAGE }], calls: [['a']] })[0]).toMatch(/^calls\[0\]: /);
  });

  test('an agent namespace or system other than the system one is rejected', () => {
    expect(lines({ name: 's', agents: [{ name: 'a', image: IMAGE, namespace: 'other' }] })).toEqual([
      'agents[0].namespace: ("other") must be the system namespace "s" or be omitted: the mesh and monitoring of a system live in one namespace',
    ]);
  });
});

describe('helpers', () => {
  test('levenshtein and did-you-mean', () => {
    expect(levenshtein('kitten', 'sitting')).toBe(3);
    expect(levenshtein('', 'abc')).toBe(3);
    expect(didYouMean('min_replicas', ['minReplicas', 'maxReplicas'])).toBe('; did you mean "minReplicas"?');
    expect(didYouMean('zzz', ['minReplicas'])).toBe('');
  });
  test('parsePath', () => {
    expect(parsePath('agents.planner.routes[2].retries')).toEqual(['agents', 'planner', 'routes', 2, 'retries']);
  });
});

describe('JSON Schema', () => {
  const file = path.join(ROOT, 'schemas', 'system.schema.json');

  test('schemas/system.schema.json is up to date (regenerate: node lib/cli/main.js schema --out schemas/system.schema.json)', () => {
    expect(fs.readFileSync(file, 'utf8')).toBe(systemSpecJsonSchemaText());
  });

  test('accepts the example and both forms, rejects unknown keys and wrong types', () => {
    const ajv = new Ajv2020({ strict: false, allErrors: true });
    const validate = ajv.compile(systemSpecJsonSchema());
    const example = YAML.parse(fs.readFileSync(path.join(ROOT, 'examples', 'system.yaml'), 'utf8'));
    expect(validate(example) ? [] : validate.errors).toEqual([]);
    expect(validate({ agents: [{ agent_id: 'a', image: 'x/y', tag: '1', load_balancer: 'RANDOM' }] })).toBe(true);
    expect(validate({ agents: [{ name: 'a', image: IMAGE, autoscalng: {} }] })).toBe(false);
    expect(validate({ agents: [{ name: 'a', image: IMAGE, replicas: 'two' }] })).toBe(false);
    expect(validate({ agents: [{ name: 'a', image: IMAGE }], extra: 1 })).toBe(false);
  });

  test('monitoring alert options name the built-in, workload and model-call alerts (schema and parser agree)', () => {
    const validate = new Ajv2020({ strict: false, allErrors: true }).compile(systemSpecJsonSchema());
    const monitoring = { disabledAlerts: ['AgentTokenBudgetNearlySpent', 'AgentCpuThrottlingHigh'], alertFor: { AgentTimeToFirstTokenHigh: '30m' }, alertSeverities: { AgentModelProviderErrors: 'emergency' } };
    const spec = { agents: [{ name: 'a', image: IMAGE }], monitoring };
    expect(validate(spec) ? [] : validate.errors).toEqual([]);
    expect(ok(spec).monitoring).toMatchObject(monitoring);
    const typo = { agents: [{ name: 'a', image: IMAGE }], monitoring: { disabledAlerts: ['AgentTokenBudgetNearlySpnt'] } };
    expect(validate(typo)).toBe(false);
    expect(lines(typo).join('\n')).toMatch(/monitoring\.disabledAlerts\[0\].*AgentTokenBudgetNearlySpent/);
  });

  test('documents fields for editor completion', () => {
    const text = systemSpecJsonSchemaText();
    expect(text).toContain('Call graph edges');
    expect(text).toContain('"agent_id"');
    expect(text).toContain('"targetPerReplica"');
  });
});
