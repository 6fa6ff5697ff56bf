import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as YAML from 'yaml';

export const ROOT = path.join(__dirname, '..', '..');
export const CLI = path.join(ROOT, 'lib', 'cli', 'main.js');
export const EXAMPLE = path.join(ROOT, 'examples', 'system.yaml');

/** Fails early with a clear message when the CLI has not been compiled (npm test builds first). */
export function requireBuiltCli(): void {
  if (!fs.existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npx tsc -p .\` (npm test builds first)`);
  const built = fs.statSync(CLI).mtimeMs;
  const sources = ['cli/main.ts', 'cli/traffic.ts', 'cli/render.ts', 'cli/source.ts', 'system/system-spec.ts', 'system/agent-system.ts'];
  const stale = sources.filter((s) => fs.statSync(path.join(ROOT, s)).mtimeMs > built + 1000);
  if (stale.length) throw new Error(`lib/ is older than ${stale.join(', ')}: run \`npx tsc -p .\``);
}

export interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the real CLI in a subprocess. */
export function cli(args: readonly string[], opts: { cwd?: string; env?: Record<string, string> } = {}): CliResult {
  const r = spawnSync(process.execPath, [CLI, ...args], {
    cwd: opts.cwd ?? ROOT,
    encoding: 'utf8',
    env: { ...process.env, CDK8S_AGENTS_DEBUG: '', ...opts.env },
    timeout: 60_000,
  });
  if (r.error) throw r.error;
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A fresh temporary folder. */
export function tmpdir(prefix = 'cdk8s-agents-cli-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** Writes `text` to `<dir>/<name>` and returns the path. */
export function writeFile(dir: string, name: string, text: string): string {
  const p = path.join(dir, name);
  fs.writeFileSync(p, text);
  return p;
}

/** Every file of a folder (name to content), sorted. */
export function readTree(dir: string): Record<string, string> {
  return Object.fromEntries(fs.readdirSync(dir).sort().map((f) => [f, fs.readFileSync(path.join(dir, f), 'utf8')]));
}

/** The objects of every YAML file of a folder except kustomization.yaml. */
export function objectsIn(dir: string): any[] {
  return fs
    .readdirSync(dir)
    .sort()
    .filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml')
    .flatMap((f) => YAML.parseAllDocuments(fs.readFileSync(path.join(dir, f), 'utf8')).map((d) => d.toJS()))
    .filter((o) => o);
}

/** Runs `validate` on `text`, written to a fresh folder as `name`. */
export function validate(text: string, name = 'system.yaml'): CliResult {
  const dir = tmpdir();
  writeFile(dir, name, text);
  return cli(['validate', name], { cwd: dir });
}

/** The first line of each diagnostic (the excerpt lines are indented). */
export function diagnostics(stderr: string): string[] {
  return stderr.split('\n').filter((l) => /^\S+:\d+:\d+: /.test(l));
}
