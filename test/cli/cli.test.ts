import * as fs from 'fs';
import * as path from 'path';
import { cli, diagnostics, EXAMPLE, requireBuiltCli, tmpdir, validate, writeFile } from './support';

// The real CLI as a subprocess (lib/cli/main.js; `npm test` builds first).
beforeAll(requireBuiltCli);

const GOOD = `name: demo
namespace: demo
agents:
  - name: planner
    image: ghcr.io/acme/planner:1.0.0
    calls: [worker]
  - name: worker
    image: ghcr.io/acme/worker:1.0.0
`;


describe('cdk8s-agents validate: good input', () => {
  test('a valid file: exit 0 and a summary', () => {
    const r = validate(GOOD);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^system\.yaml: valid \(2 agents, 1 call, \d+ objects, checked against the Kubernetes and CRD schemas\)/);
  });

  test('the example validates, its objects pass the schema and policy validator', () => {
    const r = cli(['validate', path.relative(process.cwd(), EXAMPLE)]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/valid \(10 agents, \d+ calls, \d+ objects, checked against the Kubernetes and CRD schemas\)/);
  });

  test('agents can share settings through x- anchors and merge keys', () => {
    const dir = tmpdir();
    writeFile(dir, 'system.yaml', `x-defaults: &defaults
  team: agents-core
  autoscaling: { metric: inflight, targetPerReplica: 4 }
agents:
  - <<: *defaults
    name: planner
    image: ghcr.io/acme/planner:1.0.0
  - <<: *defaults
    name: worker
    image: ghcr.io/acme/worker:1.0.0
    autoscalng: {}
`);
    // The typo is found in the agent that has it, at its own line.
    const bad = cli(['validate', 'system.yaml'], { cwd: dir });
    expect(diagnostics(bad.stderr)).toEqual(['system.yaml:11:5: agents[1].autoscalng: unknown field "autoscalng"; did you mean "autoscaling"?']);
    writeFile(dir, 'system.yaml', fs.readFileSync(path.join(dir, 'system.yaml'), 'utf8').replace('    autoscalng: {}\n', ''));
    expect(cli(['synth', 'system.yaml', '--out', 'out'], { cwd: dir }).code).toBe(0);
    const text = fs.readFileSync(path.join(dir, 'out', 'multi-agents.yaml'), 'utf8');
    expect(text.match(/^kind: ScaledObject$/gm)).toHaveLength(2);
  });

  test('--quiet prints nothing on success', () => {
    const dir = tmpdir();
    writeFile(dir, 'system.yaml', GOOD);
    const r = cli(['validate', '-q', 'system.yaml'], { cwd: dir });
    expect([r.code, r.stdout, r.stderr]).toEqual([0, '', '']);
  });
});

describe('cdk8s-agents validate: invalid input points at file:line:column (exit 1)', () => {
  test('wrong type', () => {
    const r = validate(`name: demo
agents:
  - name: planner
    image: ghcr.io/acme/planner:1.0.0
    autoscaling:
      maxReplicas: ten
`);
    expect(r.code).toBe(1);
    expect(diagnostics(r.stderr)).toEqual(['system.yaml:6:20: agents[0].autoscaling.maxReplicas: Invalid input: expected number, received string']);
    // The offending line is quoted with a caret under the column.
    expect(r.stderr).toContain('  6 |       maxReplicas: ten\n    |                    ^');
    expect(r.stderr).toMatch(/1 error\.\n$/);
  });

  test('unknown keys, with a did-you-mean', () => {
    const r = validate(`agents:
  - name: planner
    image: ghcr.io/acme/planner:1.0.0
    autoscalling:
      maxReplicas: 3
    resources:
      limits: { cpu: "1", memroy: 1Gi }
sytem: x
`);
    expect(r.code).toBe(1);
    expect(diagnostics(r.stderr)).toEqual([
      'system.yaml:4:5: agents[0].autoscalling: unknown field "autoscalling"; did you mean "autoscaling"?',
      'system.yaml:7:27: agents[0].resources.limits.memroy: unknown field "memroy"; did you mean "memory"?',
      'system.yaml:8:1: sytem: unknown field "sytem" (expected one of: name, namespace, createNamespace, calls, mesh, monitoring, gateway, agents)',
    ]);
  });

  test('an unquoted number where text is expected says to quote it', () => {
    const r = validate(`agents:
  - agent_id: planner
    image: ghcr.io/acme/planner
    tag: 1.0
`);
    expect(r.code).toBe(1);
    expect(diagnostics(r.stderr)).toEqual(['system.yaml:4:10: agents[0].tag: Invalid input: expected string, received number: quote the value (e.g. "1.0") so YAML reads it as text']);
  });

  test('missing required field points at the agent', () => {
    const r = validate(`agents:
  - name: planner
    port: 8080
`);
    expect(r.code).toBe(1);
    expect(diagnostics(r.stderr)).toEqual(['system.yaml:2:5: agents[0].image: missing required field (expected string)']);
  });

  test('invalid values say what is expected', () => {
    const r = validate(`agents:
  - name: Planner_1
    image: ghcr.io/acme/planner:latest
    resources:
      requests: { cpu: lots }
`);
    expect(r.code).toBe(1);
    expect(diagnostics(r.stderr)).toEqual([
      expect.stringMatching(/^system\.yaml:2:11: agents\[0\]\.name: must be a DNS-1035 label/),
      expect.stringMatching(/^system\.yaml:3:12: agents\[0\]\.image: .*mutable tag "latest": pin a version or a digest/),
      expect.stringMatching(/^system\.yaml:5:24: agents\[0\]\.resources\.requests\.cpu: must be a CPU quantity such as "250m"/),
    ]);
  });

  test('duplicate agent ids', () => {
    const r = validate(`agents:
  - name: planner
    image: ghcr.io/acme/planner:1.0.0
  - agent_id: planner
    image: ghcr.io/acme/planner
    tag: 1.0.1
`);
    expect(r.code).toBe(1);
    expect(diagnostics(r.stderr)).toEqual(['system.yaml:4:15: agents[1].agent_id: duplicate agent id "planner": already used by agents[0]']);
  });

  test('call graph naming unknown agents', () => {
    const r = validate(`agents:
  - name: planner
    image: ghcr.io/acme/planner:1.0.0
    calls: [wroker]
  - name: worker
    image: ghcr.io/acme/worker:1.0.0
calls:
  - [planner, ghost]
`);
    expect(r.code).toBe(1);
    expect(diagnostics(r.stderr)).toEqual([
      'system.yaml:4:13: agents[0].calls[0]: calls unknown agent "wroker"; did you mean "worker"?',
      'system.yaml:8:15: calls[0][1]: calls unknown agent "ghost"',
    ]);
  });

  test('mixing the reference and camelCase forms in one agent', () => {
    const r = validate(`agents:
  - agent_id: planner
    image: ghcr.io/acme/planner
    tag: 1.0.0
    maxConcurrentRequests: 4
`);
    expect(r.code).toBe(1);
    expect(diagnostics(r.stderr)).toEqual([expect.stringMatching(/^system\.yaml:5:5: agents\[0\]\.maxConcurrentRequests: "maxConcurrentRequests" is a camelCase field, but this agent uses the reference form/)]);
  });

  test('reference-form errors point at the snake_case field', () => {
    const r = validate(`agents:
  - agent_id: planner
    image: ghcr.io/acme/planner
    tag: 1.0.0
    scaling: { min_replicas: 4, max_replicas: 2 }
`);
    expect(r.code).toBe(1);
    expect(diagnostics(r.stderr)).toEqual(['system.yaml:5:47: agents[0].scaling.max_replicas: (2) must be >= minReplicas (4)']);
  });

  test('errors raised by the constructs (MeshPolicy) are mapped back to the agent field', () => {
    const r = validate(`agents:
  - name: planner
    image: ghcr.io/acme/planner:1.0.0
    loadBalancer: { strategy: weighted }
`);
    expect(r.code).toBe(1);
    expect(diagnostics(r.stderr)).toEqual([expect.stringMatching(/^system\.yaml:4:19: agents\[0\]\.loadBalancer\.weights: the weighted strategy needs weights/)]);
  });

  test('YAML syntax errors', () => {
    const r = validate(`agents:
  - name: planner
    image: [ghcr.io/acme/planner:1.0.0
`);
    expect(r.code).toBe(1);
    expect(diagnostics(r.stderr)[0]).toMatch(/^system\.yaml:\d+:\d+: .*(flow sequence|\])/i);
  });

  test('duplicate YAML keys', () => {
    const r = validate(`agents:
  - name: planner
    image: ghcr.io/acme/planner:1.0.0
    name: other
`);
    expect(r.code).toBe(1);
    expect(diagnostics(r.stderr)).toEqual(['system.yaml:4:5: Map keys must be unique']);
  });

  test('not a mapping, empty file, two documents, missing file', () => {
    expect(diagnostics(validate('- a\n- b\n').stderr)).toEqual([expect.stringMatching(/^system\.yaml:1:1: expected a mapping with "agents"/)]);
    const empty = validate('');
    expect(empty.code).toBe(1);
    expect(diagnostics(empty.stderr)).toEqual([expect.stringMatching(/^system\.yaml:1:1: the file is empty/)]);
    expect(diagnostics(validate(`${GOOD}---\n${GOOD}`).stderr)).toEqual([expect.stringMatching(/^system\.yaml:9:1: expected one YAML document/)]);
    const missing = cli(['validate', 'nope.yaml'], { cwd: tmpdir() });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^nope\.yaml:1:1: cannot read the system file: no such file/);
  });

  test('several errors are all reported, in file order', () => {
    const r = validate(`agents:
  - name: b
    image: ghcr.io/acme/b:1
    replicas: -1
  - name: a
    imag: ghcr.io/acme/a:1
`);
    expect(r.code).toBe(1);
    const lines = diagnostics(r.stderr).map((l) => l.split(': ')[0]);
    expect(lines).toEqual(['system.yaml:4:15', 'system.yaml:5:5', 'system.yaml:6:5']);
    expect(r.stderr).toMatch(/3 errors\.\n$/);
  });
});

describe('usage errors (exit 2), internal errors (exit 70), help', () => {
  test.each([
    [[], /Usage:/],
    [['frobnicate'], /unknown command "frobnicate"/],
    [['synth'], /synth: missing the system file/],
    [['validate', 'a.yaml', 'b.yaml'], /expected one system file, got 2/],
    [['synth', 'x.yaml', '--layout', 'tree'], /--layout must be one of single, per-agent, per-resource, got "tree"/],
    [['synth', 'x.yaml', '--frobnicate'], /Unknown option '--frobnicate'/],
    [['validate', 'x.yaml', '--out', 'd'], /validate takes no --out/],
  ])('%j', (args, message) => {
    const r = cli(args as string[]);
    expect(r.code).toBe(2);
    expect(r.stderr + r.stdout).toMatch(message);
  });

  test('--out naming a file is a usage error', () => {
    const dir = tmpdir();
    writeFile(dir, 'system.yaml', GOOD);
    writeFile(dir, 'dist', 'not a folder');
    const r = cli(['synth', 'system.yaml', '--out', 'dist'], { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--out dist: is a file, expected a folder/);
    // A folder that cannot be created is a usage problem too, not an internal error.
    const nested = cli(['synth', 'system.yaml', '--out', 'dist/sub'], { cwd: dir });
    expect(nested.code).toBe(2);
    expect(nested.stderr).toMatch(/--out dist\/sub: cannot write the output \(ENOTDIR/);
  });

  test('an unexpected failure exits 70 and says it is a bug; the stack only with CDK8S_AGENTS_DEBUG', () => {
    const dir = tmpdir();
    writeFile(dir, 'system.yaml', GOOD);
    const r = cli(['validate', 'system.yaml'], { cwd: dir, env: { CDK8S_AGENTS_TEST_INTERNAL_ERROR: '1' } });
    expect(r.code).toBe(70);
    expect(r.stderr).toMatch(/internal error: injected failure/);
    expect(r.stderr).toMatch(/This is a bug in cdk8s-agents/);
    expect(r.stderr).not.toMatch(/ at /);
    const debug = cli(['validate', 'system.yaml'], { cwd: dir, env: { CDK8S_AGENTS_TEST_INTERNAL_ERROR: '1', CDK8S_AGENTS_DEBUG: '1' } });
    expect(debug.code).toBe(70);
    expect(debug.stderr).toMatch(/TypeError: injected failure[\s\S]* at /);
  });

  test('--help documents commands, options, layouts and exit codes', () => {
    const r = cli(['--help']);
    expect(r.code).toBe(0);
    for (const s of ['synth <system.yaml>', 'validate <system.yaml>', 'schema', '--out', '--layout', 'single', 'per-agent', 'per-resource', '_system.yaml', 'kustomization.yaml', 'Exit codes', '  0 ', '  1 ', '  2 ', '  70 ', 'CDK8S_AGENTS_DEBUG']) {
      expect(r.stdout).toContain(s);
    }
    expect(cli(['help', 'synth']).stdout).toMatch(/^Usage: cdk8s-agents synth/);
  });

  test('--version prints the package version', () => {
    const r = cli(['--version']);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'package.json'), 'utf8')).version);
  });

  test('schema prints the JSON Schema that is committed, or writes it with --out', () => {
    const committed = fs.readFileSync(path.join(__dirname, '..', '..', 'schemas', 'system.schema.json'), 'utf8');
    const r = cli(['schema']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(committed);
    const dir = tmpdir();
    const w = cli(['schema', '--out', 'nested/system.schema.json'], { cwd: dir });
    expect([w.code, w.stdout]).toEqual([0, 'wrote nested/system.schema.json\n']);
    expect(fs.readFileSync(path.join(dir, 'nested', 'system.schema.json'), 'utf8')).toBe(committed);
  });
});
