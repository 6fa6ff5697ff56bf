/**
 * Process lifecycle of the real sidecar: flags and env vars, --help, config errors, structured
 * logs and graceful shutdown on SIGTERM.
 */
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { SIDECAR_ENV, SIDECAR_PATHS } from '../../sidecar/contract';
import { sidecarCommand, sleep, startSidecar, waitFor } from '../support/servers';
import { rawRequest } from './helpers';

const ROOT = path.resolve(__dirname, '..', '..');

function runCli(args: string[], env: Record<string, string> = {}) {
  const { cmd, args: pre } = sidecarCommand();
  return spawnSync(cmd, [...pre, ...args], { cwd: ROOT, env: { ...process.env, ...env }, encoding: 'utf8', timeout: 20000 });
}

describe('command line', () => {
  test('--help lists every flag with its environment variable', () => {
    const r = runCli(['--help']);
    expect(r.status).toBe(0);
    for (const env of Object.values(SIDECAR_ENV)) expect(r.stdout).toContain(env);
    expect(r.stdout).toContain('--metrics-port');
    expect(r.stdout).toContain('--redis-url');
  });

  test.each([
    [['--metrics-port', 'abc'], /--metrics-port.*port number/],
    [['--cache-max-entries', '0'], /must be >= 1/],
    [['--bogus'], /unknown flag "--bogus"/],
    [['--redis-url', 'http://x'], /redis:\/\//],
    [['--log-level', 'loud'], /one of/],
    [['--cache-default-ttl', '100', '--cache-max-ttl', '10'], /exceeds the max TTL/],
  ])('bad flags %j exit 2 with a message', (args, message) => {
    const r = runCli(args as string[]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(message as RegExp);
  });

  test('a bad environment variable names the variable', () => {
    const r = runCli([], { [SIDECAR_ENV.cacheMaxBytes]: 'lots' });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(SIDECAR_ENV.cacheMaxBytes);
  });

  test('env vars configure the process and flags win over them', async () => {
    const sc = await startSidecar(['--cache-max-entries', '7'], {
      [SIDECAR_ENV.cacheMaxEntries]: '3',
      [SIDECAR_ENV.cacheDefaultTtlSeconds]: '42',
      [SIDECAR_ENV.logLevel]: 'info',
    });
    try {
      const stats = await (await fetch(`${sc.apiUrl}${SIDECAR_PATHS.cacheStats}`)).json();
      expect(stats.maxEntries).toBe(7);
      expect(stats.defaultTtlSeconds).toBe(42);
      const put = await fetch(`${sc.apiUrl}/v1/cache/n/k`, { method: 'PUT', body: 'v' });
      expect(put.headers.get('x-cache-ttl')).toBe('42');
      // Structured JSON logs: the startup line says where it listens.
      const started = sc.logLines().find((l) => l.msg === 'listening');
      expect(started).toMatchObject({ level: 'info', service: 'agent-sidecar', apiPort: sc.apiPort, metricsPort: sc.metricsPort });
    } finally {
      await sc.stop();
    }
  });

  test('the API listener defaults to loopback and the metrics listener to all interfaces', () => {
    const r = runCli(['--help']);
    expect(r.stdout).toMatch(/--metrics-host <host>\s+\[env SIDECAR_METRICS_HOST, default 0\.0\.0\.0\]/);
    expect(r.stdout).toMatch(/--api-host <host>\s+\[env SIDECAR_API_HOST, default 127\.0\.0\.1\]/);
  });

  test('a cache that cannot fit the V8 heap limit is reported at startup', async () => {
    const sc = await startSidecar(['--cache-max-bytes', String(512 * 1024 * 1024)], { NODE_OPTIONS: '--max-old-space-size=128', SIDECAR_LOG_LEVEL: 'info' });
    try {
      const warn = sc.logLines().find((l) => l.level === 'warn' && /heap limit/.test(l.msg));
      expect(warn).toMatchObject({ cacheMaxBytes: 512 * 1024 * 1024 });
      expect(warn.heapLimitBytes).toBeLessThan(512 * 1024 * 1024);
    } finally {
      await sc.stop();
    }
    const ok = await startSidecar([], { SIDECAR_LOG_LEVEL: 'info' });
    try {
      expect(ok.logLines().some((l) => /heap limit/.test(l.msg ?? ''))).toBe(false);
    } finally {
      await ok.stop();
    }
  });

  test('a port already in use is a clean startup failure', async () => {
    const sc = await startSidecar();
    try {
      const r = runCli(['--api-host', '127.0.0.1', '--api-port', String(sc.apiPort), '--metrics-host', '127.0.0.1', '--metrics-port', '0']);
      expect(r.status).toBe(1);
      expect(r.stdout).toMatch(/EADDRINUSE/);
    } finally {
      await sc.stop();
    }
  });
});

describe('graceful shutdown', () => {
  test('SIGTERM: readiness fails during the delay, an in-flight request completes, then exit 0', async () => {
    const sc = await startSidecar(['--shutdown-delay-ms', '800', '--shutdown-grace-ms', '5000', '--request-timeout-ms', '5000'], { SIDECAR_LOG_LEVEL: 'info' });
    const body = JSON.stringify({ operation: 'late', durationMs: 1, success: true });
    // Start a request whose body arrives slowly, across the SIGTERM.
    const slow = rawRequest(
      sc.apiPort,
      [`POST ${SIDECAR_PATHS.executions} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`, body.slice(0, 10), body.slice(10)],
      { gapMs: 500, timeoutMs: 8000 },
    );
    await sleep(100);
    sc.child.kill('SIGTERM');
    await waitFor(async () => (await fetch(`${sc.metricsUrl}/readyz`)).status === 503, { timeoutMs: 2000, what: 'readyz 503' });
    const ready = await fetch(`${sc.metricsUrl}/readyz`).catch(() => undefined);
    if (ready) expect(await ready.json()).toEqual({ status: 'shutting_down' });
    // Liveness stays green while draining, so the kubelet does not restart the container.
    expect((await fetch(`${sc.metricsUrl}/healthz`)).status).toBe(200);
    const r = await slow;
    expect(r.text).toMatch(/^HTTP\/1\.1 202/);
    expect(r.text).toContain('{"accepted":1}');
    const exit = await sc.exited;
    expect(exit.code).toBe(0);
    const msgs = sc.logLines().map((l) => l.msg);
    expect(msgs).toContain('shutting down: readiness is now false');
    expect(msgs).toContain('shutdown complete');
  });

  test('a request that outlives --shutdown-grace-ms is cut and the process still exits', async () => {
    const sc = await startSidecar(['--shutdown-grace-ms', '300', '--request-timeout-ms', '20000']);
    const stuck = rawRequest(sc.apiPort, [`POST ${SIDECAR_PATHS.executions} HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{`], { timeoutMs: 8000 });
    await sleep(100);
    const started = Date.now();
    const exit = await sc.stop('SIGTERM', 8000);
    expect(exit.code).toBe(0);
    expect(Date.now() - started).toBeLessThan(3000);
    expect((await stuck).closed).toBe(true);
  });
});
