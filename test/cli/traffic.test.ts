import * as fs from 'fs';
import * as path from 'path';
import * as YAML from 'yaml';
import { cli, diagnostics, EXAMPLE, requireBuiltCli, ROOT, tmpdir, writeFile } from './support';

// `cdk8s-agents traffic` as a subprocess (lib/cli/main.js): the flow matrix of the examples and
// of a folder of synthesized manifests, its pictures, and --expect-declared for CI.
beforeAll(requireBuiltCli);

const EDGE = path.join(ROOT, 'examples', 'edge-system.yaml');

/** The call graph examples/system.yaml declares (each agent's `calls` plus the top-level ones), as `a -> b`. */
function declaredCalls(file: string): string[] {
  const doc = YAML.parse(fs.readFileSync(file, 'utf8')) as { agents: Array<{ name: string; calls?: string[] }>; calls?: Array<[string, string]> };
  const edges = [...doc.agents.flatMap((a) => (a.calls ?? []).map((c) => `${a.name} -> ${c}`)), ...(doc.calls ?? []).map(([a, b]) => `${a} -> ${b}`)];
  return [...new Set(edges)].sort();
}

/** `ALLOW call a -> b` lines of the table as `a -> b`. */
function allowedCalls(table: string): string[] {
  return table.split('\n').filter((l) => l.startsWith('ALLOW call ')).map((l) => l.replace(/^ALLOW call\s+/, '').replace(/\s+->\s+/, ' -> ')).sort();
}

/** A table line for a cell, with the padding collapsed. */
function cell(table: string, kind: string, from: string, to: string): string | undefined {
  return table.split('\n').map((l) => l.replace(/\s+/g, ' ')).find((l) => l.includes(` ${kind} ${from} -> ${to}`) && /^(ALLOW|DENY) /.test(l) && (l.endsWith(` -> ${to}`) || l.includes(` -> ${to}:`)));
}

let synthDir: string;
beforeAll(() => {
  synthDir = path.join(tmpdir('cdk8s-agents-traffic-'), 'out');
  const r = cli(['synth', path.relative(ROOT, EXAMPLE), '--out', synthDir, '--layout', 'per-resource', '--quiet']);
  expect(r.code).toBe(0);
});

describe('cdk8s-agents traffic examples/system.yaml', () => {
  test('table (default): the allowed calls are exactly the declared call graph; scrapes, ingress and egress cells', () => {
    const r = cli(['traffic', 'examples/system.yaml']);
    expect(r.code).toBe(0);
    const declared = declaredCalls(EXAMPLE);
    expect(declared.length).toBeGreaterThan(5);
    expect(allowedCalls(r.stdout)).toEqual(declared);
    expect(cell(r.stdout, 'call', 'planner', 'researcher')).toBe('ALLOW call planner -> researcher');
    // The reverse of a declared edge is denied, with the reason.
    expect(cell(r.stdout, 'call', 'researcher', 'planner')).toMatch(/^DENY call researcher -> planner: .+/);
    expect(cell(r.stdout, 'scrape', 'prometheus (mesh)', 'planner')).toBe('ALLOW scrape prometheus (mesh) -> planner');
    expect(cell(r.stdout, 'ingress', 'ingress istio-ingress', 'gateway')).toBe('ALLOW ingress ingress istio-ingress -> gateway');
    expect(cell(r.stdout, 'ingress', 'ingress istio-ingress', 'planner')).toMatch(/^DENY ingress ingress istio-ingress -> planner: .*NetworkPolicy/);
    expect(cell(r.stdout, 'egress', 'planner', 'api.openai.com:443')).toBe('ALLOW egress planner -> api.openai.com:443');
  });

  test('json parses; mermaid and dot draw the declared edges and no undeclared one', () => {
    const declared = declaredCalls(EXAMPLE);
    const json = JSON.parse(cli(['traffic', 'examples/system.yaml', '--format', 'json']).stdout) as {
      agents: string[];
      calls: Array<{ caller: string; callee: string }>;
      cells: Array<{ kind: string; from: string; to: string; allowed: boolean; reason: string; decidedBy: string[] }>;
    };
    expect(json.calls.map((c) => `${c.caller} -> ${c.callee}`).sort()).toEqual(declared);
    expect(json.cells.filter((c) => c.kind === 'call')).toHaveLength(json.agents.length ** 2);
    const denied = json.cells.find((c) => c.kind === 'call' && c.from === 'researcher' && c.to === 'planner')!;
    expect(denied.allowed).toBe(false);
    expect(json.cells.find((c) => c.kind === 'call' && c.from === 'planner' && c.to === 'researcher')!.decidedBy).toContain('AuthorizationPolicy/research/researcher-allow');

    const mermaid = cli(['traffic', 'examples/system.yaml', '-f', 'mermaid']).stdout;
    expect(mermaid.startsWith('flowchart LR\n')).toBe(true);
    const names = new Map([...mermaid.matchAll(/^ {2}(n\d+)\["(.+)"\]$/gm)].map((m) => [m[1], m[2]]));
    const calls = [...mermaid.matchAll(/^ {2}(n\d+) --> (n\d+)$/gm)].map((m) => `${names.get(m[1])} -> ${names.get(m[2])}`).sort();
    expect(calls).toEqual(declared);
    expect(mermaid).toMatch(/-\.->\|scrape\|/);

    const dot = cli(['traffic', 'examples/system.yaml', '--format', 'dot']).stdout;
    expect(dot.startsWith('digraph traffic {')).toBe(true);
    const dotCalls = [...dot.matchAll(/^ {2}"([^"]+)" -> "([^"]+)" \[style=solid\];$/gm)].map((m) => `${m[1]} -> ${m[2]}`).sort();
    expect(dotCalls).toEqual(declared);
    expect(dot).not.toContain('"researcher" -> "planner"');
  });

  test('--expect-declared: exit 0 when every declared flow is allowed and every other denied', () => {
    const r = cli(['traffic', 'examples/system.yaml', '--expect-declared', '--format', 'grid']);
    expect(r.stderr).toContain('examples/system.yaml: every declared flow is allowed and every other one denied');
    expect(r.code).toBe(0);
    // The grid: a row per agent, x where the call is allowed.
    const rows = r.stdout.trim().split('\n');
    const agents = rows.slice(1).map((l) => l.split('|')[0].trim().replace(/^\d+ /, ''));
    const x = rows.slice(1).flatMap((l, i) => l.split('|')[1].trim().split(/\s+/).flatMap((v, j) => (v === 'x' ? [`${agents[i]} -> ${agents[j]}`] : []))).sort();
    expect(x).toEqual(declaredCalls(EXAMPLE));
  });
});

describe('cdk8s-agents traffic examples/edge-system.yaml', () => {
  test('ingress without a token is denied; --expect-declared checks the routes with a JWT and passes', () => {
    const r = cli(['traffic', 'examples/edge-system.yaml', '--expect-declared']);
    expect(r.stderr).toContain('every declared flow is allowed and every other one denied');
    expect(r.code).toBe(0);
    expect(allowedCalls(r.stdout)).toEqual(declaredCalls(EDGE));
    expect(cell(r.stdout, 'ingress', 'ingress istio-ingress', 'chat')).toMatch(/^DENY ingress ingress istio-ingress -> chat: .*AuthorizationPolicy/);
    expect(cell(r.stdout, 'scrape', 'prometheus (mesh)', 'coder')).toBe('ALLOW scrape prometheus (mesh) -> coder');
  });
});

describe('cdk8s-agents traffic <dir of synthesized YAML>', () => {
  test('the folder gives the same matrix as the system file; --out writes it', () => {
    const out = path.join(tmpdir(), 'traffic.json');
    const r = cli(['traffic', synthDir, '--format', 'json', '--out', out]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/: 10 agents, \d+ flows \(\d+ allowed, \d+ denied\) -> /);
    const fromDir = JSON.parse(fs.readFileSync(out, 'utf8'));
    const fromFile = JSON.parse(cli(['traffic', 'examples/system.yaml', '--format', 'json']).stdout);
    expect(fromDir.cells.map((c: { from: string; to: string; allowed: boolean }) => `${c.from} ${c.to} ${c.allowed}`)).toEqual(fromFile.cells.map((c: { from: string; to: string; allowed: boolean }) => `${c.from} ${c.to} ${c.allowed}`));
  });

  test('--expect-declared on manifests needs --system; a removed policy or a narrower declaration exits 3', () => {
    const noSystem = cli(['traffic', synthDir, '--expect-declared']);
    expect(noSystem.code).toBe(2);
    expect(noSystem.stderr).toMatch(/needs the system file .*--system/);
    expect(cli(['traffic', synthDir, '--expect-declared', '--system', 'examples/system.yaml']).code).toBe(0);

    // Without researcher's AuthorizationPolicy its callers' declared calls are denied (default-deny).
    const broken = tmpdir();
    for (const f of fs.readdirSync(synthDir)) if (f !== 'authorizationpolicy-researcher-allow.yaml') fs.copyFileSync(path.join(synthDir, f), path.join(broken, f));
    const denied = cli(['traffic', broken, '--expect-declared', '--system', 'examples/system.yaml']);
    expect(denied.code).toBe(3);
    expect(denied.stderr).toMatch(/^declared flow denied: call planner -> researcher: .*AuthorizationPolicy\/research\/default-deny/m);

    // A declaration without planner -> writer: the objects allow a call that is not declared.
    const narrower = writeFile(tmpdir(), 'system.yaml', fs.readFileSync(EXAMPLE, 'utf8').replace('calls: [researcher, coder, writer, critic, memory]', 'calls: [researcher, coder, critic, memory]'));
    const undeclared = cli(['traffic', synthDir, '--expect-declared', '--system', narrower]);
    expect(undeclared.code).toBe(3);
    expect(undeclared.stderr).toMatch(/^undeclared flow allowed: call planner -> writer: by .*AuthorizationPolicy\/research\/writer-allow/m);
    expect(undeclared.stderr).toMatch(/1 undeclared flow\(s\) allowed, 0 declared flow\(s\) denied/);
  });

  test('bad manifests: file:line:column errors for every problem, exit 1', () => {
    const dir = tmpdir();
    writeFile(dir, 'a.yaml', 'apiVersion: v1\nkind: Service\nmetadata:\n  name: x\n---\nfoo: [1, 2\n');
    writeFile(dir, 'b.yaml', 'apiVersion: v1\nkind: ConfigMap\nmetadata: { name: ok }\n---\n- just\n- a list\n');
    const r = cli(['traffic', '.'], { cwd: dir });
    expect(r.code).toBe(1);
    const heads = diagnostics(r.stderr);
    expect(heads).toHaveLength(2);
    expect(heads[0]).toMatch(/^a\.yaml:[67]:\d+: .*\]/);
    expect(heads[1]).toBe('b.yaml:5:1: expected a Kubernetes object (a mapping with apiVersion, kind and metadata.name)');
    expect(r.stderr).toContain('2 errors.');
  });
});

describe('cluster facts from the system file', () => {
  const SYSTEM = `name: demo
namespace: demo
mesh:
  trustDomain: corp.example
  prometheus: { namespace: observability }
agents:
  - name: front
    image: ghcr.io/acme/front:1.0.0
    calls: [worker]
    ingress: { namespaces: [partner] }
  - name: worker
    image: ghcr.io/acme/worker:1.0.0
`;

  test('Prometheus namespace, trust domain and ingress namespaces: from the system file or --system', () => {
    const dir = tmpdir();
    writeFile(dir, 'system.yaml', SYSTEM);
    const r = cli(['traffic', 'system.yaml', '--expect-declared'], { cwd: dir });
    expect(r.stderr).toContain('every declared flow is allowed and every other one denied');
    expect(r.code).toBe(0);
    expect(cell(r.stdout, 'ingress', 'ingress partner', 'front')).toBe('ALLOW ingress ingress partner -> front');
    expect(cell(r.stdout, 'ingress', 'ingress partner', 'worker')).toMatch(/^DENY ingress ingress partner -> worker: .*namespace partner/);
    expect(cell(r.stdout, 'scrape', 'prometheus (mesh)', 'worker')).toBe('ALLOW scrape prometheus (mesh) -> worker');

    expect(cli(['synth', 'system.yaml', '--out', 'out', '--quiet'], { cwd: dir }).code).toBe(0);
    // The manifests alone: Prometheus assumed in monitoring, which this system does not admit.
    const defaults = cli(['traffic', 'out'], { cwd: dir });
    expect(defaults.code).toBe(0);
    expect(cell(defaults.stdout, 'scrape', 'prometheus (mesh)', 'worker')).toMatch(/^DENY scrape prometheus \(mesh\) -> worker: /);
    const withSystem = cli(['traffic', 'out', '--system', 'system.yaml'], { cwd: dir });
    expect(cell(withSystem.stdout, 'scrape', 'prometheus (mesh)', 'worker')).toBe('ALLOW scrape prometheus (mesh) -> worker');
    expect(withSystem.stdout).toBe(r.stdout);
  });
});

describe('cdk8s-agents traffic: usage and bad system files', () => {
  test('a bad system file gives file:line errors like validate (exit 1); a missing path too', () => {
    const dir = tmpdir();
    writeFile(dir, 'system.yaml', 'name: demo\nagents:\n  - name: planner\n    image: ghcr.io/acme/planner:1.0.0\n    calls: [ghost]\n');
    const r = cli(['traffic', 'system.yaml'], { cwd: dir });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^system\.yaml:5:13: agents\[0\]\.calls\[0\]: calls unknown agent "ghost"/m);
    const missing = cli(['traffic', 'nope.yaml'], { cwd: dir });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^nope\.yaml:1:1: cannot read the input: no such file or folder/m);
  });

  test.each([
    [['traffic'], /traffic: expected one system file, manifests file or folder, got none/],
    [['traffic', 'examples/system.yaml', '--format', 'svg'], /--format must be one of table, grid, mermaid, dot, json, got "svg"/],
    [['traffic', 'examples/system.yaml', '--frobnicate'], /Unknown option '--frobnicate'/],
    [['traffic', 'examples/system.yaml', '--expect-declared', '--system', 'examples/system.yaml'], /--system is for manifests input/],
  ])('%j: exit 2', (args, message) => {
    const r = cli(args as string[]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
  });

  test('--help and help traffic document formats, options and exit codes', () => {
    for (const args of [['traffic', '--help'], ['help', 'traffic']]) {
      const r = cli(args);
      expect(r.code).toBe(0);
      for (const s of ['Usage: cdk8s-agents traffic', '--format', 'table', 'grid', 'mermaid', 'dot -Tsvg', 'json', '--out', '--expect-declared', '--system', 'Exit codes']) expect(r.stdout).toContain(s);
    }
    expect(cli(['--help']).stdout).toMatch(/traffic +Print which flows the objects allow/);
  });
});
