/**
 * The real sidecar started under a wrapper that does not forward signals (as `npx agent-sidecar`
 * runs it: npm -> sh -c -> node): when the wrapper dies, the sidecar must shut down instead of
 * living on as an orphan.
 */
import { ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { freePort, sidecarCommand, sleep, waitFor } from '../support/servers';

const ROOT = path.resolve(__dirname, '..', '..');

/** True while `pid` exists and is not a zombie (an unreaped orphan counts as gone). */
function alive(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

interface Wrapped {
  parent: ChildProcess;
  sidecarPid: number;
  metricsUrl: string;
  output: () => string;
}

const started: number[] = [];

/**
 * `sh -c '"$@" & echo $!; wait'`: sh stays the sidecar's parent and, waiting, dies of SIGTERM
 * without passing it on. The sidecar inherits sh's stdout, so its logs still reach the test.
 */
async function startWrapped(extra: string[] = []): Promise<Wrapped> {
  const metricsPort = await freePort();
  const { cmd, args } = sidecarCommand();
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('SIDECAR_')) env[k] = v;
  env.SIDECAR_LOG_LEVEL = 'info';
  const parent = spawn(
    'sh',
    ['-c', '"$@" & echo "pid=$!"; wait', 'sh', cmd, ...args, '--metrics-host', '127.0.0.1', '--metrics-port', String(metricsPort), '--api-port', '0', ...extra],
    { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  parent.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  parent.stderr!.setEncoding('utf8').on('data', (d: string) => (out += d));
  const sidecarPid = await waitFor(() => Number(/pid=(\d+)/.exec(out)?.[1]) || undefined, { timeoutMs: 5000, what: 'sidecar pid' });
  started.push(sidecarPid);
  const metricsUrl = `http://127.0.0.1:${metricsPort}`;
  await waitFor(async () => (await fetch(`${metricsUrl}/readyz`).catch(() => undefined))?.ok, { timeoutMs: 20000, what: `sidecar ready\n${out}` });
  return { parent, sidecarPid, metricsUrl, output: () => out };
}

function killParent(w: Wrapped, signal: NodeJS.Signals): Promise<void> {
  return new Promise((resolve) => {
    w.parent.once('exit', () => resolve());
    w.parent.kill(signal);
  });
}

afterAll(() => {
  for (const pid of started) if (alive(pid)) process.kill(pid, 'SIGKILL');
});

describe('sidecar under a wrapper that does not forward signals', () => {
  test.each(['SIGTERM', 'SIGKILL'] as NodeJS.Signals[])('%s to the wrapper: the sidecar shuts down gracefully', async (signal) => {
    const w = await startWrapped();
    expect(alive(w.sidecarPid)).toBe(true);
    await killParent(w, signal);
    await waitFor(() => !alive(w.sidecarPid), { timeoutMs: 10000, intervalMs: 100, what: `sidecar ${w.sidecarPid} to exit after its parent\n${w.output()}` });
    const lines = w
      .output()
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { msg: string; reason?: string });
    // The normal shutdown path ran (readiness, drain, Redis close), not a crash.
    expect(lines.find((l) => l.msg === 'shutting down: readiness is now false')).toMatchObject({ reason: 'parent exited' });
    expect(lines.map((l) => l.msg)).toContain('shutdown complete');
  });

  test('--exit-with-parent=false keeps serving after the wrapper is gone', async () => {
    const w = await startWrapped(['--exit-with-parent=false']);
    await killParent(w, 'SIGTERM');
    await sleep(1500);
    expect(alive(w.sidecarPid)).toBe(true);
    expect((await fetch(`${w.metricsUrl}/readyz`)).status).toBe(200);
    process.kill(w.sidecarPid, 'SIGTERM');
    await waitFor(() => !alive(w.sidecarPid), { timeoutMs: 10000, what: 'sidecar to exit on SIGTERM' });
  });
});
