/**
 * The run summary of skipped server-backed suites (test/support/skip-reporter.js): a real jest run
 * of two server-backed files in two workers, with a PATH that lacks their binaries.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const ROOT = path.resolve(__dirname, '..');
const JEST = path.join(ROOT, 'node_modules', 'jest', 'bin', 'jest.js');

function jest(files: string[], env: NodeJS.ProcessEnv) {
  const clean: NodeJS.ProcessEnv = { ...process.env, ...env };
  delete clean.CDK8S_AGENTS_REQUIRE_SERVERS; // CI sets it; here the skip itself is under test
  delete clean.CDK8S_AGENTS_SKIP_FILE; // the outer run's file
  return spawnSync(process.execPath, [JEST, '--maxWorkers=2', '--ci', ...files], { cwd: ROOT, env: clean, encoding: 'utf8', timeout: 120000 });
}

test('a run that skips server-backed suites ends with a summary naming each of them', () => {
  const emptyPath = fs.mkdtempSync(path.join(os.tmpdir(), 'cdk8s-agents-nopath-'));
  try {
    const r = jest(['test/sidecar/prometheus.test.ts', 'test/sidecar/redis.test.ts'], { PATH: emptyPath });
    const out = `${r.stdout}\n${r.stderr}`;
    expect(r.status).toBe(0);
    const at = out.indexOf('*** SKIPPED server-backed tests: 2 (binary not on PATH) ***');
    expect(at).toBeGreaterThan(-1);
    // After jest's own summary, so it is the last thing on the screen.
    expect(at).toBeGreaterThan(out.indexOf('Test Suites:'));
    const summary = out.slice(at);
    expect(summary).toContain(`${path.join('test', 'sidecar', 'prometheus.test.ts')}: Prometheus scraping the sidecar (missing: prometheus)`);
    expect(summary).toContain(`${path.join('test', 'sidecar', 'redis.test.ts')}: shared Redis cache tier (missing: redis-server)`);
    expect(summary).toContain('CDK8S_AGENTS_REQUIRE_SERVERS=1');
  } finally {
    fs.rmSync(emptyPath, { recursive: true, force: true });
  }
});

test('a run that skips nothing prints no summary', () => {
  const r = jest(['test/sidecar/unit.test.ts'], {});
  expect(r.status).toBe(0);
  expect(`${r.stdout}\n${r.stderr}`).toContain('Test Suites: 1 passed');
  expect(`${r.stdout}\n${r.stderr}`).not.toContain('SKIPPED server-backed tests');
});
