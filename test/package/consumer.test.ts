/**
 * The package as a user gets it: `npm pack` from a copy of the checkout (its prepack builds
 * lib/ from nothing), installed into a fresh project laid out like `cdk8s init typescript-app`
 * (from cdk8s-cli's bundled template, no template download), then compiled with tsc under three
 * tsconfigs without skipLibCheck, synthesized with `cdk8s synth` (with the `validations:` plugin),
 * tested with jest (snapshot, the cdk8s-agents/testing matcher, promtoolTest) and the CLI run on
 * examples/system.yaml. The stack and the tests are the README's TypeScript snippets, extracted
 * from README.md, so the docs cannot drift from what compiles.
 *
 * One pack and one install are shared by every case. `npm install` resolves the tarball's
 * dependencies through the npm registry / cache (`--prefer-offline`).
 */
import { execFile, execFileSync, spawnSync, SpawnSyncReturns } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describeWithBinary } from '../support/servers';

const ROOT = path.resolve(__dirname, '..', '..');
const TEMPLATE = path.join(ROOT, 'node_modules', 'cdk8s-cli', 'templates', 'typescript-app');
const versionOf = (name: string): string => JSON.parse(fs.readFileSync(path.join(ROOT, 'node_modules', name, 'package.json'), 'utf8')).version;

/** The README's ```ts blocks: test files (they call `test(`) and the stack (everything else). */
export function readmeSnippets(markdown: string): { stack: string; tests: string } {
  const blocks = [...markdown.matchAll(/^```ts\n([\s\S]*?)^```/gm)].map((m) => m[1]);
  const tests = blocks.filter((b) => /^test\(/m.test(b));
  const stack = blocks.filter((b) => !tests.includes(b)).join('\n');
  // The quickstart ends with app.synth(); the later snippets add to the same chart first.
  const synth = /^app\.synth\(\);\n/m;
  return { stack: `${stack.replace(synth, '')}\napp.synth();\n`, tests: tests.join('\n') };
}

function run(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): SpawnSyncReturns<string> {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', env: { ...process.env, ...env }, maxBuffer: 64 * 2 ** 20 });
  if (r.error) throw r.error;
  return r;
}

/** Fails with the command's output, so a broken consumer step says why. */
function ok(r: SpawnSyncReturns<string>, what: string): string {
  if (r.status !== 0) throw new Error(`${what} exited ${r.status}:\n${r.stdout}\n${r.stderr}`);
  return `${r.stdout}${r.stderr}`;
}

const MAIN_TS = `import { Construct } from 'constructs';
import { App, Chart, ChartProps } from 'cdk8s';
import { AgentService, MonitoringStack } from 'cdk8s-agents';

export class MyChart extends Chart {
  public readonly monitoring: MonitoringStack;

  constructor(scope: Construct, id: string, props: ChartProps = { }) {
    super(scope, id, { namespace: 'agents', disableResourceNameHashes: true, ...props });
    const planner = new AgentService(this, 'planner', { image: 'ghcr.io/example/planner-agent:1.4.2' });
    this.monitoring = new MonitoringStack(this, 'monitoring', { services: [planner] });
  }
}

const app = new App();
new MyChart(app, 'consumer');
app.synth();
`;

describeWithBinary('promtool', 'the packed package in a fresh cdk8s typescript-app project', () => {
  let tmp = '';
  let consumer = '';
  let packed: string[] = [];
  let installLog = '';

  beforeAll(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cdk8s-agents-consumer-'));
    // A copy of the checkout without lib/: packing it must build everything (prepack).
    const src = path.join(tmp, 'src');
    const tracked = execFileSync('git', ['ls-files', '-z', '-co', '--exclude-standard'], { cwd: ROOT, encoding: 'utf8' }).split('\0').filter(Boolean);
    for (const f of tracked) {
      if (!fs.existsSync(path.join(ROOT, f))) continue; // deleted in the work tree
      fs.mkdirSync(path.dirname(path.join(src, f)), { recursive: true });
      fs.copyFileSync(path.join(ROOT, f), path.join(src, f));
    }
    fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(src, 'node_modules'));
    const out = ok(run('npm', ['pack', '--json', '--pack-destination', tmp], src), 'npm pack');
    const json = JSON.parse(out.slice(out.lastIndexOf('\n[') + 1, out.lastIndexOf(']') + 1)) as { filename: string; files: { path: string }[] }[];
    packed = json[0].files.map((f) => f.path);
    const tarball = path.join(tmp, json[0].filename);

    // The project `cdk8s init typescript-app` writes, from the template cdk8s-cli bundles.
    consumer = path.join(tmp, 'consumer');
    fs.cpSync(TEMPLATE, consumer, { recursive: true });
    for (const f of ['.hooks.sscaff.js', 'help', 'main.test.ts', '__snapshots__']) fs.rmSync(path.join(consumer, f), { recursive: true, force: true });
    fs.renameSync(path.join(consumer, '{{}}.gitignore'), path.join(consumer, '.gitignore'));
    const pkg = JSON.parse(fs.readFileSync(path.join(consumer, 'package.json'), 'utf8').replace('{{ $base }}', 'consumer'));
    // Template placeholders filled with the versions this repository uses (so the npm cache has them);
    // cdk8s-plus-33 is not needed here, and @types/node follows the Node 20 the package supports.
    delete pkg.dependencies['cdk8s-plus-33'];
    pkg.dependencies.cdk8s = versionOf('cdk8s');
    pkg.dependencies.constructs = versionOf('constructs');
    pkg.dependencies['cdk8s-agents'] = `file:${tarball}`;
    for (const dev of Object.keys(pkg.devDependencies)) pkg.devDependencies[dev] = versionOf(dev);
    fs.writeFileSync(path.join(consumer, 'package.json'), JSON.stringify(pkg, null, 2));

    const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
    const { stack, tests } = readmeSnippets(readme);
    fs.writeFileSync(path.join(consumer, 'main.ts'), MAIN_TS);
    fs.writeFileSync(path.join(consumer, 'readme.ts'), stack);
    fs.writeFileSync(path.join(consumer, 'readme.test.ts'), tests);
    // The README's `validations:` entry, as written, and the README stack as the app.
    const validations = /^```yaml\n(validations:[\s\S]*?)^```/m.exec(readme)?.[1];
    if (!validations) throw new Error('README.md has no ```yaml validations: block');
    const cdk8sYaml = fs.readFileSync(path.join(consumer, 'cdk8s.yaml'), 'utf8').replace('main.ts', 'readme.ts');
    fs.writeFileSync(path.join(consumer, 'cdk8s.yaml'), `${cdk8sYaml.trimEnd()}\n${validations}`);
    // The template's tsconfig, and the same with the newer module systems.
    const tsconfig = JSON.parse(fs.readFileSync(path.join(consumer, 'tsconfig.json'), 'utf8'));
    for (const [name, module, moduleResolution] of [['node16', 'node16', 'node16'], ['bundler', 'preserve', 'bundler']]) {
      const c = { ...tsconfig, compilerOptions: { ...tsconfig.compilerOptions, module, moduleResolution } };
      fs.writeFileSync(path.join(consumer, `tsconfig.${name}.json`), JSON.stringify(c, null, 2));
    }
    // Warnings kept (not --loglevel=error) so that an EBADENGINE of a dependency is seen.
    installLog = ok(run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=warn'], consumer), 'npm install');
  }, 240_000);

  afterAll(() => {
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  test('npm install of the tarball warns no EBADENGINE (CI runs Node 20, the minimum of engines)', () => {
    expect(installLog.split('\n').filter((l) => /EBADENGINE|Unsupported engine/.test(l))).toEqual([]);
  });

  test('the tarball of a fresh checkout carries the compiled code', () => {
    expect(packed).toEqual(expect.arrayContaining(['lib/index.js', 'lib/index.d.ts', 'lib/testing/index.d.ts', 'lib/cli/main.js', 'lib/sidecar/cli.js']));
    expect(packed.filter((f) => f.startsWith('imports/'))).toEqual([]);
  });

  test('compiles with the template tsconfig, module node16 and bundler (strict, no skipLibCheck)', async () => {
    const configs = ['tsconfig.json', 'tsconfig.node16.json', 'tsconfig.bundler.json'];
    for (const config of configs) {
      const c = JSON.parse(fs.readFileSync(path.join(consumer, config), 'utf8'));
      expect(c.compilerOptions.strict).toBe(true);
      expect(c.compilerOptions.skipLibCheck).toBeUndefined();
    }
    // In parallel: three single-threaded compilers.
    const tsc = path.join(consumer, 'node_modules', '.bin', 'tsc');
    const results = await Promise.all(configs.map((config) => new Promise<string>((resolve) => {
      execFile(tsc, ['--noEmit', '-p', config], { cwd: consumer, maxBuffer: 16 * 2 ** 20 }, (err, stdout, stderr) => resolve(err ? `tsc -p ${config}: ${stdout}${stderr}` : ''));
    })));
    expect(results.filter(Boolean)).toEqual([]);
  }, 180_000);

  test('cdk8s synth runs the README stack and the validations plugin', () => {
    // tsc above type-checked readme.ts; ts-node only needs to run it.
    const out = ok(run(path.join(consumer, 'node_modules', '.bin', 'cdk8s'), ['synth', '--no-check-upgrade'], consumer, { TS_NODE_TRANSPILE_ONLY: 'true' }), 'cdk8s synth');
    expect(out).toMatch(/Validations ended succesfully|Validations ended successfully/);
    const yaml = fs.readdirSync(path.join(consumer, 'dist')).filter((f) => f.endsWith('.yaml')).map((f) => fs.readFileSync(path.join(consumer, 'dist', f), 'utf8')).join('\n');
    for (const name of ['planner', 'researcher', 'summarizer', 'coder', 'coder-canary', 'writer', 'reviewer']) expect(yaml).toContain(`name: ${name}\n`);
    for (const kind of ['Deployment', 'VirtualService', 'AuthorizationPolicy', 'PrometheusRule', 'ServiceMonitor']) expect(yaml).toContain(`kind: ${kind}\n`);
  }, 120_000);

  test('jest (ts-jest, the template config) runs the README tests: snapshot, toBeValidManifests, promtoolTest', () => {
    const out = ok(run(path.join(consumer, 'node_modules', '.bin', 'jest'), ['--ci=false', '--colors=false'], consumer), 'jest');
    expect(out).toMatch(/Tests:\s+2 passed, 2 total/);
    const snap = fs.readFileSync(path.join(consumer, '__snapshots__', 'readme.test.ts.snap'), 'utf8');
    expect(snap).toContain('kind: Deployment'); // the package's YAML snapshot serializer
  }, 120_000);

  test('the cdk8s-agents CLI validates and synthesizes examples/system.yaml', () => {
    const cli = path.join(consumer, 'node_modules', '.bin', 'cdk8s-agents');
    const example = path.join(consumer, 'node_modules', 'cdk8s-agents', 'examples', 'system.yaml');
    ok(run(cli, ['validate', example], consumer), 'cdk8s-agents validate');
    ok(run(cli, ['synth', example, '--out', 'deploy', '--layout', 'per-agent'], consumer), 'cdk8s-agents synth');
    expect(fs.readdirSync(path.join(consumer, 'deploy'))).toContain('kustomization.yaml');
  }, 60_000);
});
