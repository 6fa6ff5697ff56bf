import { cli, requireBuiltCli, tmpdir, writeFile } from './support';

// Issue 10's CLI defects, on the real CLI as a subprocess (lib/cli/main.js; `npm test` builds first).
beforeAll(requireBuiltCli);

function validate(text: string) {
  const dir = tmpdir();
  writeFile(dir, 'system.yaml', text);
  return cli(['validate', 'system.yaml'], { cwd: dir });
}

/** The first line of each diagnostic (the excerpt lines are indented). */
function diagnostics(stderr: string): string[] {
  return stderr.split('\n').filter((l) => /^\S+:\d+:\d+: /.test(l));
}

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
