import * as fs from 'fs';
import * as path from 'path';
import * as YAML from 'yaml';
import { cli, diagnostics, requireBuiltCli, tmpdir, validate, writeFile } from './support';

// Issue 10's CLI defects, on the real CLI as a subprocess (lib/cli/main.js; `npm test` builds first).
beforeAll(requireBuiltCli);


describe('all problems of a reference-form agent at once', () => {
  test('unknown keys (top-level, nested, camelCase) do not hide the cross-field and tag problems', () => {
    const r = validate(`agents:
  - agent_id: planner
    name: planner
    image: ghcr.io/acme/planner
    tag: latest
    bogus: 1
    scaling: { min_replica: 1 }
    resources: { cpu_request: "2", cpu_limit: "1" }
`);
    expect(r.code).toBe(1);
    expect(diagnostics(r.stderr)).toEqual([
      expect.stringMatching(/^system\.yaml:3:5: agents\[0\]\.name: "name" is a camelCase field, but this agent uses the reference form/),
      'system.yaml:5:10: agents[0].tag: "ghcr.io/acme/planner:latest" uses the mutable tag "latest": pin a version or a digest',
      expect.stringMatching(/^system\.yaml:6:5: agents\[0\]\.bogus: unknown field "bogus" \(expected one of: agent_id, image, tag, /),
      'system.yaml:7:16: agents[0].scaling.min_replica: unknown field "min_replica"; did you mean "min_replicas"?',
      'system.yaml:8:31: agents[0].resources.cpu_request: (2) must not exceed limits.cpu (1)',
    ]);
    expect(r.stderr).toMatch(/5 errors\.\n$/);
  });

  test('props problems do not hide routing problems', () => {
    const r = validate(`agents:
  - agent_id: planner
    image: ghcr.io/acme/planner
    tag: latest
    routing_rules:
      - { path_prefix: /v1, weight: 50 }
`);
    expect(r.code).toBe(1);
    expect(diagnostics(r.stderr)).toEqual([
      'system.yaml:4:10: agents[0].tag: "ghcr.io/acme/planner:latest" uses the mutable tag "latest": pin a version or a digest',
      expect.stringMatching(/^system\.yaml:6:37: agents\[0\]\.routing_rules\[0\]\.weight: \(50\) must be 100/),
    ]);
  });
});

describe('unknown options get a did-you-mean (exit 2)', () => {
  test.each([
    [['synth', 'x.yaml', '--layot', 'per-agent'], `cdk8s-agents: Unknown option '--layot'; did you mean "--layout"?`],
    [['validate', '--qiet', 'x.yaml'], `cdk8s-agents: Unknown option '--qiet'; did you mean "--quiet"?`],
    [['--verison'], `cdk8s-agents: Unknown option '--verison'; did you mean "--version"?`],
    [['traffic', 'x.yaml', '--formt', 'dot'], `cdk8s-agents: traffic: Unknown option '--formt'; did you mean "--format"?`],
    [['traffic', 'x.yaml', '--expect-decalred'], `cdk8s-agents: traffic: Unknown option '--expect-decalred'; did you mean "--expect-declared"?`],
    // Nothing close: no guess.
    [['synth', 'x.yaml', '--frobnicate'], `cdk8s-agents: Unknown option '--frobnicate'`],
    [['synth', 'x.yaml', '-x'], `cdk8s-agents: Unknown option '-x'`],
  ])('%j', (args, first) => {
    const r = cli(args);
    expect(r.code).toBe(2);
    expect(r.stderr.split('\n')[0]).toBe(first);
    expect(r.stderr).toContain('Run `cdk8s-agents --help` for usage.');
  });
});

describe('quantities written as YAML numbers (valid in Kubernetes)', () => {
  test('cpu: 2, memory and ephemeral storage in bytes, extended resources: accepted and written as strings', () => {
    const dir = tmpdir();
    writeFile(dir, 'system.yaml', `agents:
  - name: planner
    image: ghcr.io/acme/planner:1.0.0
    resources:
      requests: { cpu: 0.5, memory: 268435456 }
      limits: { cpu: 2, memory: 1073741824, ephemeralStorage: 2000000000, nvidia.com/gpu: 1 }
  - agent_id: coder
    image: ghcr.io/acme/coder
    tag: 1.0.0
    resources: { cpu_request: 1, cpu_limit: 3 }
`);
    const r = cli(['synth', 'system.yaml', '--out', 'out', '--layout', 'per-resource'], { cwd: dir });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const agentContainer = (file: string) => {
      const d = YAML.parse(fs.readFileSync(path.join(dir, 'out', file), 'utf8'));
      return d.spec.template.spec.containers.find((c: { name: string }) => c.name === 'agent').resources;
    };
    expect(agentContainer('deployment-planner.yaml')).toEqual({
      requests: { cpu: '0.5', memory: '268435456', 'ephemeral-storage': '256Mi', 'nvidia.com/gpu': '1' },
      limits: { cpu: '2', memory: '1073741824', 'ephemeral-storage': '2000000000', 'nvidia.com/gpu': '1' },
    });
    expect(agentContainer('deployment-coder.yaml')).toMatchObject({ requests: { cpu: '1' }, limits: { cpu: '3' } });
    // The text of the manifest quotes them, so every reader sees a string.
    expect(fs.readFileSync(path.join(dir, 'out', 'deployment-planner.yaml'), 'utf8')).toMatch(/^ +cpu: "2"$/m);
  });

  test('numbers are checked like strings: the cross-field rule compares them, bad ones say what is expected', () => {
    const r = validate(`agents:
  - name: planner
    image: ghcr.io/acme/planner:1.0.0
    resources: { requests: { cpu: 4 }, limits: { cpu: 2 } }
  - name: worker
    image: ghcr.io/acme/worker:1.0.0
    resources:
      requests: { memory: -5 }
      limits: { ephemeralStorage: 0, cpu: true }
`);
    expect(r.code).toBe(1);
    expect(diagnostics(r.stderr)).toEqual([
      'system.yaml:4:35: agents[0].resources.requests.cpu: (4) must not exceed limits.cpu (2)',
      'system.yaml:8:27: agents[1].resources.requests.memory: must be a memory quantity such as "256Mi" or "1Gi"',
      'system.yaml:9:35: agents[1].resources.limits.ephemeralStorage: must be greater than 0',
      'system.yaml:9:43: agents[1].resources.limits.cpu: Invalid input: expected one of string or number',
    ]);
  });
});

describe('problems in shared settings (x- anchors, merge keys, aliases) point at the anchor', () => {
  test('a typo inside an x- anchor merged with <<: *defaults is reported at its own line', () => {
    const r = validate(`x-defaults: &defaults
  team: agents-core
  autoscalng: { metric: inflight, targetPerReplica: 4 }
agents:
  - <<: *defaults
    name: planner
    image: ghcr.io/acme/planner:1.0.0
`);
    expect(r.code).toBe(1);
    expect(diagnostics(r.stderr)).toEqual(['system.yaml:3:3: agents[0].autoscalng: unknown field "autoscalng"; did you mean "autoscaling"?']);
    expect(r.stderr).toContain('  3 |   autoscalng: { metric: inflight, targetPerReplica: 4 }\n    |   ^');
  });

  test('merges of merges, merge lists and plain aliases are followed; own keys win over merged ones', () => {
    const r = validate(`x-auto: &auto { metric: inflight, targetPerReplica: 0 }
x-base: &base
  team: agents-core
  resources: { limits: { cpu: 2x } }
x-defaults: &defaults
  <<: *base
  autoscaling: *auto
agents:
  - <<: [*defaults]
    name: planner
    image: ghcr.io/acme/planner:1.0.0
  - <<: *defaults
    name: worker
    image: ghcr.io/acme/worker:1.0.0
    autoscaling: { metric: inflight, targetPerReplica: -1 }
    resources: { limits: { cpu: "1" } }
`);
    expect(r.code).toBe(1);
    expect(diagnostics(r.stderr)).toEqual([
      'system.yaml:1:53: agents[0].autoscaling.targetPerReplica: Too small: expected number to be >0',
      'system.yaml:4:31: agents[0].resources.limits.cpu: must be a CPU quantity such as "250m" or "1"',
      'system.yaml:15:56: agents[1].autoscaling.targetPerReplica: Too small: expected number to be >0',
    ]);
  });
});
