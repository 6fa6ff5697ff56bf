/**
 * Real servers for tests: Prometheus, Redis and the agent sidecar, each started as a child
 * process bound to 127.0.0.1 on a free port, with its files in a temporary directory.
 *
 * Tests that need a binary that is not installed are skipped with a loud warning (and a line in
 * the run's closing summary, see skips.ts), unless
 * CDK8S_AGENTS_REQUIRE_SERVERS=1, in which case they fail (CI sets it so a missing
 * binary can never turn into a silently green run).
 *
 * Every child is registered and killed when the test process exits, even when a test
 * forgets its afterAll, so no server outlives the jest worker.
 */
import { ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { noteSkip } from './skips';

const ROOT = path.resolve(__dirname, '..', '..');

// ---------------------------------------------------------------------------------------------
// Binaries and skipping
// ---------------------------------------------------------------------------------------------

/** Absolute path of an executable found on PATH, or undefined. */
export function findBinary(name: string): string | undefined {
  if (name.includes(path.sep)) return isExecutable(name) ? name : undefined;
  const dirs = (process.env.PATH ?? '').split(path.delimiter).filter(Boolean);
  // Debian puts some daemons in sbin, which is not always on a user's PATH.
  dirs.push('/usr/sbin', '/sbin', '/usr/local/sbin');
  for (const dir of dirs) {
    const candidate = path.join(dir, name);
    if (isExecutable(candidate)) return candidate;
  }
  return undefined;
}

function isExecutable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

/** True when tests must fail instead of skipping when a server binary is missing. */
export function requireServers(): boolean {
  return process.env.CDK8S_AGENTS_REQUIRE_SERVERS === '1';
}

/**
 * `describe` that runs only when every named binary is on PATH. Otherwise the block is
 * skipped with a console.warn, or fails when requireServers() is true.
 */
export function describeWithBinary(names: string | string[], title: string, fn: () => void): void {
  const list = Array.isArray(names) ? names : [names];
  const missing = list.filter((n) => findBinary(n) === undefined);
  if (missing.length === 0) {
    describe(title, fn);
    return;
  }
  const message = `${title}: binary not found on PATH: ${missing.join(', ')}`;
  if (requireServers()) {
    describe(title, () => {
      test(`requires ${missing.join(', ')}`, () => {
        throw new Error(`${message} (CDK8S_AGENTS_REQUIRE_SERVERS=1)`);
      });
    });
    return;
  }
  noteSkip(title, missing);
  describe.skip(title, fn);
}

/** A free TCP port on 127.0.0.1 (the OS picks it; small race window until it is bound again). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

/** A fresh temporary directory, removed by the stop() of the server that uses it. */
export function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `cdk8s-agents-${prefix}-`));
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Polls `check` until it returns a truthy value or the timeout elapses. */
export async function waitFor<T>(
  check: () => Promise<T | undefined | null | false> | T | undefined | null | false,
  opts: { timeoutMs?: number; intervalMs?: number; what?: string } = {},
): Promise<T> {
  const timeoutMs = opts.timeoutMs ?? 15000;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v) return v as T;
    } catch (e) {
      lastError = e;
    }
    if (Date.now() > deadline) {
      const suffix = lastError ? ` (last error: ${String((lastError as Error).message ?? lastError)})` : '';
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${opts.what ?? 'condition'}${suffix}`);
    }
    await sleep(opts.intervalMs ?? 100);
  }
}

// ---------------------------------------------------------------------------------------------
// Child process bookkeeping
// ---------------------------------------------------------------------------------------------

const children = new Set<ChildProcess>();
let exitHookInstalled = false;

/** Kills every child this module started that is still running (SIGKILL). */
export function killAllServers(): void {
  for (const c of children) {
    try {
      c.kill('SIGKILL');
    } catch {
      /* already gone */
    }
  }
}

/** SIGTERM every child still running, SIGKILL those not gone after `graceMs`. */
export async function stopAllServers(graceMs = 3000): Promise<void> {
  await Promise.all(
    [...children].map(
      (c) =>
        new Promise<void>((resolve) => {
          if (c.exitCode !== null || c.signalCode !== null) return resolve();
          const timer = setTimeout(() => c.kill('SIGKILL'), graceMs);
          c.once('exit', () => {
            clearTimeout(timer);
            resolve();
          });
          c.kill('SIGTERM');
        }),
    ),
  );
}

// Safety net per test file: whatever a test forgot to stop is stopped when the file's tests are
// done (jest's sandboxed `process` does not reliably deliver 'exit' to test modules).
if (typeof afterAll === 'function') afterAll(() => stopAllServers(), 15000);

function track(child: ChildProcess): void {
  children.add(child);
  child.once('exit', () => children.delete(child));
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once('exit', killAllServers);
  }
}

/** Logs of a child (stdout and stderr interleaved), bounded so a chatty server cannot eat memory. */
class OutputBuffer {
  private chunks: string[] = [];
  private size = 0;
  constructor(private readonly limit = 1 << 20) {}
  push(s: string): void {
    this.chunks.push(s);
    this.size += s.length;
    while (this.size > this.limit && this.chunks.length > 1) this.size -= this.chunks.shift()!.length;
  }
  text(): string {
    return this.chunks.join('');
  }
}

interface Spawned {
  child: ChildProcess;
  output: OutputBuffer;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function spawnTracked(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Spawned {
  const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
  track(child);
  // A forgotten server must not keep the jest worker alive: unreferenced, the worker exits
  // normally and its 'exit' hook kills the child (a force-killed worker would orphan it).
  child.unref();
  (child.stdout as unknown as { unref?: () => void }).unref?.();
  (child.stderr as unknown as { unref?: () => void }).unref?.();
  const output = new OutputBuffer();
  child.stdout!.setEncoding('utf8').on('data', (d: string) => output.push(d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => output.push(d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
  // Spawn failures (ENOENT) surface as 'error' events; record them instead of crashing the worker.
  child.once('error', (err) => output.push(`spawn error: ${err.message}\n`));
  return { child, output, exited };
}

async function stopChild(s: Spawned, signal: NodeJS.Signals = 'SIGTERM', graceMs = 5000) {
  if (s.child.exitCode !== null || s.child.signalCode !== null) return s.exited;
  s.child.kill(signal);
  const timer = setTimeout(() => s.child.kill('SIGKILL'), graceMs);
  const result = await s.exited;
  clearTimeout(timer);
  return result;
}

async function httpOk(url: string): Promise<boolean> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
    await res.arrayBuffer();
    return res.ok;
  } catch {
    return false;
  }
}

function exitedEarly(s: Spawned, what: string): Error | undefined {
  if (s.child.exitCode !== null || s.child.signalCode !== null) {
    return new Error(`${what} exited early (code ${s.child.exitCode}, signal ${s.child.signalCode}):\n${s.output.text()}`);
  }
  return undefined;
}

async function waitReady(s: Spawned, url: string, what: string, timeoutMs: number): Promise<void> {
  try {
    await waitFor(
      async () => {
        const early = exitedEarly(s, what);
        if (early) throw early;
        return httpOk(url);
      },
      { timeoutMs, intervalMs: 100, what: `${what} at ${url}` },
    );
  } catch (e) {
    await stopChild(s, 'SIGKILL');
    const early = exitedEarly(s, what);
    throw early ?? new Error(`${(e as Error).message}\n--- ${what} output ---\n${s.output.text()}`);
  }
}

// ---------------------------------------------------------------------------------------------
// Prometheus
// ---------------------------------------------------------------------------------------------

export interface PrometheusOptions {
  /**
   * prometheus.yml content. Rule files given in `ruleFiles` are written next to it; when the
   * config has no `rule_files:` key they are appended to it automatically.
   * The placeholder `${DIR}` is replaced by the temporary directory.
   */
  readonly configYaml: string;
  /** Rule files to write into the config directory (name relative to it). */
  readonly ruleFiles?: { name: string; content: string }[];
  /** Extra command-line flags for prometheus. */
  readonly extraArgs?: string[];
  /** How long to wait for /-/ready. @default 30000 */
  readonly readyTimeoutMs?: number;
}

export interface PrometheusServer {
  readonly url: string;
  readonly port: number;
  readonly dir: string;
  readonly pid: number;
  /** Instant query; resolves to `data.result` (throws on an API error). */
  query(expr: string, time?: number): Promise<any[]>;
  /** Range query; resolves to `data.result`. */
  queryRange(expr: string, start: number, end: number, step: string): Promise<any[]>;
  /** Active alerts (`/api/v1/alerts`). */
  alerts(): Promise<any[]>;
  /** Rule groups (`/api/v1/rules`). */
  rules(): Promise<any[]>;
  /** Active scrape targets (`/api/v1/targets`). */
  targets(): Promise<any[]>;
  /** Rewrites config and rule files (if given) then POST /-/reload. */
  reload(next?: { configYaml?: string; ruleFiles?: { name: string; content: string }[] }): Promise<void>;
  /** Polls an instant query until `predicate(result)` holds. */
  waitForQuery(expr: string, predicate?: (result: any[]) => boolean, timeoutMs?: number): Promise<any[]>;
  /** Prometheus output so far (for failure messages). */
  logs(): string;
  stop(): Promise<void>;
}

function writePromFiles(dir: string, configYaml: string, ruleFiles: { name: string; content: string }[] = []): string {
  for (const rf of ruleFiles) {
    const file = path.join(dir, rf.name);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, rf.content);
  }
  let config = configYaml.split('${DIR}').join(dir);
  if (ruleFiles.length > 0 && !/^rule_files\s*:/m.test(config)) {
    config += `\nrule_files:\n${ruleFiles.map((r) => `  - ${JSON.stringify(r.name)}`).join('\n')}\n`;
  }
  const configFile = path.join(dir, 'prometheus.yml');
  fs.writeFileSync(configFile, config);
  return configFile;
}

async function promApi(url: string, init?: RequestInit): Promise<any> {
  const res = await fetch(url, { ...init, signal: AbortSignal.timeout(10000) });
  const body: any = await res.json().catch(() => ({}));
  if (!res.ok || body.status !== 'success') {
    throw new Error(`Prometheus API ${url}: HTTP ${res.status} ${body.errorType ?? ''} ${body.error ?? ''}`.trim());
  }
  return body.data;
}

/** Starts the real `prometheus` binary on 127.0.0.1 with its config and TSDB in a temp dir. */
export async function startPrometheus(opts: PrometheusOptions): Promise<PrometheusServer> {
  const bin = findBinary('prometheus');
  if (!bin) throw new Error('prometheus binary not found on PATH');
  const dir = tempDir('prom');
  const configFile = writePromFiles(dir, opts.configYaml, opts.ruleFiles);
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const s = spawnTracked(
    bin,
    [
      `--config.file=${configFile}`,
      `--storage.tsdb.path=${path.join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--web.enable-lifecycle',
      '--log.level=warn',
      ...(opts.extraArgs ?? []),
    ],
    { cwd: dir },
  );
  await waitReady(s, `${url}/-/ready`, 'prometheus', opts.readyTimeoutMs ?? 30000);

  const query = async (expr: string, time?: number) => {
    const params = new URLSearchParams({ query: expr });
    if (time !== undefined) params.set('time', String(time));
    return (await promApi(`${url}/api/v1/query?${params}`)).result as any[];
  };
  return {
    url,
    port,
    dir,
    pid: s.child.pid!,
    query,
    async queryRange(expr, start, end, step) {
      const params = new URLSearchParams({ query: expr, start: String(start), end: String(end), step });
      return (await promApi(`${url}/api/v1/query_range?${params}`)).result as any[];
    },
    async alerts() {
      return (await promApi(`${url}/api/v1/alerts`)).alerts as any[];
    },
    async rules() {
      return (await promApi(`${url}/api/v1/rules`)).groups as any[];
    },
    async targets() {
      return (await promApi(`${url}/api/v1/targets?state=active`)).activeTargets as any[];
    },
    async reload(next) {
      if (next) writePromFiles(dir, next.configYaml ?? fs.readFileSync(configFile, 'utf8'), next.ruleFiles);
      const res = await fetch(`${url}/-/reload`, { method: 'POST', signal: AbortSignal.timeout(10000) });
      const text = await res.text();
      if (!res.ok) throw new Error(`prometheus reload failed: HTTP ${res.status} ${text}`);
    },
    async waitForQuery(expr, predicate = (r) => r.length > 0, timeoutMs = 30000) {
      return waitFor(
        async () => {
          const r = await query(expr);
          return predicate(r) ? r : undefined;
        },
        { timeoutMs, intervalMs: 250, what: `prometheus query ${expr}` },
      );
    },
    logs: () => s.output.text(),
    async stop() {
      await stopChild(s);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Redis
// ---------------------------------------------------------------------------------------------

export interface RedisServer {
  readonly url: string;
  readonly port: number;
  readonly pid: number;
  /** Its data directory (kept across restart(): a dump.rdb written by SAVE is loaded again). */
  readonly dir: string;
  logs(): string;
  /** Stops the server (SIGTERM, then SIGKILL after 5 s). */
  stop(): Promise<void>;
  /** Starts it again on the same port (after stop(), to test recovery). */
  restart(): Promise<void>;
  /** SIGSTOP: the process stops answering but its sockets stay open (a stall). */
  pause(): void;
  /** SIGCONT after pause(). */
  resume(): void;
  /** SIGKILL, waiting for the exit (no shutdown, no save). */
  kill(): Promise<void>;
}

/** Sends inline commands over a raw socket and resolves to the first reply line. */
export function redisCommand(port: number, command: string, timeoutMs = 2000): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host: '127.0.0.1', port });
    let buf = '';
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`redis ${command}: timeout`));
    }, timeoutMs);
    sock.setEncoding('utf8');
    sock.on('connect', () => sock.write(`${command}\r\n`));
    sock.on('data', (d: string) => {
      buf += d;
      if (buf.includes('\r\n')) {
        clearTimeout(timer);
        sock.end();
        resolve(buf.split('\r\n')[0]);
      }
    });
    sock.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}

/** Starts a real `redis-server` on 127.0.0.1 with persistence off. */
export async function startRedis(): Promise<RedisServer> {
  const bin = findBinary('redis-server');
  if (!bin) throw new Error('redis-server binary not found on PATH');
  const dir = tempDir('redis');
  const port = await freePort();
  let s: Spawned;
  const launch = async () => {
    s = spawnTracked(bin, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], { cwd: dir });
    await waitFor(
      async () => {
        const early = exitedEarly(s, 'redis-server');
        if (early) throw early;
        return (await redisCommand(port, 'PING').catch(() => '')) === '+PONG';
      },
      { timeoutMs: 10000, intervalMs: 50, what: `redis-server on port ${port}` },
    );
  };
  await launch();
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    get pid() {
      return s.child.pid!;
    },
    dir,
    logs: () => s.output.text(),
    async stop() {
      s.child.kill('SIGCONT');
      await stopChild(s);
    },
    async restart() {
      s.child.kill('SIGCONT');
      await stopChild(s);
      await launch();
    },
    pause: () => void s.child.kill('SIGSTOP'),
    resume: () => void s.child.kill('SIGCONT'),
    async kill() {
      await stopChild(s, 'SIGKILL');
    },
  };
}

/** Stops every given server, ignoring the ones that are undefined or already stopped. */
export async function stopAll(...servers: ({ stop(): Promise<unknown> } | undefined)[]): Promise<void> {
  await Promise.all(servers.filter(Boolean).map((s) => s!.stop().catch(() => undefined)));
}

// ---------------------------------------------------------------------------------------------
// Sidecar
// ---------------------------------------------------------------------------------------------

export interface SidecarProcess {
  readonly metricsUrl: string;
  readonly apiUrl: string;
  readonly metricsPort: number;
  readonly apiPort: number;
  readonly pid: number;
  readonly child: ChildProcess;
  /** Log output so far (pino JSON lines plus anything on stderr). */
  logs(): string;
  /** Parsed pino log lines so far. */
  logLines(): any[];
  /** Resident set size of the process in bytes (from /proc), or undefined if gone. */
  rssBytes(): number | undefined;
  /** Resolves when the process exits. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Sends `signal` (default SIGTERM) and waits for exit (SIGKILL after `graceMs`). */
  stop(signal?: NodeJS.Signals, graceMs?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * How to run the sidecar CLI: the compiled lib/sidecar/cli.js when it is at least as new as
 * every sidecar source (npm test builds first), otherwise the TypeScript through ts-node.
 */
export function sidecarCommand(): { cmd: string; args: string[] } {
  const compiled = path.join(ROOT, 'lib', 'sidecar', 'cli.js');
  const srcDir = path.join(ROOT, 'sidecar');
  let fresh = false;
  try {
    const builtAt = fs.statSync(compiled).mtimeMs;
    fresh = fs
      .readdirSync(srcDir, { recursive: true, encoding: 'utf8' })
      .filter((f) => f.endsWith('.ts'))
      .every((f) => fs.statSync(path.join(srcDir, f)).mtimeMs <= builtAt);
  } catch {
    fresh = false;
  }
  if (fresh) return { cmd: process.execPath, args: [compiled] };
  return {
    cmd: process.execPath,
    args: ['-r', require.resolve('ts-node/register/transpile-only', { paths: [ROOT] }), path.join(srcDir, 'cli.ts')],
  };
}

/**
 * Spawns the real sidecar on 127.0.0.1 with both listeners on free ports and waits for /readyz.
 * `args` are extra CLI flags; `env` is merged over a clean copy of process.env with the
 * SIDECAR_* variables removed (so the developer's shell cannot change a test).
 */
export async function startSidecar(args: string[] = [], env: Record<string, string> = {}, opts: { readyTimeoutMs?: number } = {}): Promise<SidecarProcess> {
  const metricsPort = await freePort();
  let apiPort = await freePort();
  while (apiPort === metricsPort) apiPort = await freePort();
  const baseEnv: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('SIDECAR_')) baseEnv[k] = v;
  const { cmd, args: pre } = sidecarCommand();
  const s = spawnTracked(
    cmd,
    [...pre, '--metrics-host', '127.0.0.1', '--metrics-port', String(metricsPort), '--api-host', '127.0.0.1', '--api-port', String(apiPort), ...args],
    { cwd: ROOT, env: { ...baseEnv, SIDECAR_LOG_LEVEL: 'warn', ...env } },
  );
  const metricsUrl = `http://127.0.0.1:${metricsPort}`;
  const apiUrl = `http://127.0.0.1:${apiPort}`;
  await waitReady(s, `${metricsUrl}/readyz`, 'agent-sidecar', opts.readyTimeoutMs ?? 20000);
  return {
    metricsUrl,
    apiUrl,
    metricsPort,
    apiPort,
    pid: s.child.pid!,
    child: s.child,
    exited: s.exited,
    logs: () => s.output.text(),
    logLines: () =>
      s.output
        .text()
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => {
          try {
            return JSON.parse(l);
          } catch {
            return undefined;
          }
        })
        .filter(Boolean),
    rssBytes: () => {
      try {
        const status = fs.readFileSync(`/proc/${s.child.pid}/status`, 'utf8');
        const m = /VmRSS:\s+(\d+)\s+kB/.exec(status);
        return m ? Number(m[1]) * 1024 : undefined;
      } catch {
        return undefined;
      }
    },
    stop: (signal: NodeJS.Signals = 'SIGTERM', graceMs = 10000) => stopChild(s, signal, graceMs),
  };
}
