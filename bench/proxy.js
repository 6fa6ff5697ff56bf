#!/usr/bin/env node
/**
 * Inbound proxy benchmark (a script, not a test): `npm run bench:proxy`.
 *
 * One upstream (a minimal node:http server in its own process, fixed 256-byte JSON reply, and
 * /stream: one SSE chunk stamped with its send time, a pause, more chunks) reached four ways:
 *   - direct;
 *   - through the agent-sidecar's inbound proxy (the compiled sidecar from lib/, configured the way
 *     AgentService configures it: SIDECAR_PROXY, SIDECAR_UPSTREAM, SIDECAR_MAX_CONCURRENCY=10,
 *     readiness polling, probe paths unmeasured, the image's node flags);
 *   - through a minimal node:http pass-through proxy with a keep-alive agent (the floor for a Node
 *     proxy);
 *   - through nginx (Debian; proxy_pass to an upstream with keepalive, proxy_buffering off).
 * Per target and round, interleaved over ROUNDS rounds (the medians are printed):
 *   - latency at moderate load: CALLS sequential requests on one keep-alive connection (own loop,
 *     hrtime precision), p50/p99 and p50 added over direct;
 *   - saturation: autocannon, CONNECTIONS keep-alive connections for SECONDS: req/s, and CPU per
 *     request of the proxy process (utime+stime deltas from /proc/<pid>/stat; nginx: master and
 *     worker);
 *   - streaming: STREAMS sequential /stream requests; first chunk's receive time minus the time the
 *     upstream wrote it (both CLOCK_MONOTONIC, comparable across processes).
 * Loopback only, bounded in requests and time, a watchdog ends the run after DEADLINE_S seconds.
 *
 * Environment: BENCH_ROUNDS (3), BENCH_CALLS (400), BENCH_SECONDS (3), BENCH_CONNECTIONS (8),
 * BENCH_STREAMS (30), BENCH_DEADLINE_S (300).
 */
'use strict';
const { spawn, execFileSync } = require('node:child_process');
const fs = require('node:fs');
const http = require('node:http');
const os = require('node:os');
const path = require('node:path');
const autocannon = require('autocannon');
const { CLI, SIDECAR_NODE_FLAGS, cpuSeconds, freePort } = require('./common');

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const CALLS = Number(process.env.BENCH_CALLS ?? 400);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 8);
const STREAMS = Number(process.env.BENCH_STREAMS ?? 30);
const DEADLINE_S = Number(process.env.BENCH_DEADLINE_S ?? 300);
const REQ_TIMEOUT_MS = 5000;

const children = [];
const extraPids = []; // nginx workers: SIGKILL on the master would orphan them
let tmpDir;
function cleanup() {
  for (const c of children) { try { c.kill('SIGKILL'); } catch { /* gone */ } }
  for (const pid of extraPids) { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } }
  if (tmpDir) fs.rmSync(tmpDir, { recursive: true, force: true });
}
process.on('exit', cleanup);
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(130));
setTimeout(() => { console.error(`bench:proxy: watchdog: still running after ${DEADLINE_S}s, giving up`); process.exit(2); }, DEADLINE_S * 1000).unref();

const t0 = Date.now();
const log = (msg) => console.log(`[${((Date.now() - t0) / 1000).toFixed(1)}s] ${msg}`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s.length ? s[Math.floor(s.length / 2)] : NaN; };
const pct = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))];
const now = () => Number(process.hrtime.bigint()) / 1e6; // ms, CLOCK_MONOTONIC

function start(cmd, args, name, env, stdio = ['ignore', 'inherit', 'inherit']) {
  const c = spawn(cmd, args, { stdio, env: { ...process.env, ...env } });
  c.on('exit', (code, sig) => { if (!c.benchStopping) log(`${name} exited (${code ?? sig})`); });
  children.push(c);
  return c;
}

/** One GET with a timeout; resolves { status, ms, body } and never hangs. */
function get(agent, url) {
  return new Promise((resolve, reject) => {
    const start = now();
    const req = http.get(url, { agent, timeout: REQ_TIMEOUT_MS }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, ms: now() - start, body: Buffer.concat(chunks).toString() }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`timeout after ${REQ_TIMEOUT_MS} ms: ${url}`)));
    req.on('error', reject);
  });
}

async function waitUp(url, name) {
  const deadline = Date.now() + 30000;
  for (;;) {
    try { const r = await get(false, url); if (r.status === 200) return; } catch { /* not yet */ }
    if (Date.now() > deadline) throw new Error(`${name} did not answer 200 at ${url} within 30 s`);
    await sleep(100);
  }
}

const UPSTREAM_SRC = `
const http = require('http');
const body = JSON.stringify({ answer: 'x'.repeat(241) }); // 256 bytes
const now = () => Number(process.hrtime.bigint()) / 1e6;
http.createServer((req, res) => {
  if (req.url === '/stream') {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    res.write('data: ' + now().toFixed(4) + '\\n\\n');
    setTimeout(() => { res.write('data: more\\n\\n'); setTimeout(() => res.end('data: [DONE]\\n\\n'), 5); }, 20);
    return;
  }
  req.resume();
  req.on('end', () => { res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }); res.end(body); });
}).listen(Number(process.argv[1]), '127.0.0.1');`;

const MINIMAL_SRC = `
const http = require('http');
const [port, upPort] = process.argv.slice(1).map(Number);
const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
http.createServer((req, res) => {
  const u = http.request({ agent, host: '127.0.0.1', port: upPort, method: req.method, path: req.url, headers: req.headers }, (ur) => {
    res.writeHead(ur.statusCode, ur.headers); ur.pipe(res);
  });
  u.on('error', () => { if (!res.headersSent) res.statusCode = 502; res.end(); });
  req.pipe(u);
}).listen(port, '127.0.0.1');`;

function nginxConf(dir, port, upPort) {
  return `worker_processes 1;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 1024; }
http {
  access_log ${dir}/access.log;
  access_log off;
  client_body_temp_path ${dir}/body; proxy_temp_path ${dir}/proxy; fastcgi_temp_path ${dir}/fcgi;
  uwsgi_temp_path ${dir}/uwsgi; scgi_temp_path ${dir}/scgi;
  upstream agent { server 127.0.0.1:${upPort}; keepalive 64; }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://agent;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_buffering off;
    }
  }
}
`;
}

/** Moderate load: sequential requests on one keep-alive connection. */
async function latency(url) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  try {
    for (let i = 0; i < 20; i++) await get(agent, url); // warm the connection and the JIT
    const ms = [];
    const until = Date.now() + 10000;
    for (let i = 0; i < CALLS && Date.now() < until; i++) {
      const r = await get(agent, url);
      if (r.status !== 200) throw new Error(`status ${r.status} from ${url}`);
      ms.push(r.ms);
    }
    ms.sort((a, b) => a - b);
    return { p50: pct(ms, 50), p99: pct(ms, 99), n: ms.length };
  } finally { agent.destroy(); }
}

/** Streaming: first chunk's arrival minus the upstream's send stamp it carries. */
async function firstChunk(url) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const out = [];
  try {
    for (let i = 0; i < STREAMS; i++) {
      out.push(await new Promise((resolve, reject) => {
        const req = http.get(url, { agent, timeout: REQ_TIMEOUT_MS }, (res) => {
          let first;
          res.on('data', (c) => {
            if (first !== undefined) return;
            const at = now();
            const m = /^data: ([0-9.]+)/.exec(c.toString());
            if (!m) return reject(new Error(`first chunk without a stamp: ${JSON.stringify(c.toString().slice(0, 80))}`));
            first = at - Number(m[1]);
          });
          res.on('end', () => (first === undefined ? reject(new Error('stream ended without a chunk')) : resolve(first)));
          res.on('error', reject);
        });
        req.on('timeout', () => req.destroy(new Error(`stream timeout: ${url}`)));
        req.on('error', reject);
      }));
    }
  } finally { agent.destroy(); }
  out.sort((a, b) => a - b);
  return { p50: pct(out, 50), p99: pct(out, 99), max: out[out.length - 1] };
}

/** Saturation: autocannon for SECONDS, CPU of the proxy's processes over the same span. */
async function saturate(url, pids) {
  const cpu0 = pids.reduce((n, p) => n + cpuSeconds(p), 0);
  const r = await autocannon({ url, connections: CONNECTIONS, duration: SECONDS, timeout: REQ_TIMEOUT_MS / 1000 });
  const cpu1 = pids.reduce((n, p) => n + cpuSeconds(p), 0);
  const total = r.requests.total;
  return { rps: total / SECONDS, total, cpuUs: pids.length && total ? ((cpu1 - cpu0) * 1e6) / total : NaN, errors: r.errors + r.timeouts + r.non2xx };
}

async function main() {
  log(`bench:proxy: ${os.cpus().length} cores, load ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}; rounds ${ROUNDS}, ${CALLS} sequential calls, autocannon ${CONNECTIONS} conn x ${SECONDS}s, ${STREAMS} streams`);
  if (!fs.existsSync(CLI)) throw new Error(`${CLI} missing: run npm run build first`);
  tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-proxy-'));
  const [upPort, minPort, scMetrics, scApi, scProxy, ngPort] = await Promise.all([0, 1, 2, 3, 4, 5].map(() => freePort()));
  const upstream = `http://127.0.0.1:${upPort}`;

  const up = start(process.execPath, ['-e', UPSTREAM_SRC, String(upPort)], 'upstream');
  const minimal = start(process.execPath, ['-e', MINIMAL_SRC, String(minPort), String(upPort)], 'minimal proxy');
  // As AgentService runs it (constructs/agent-service.ts sidecarEnv, sidecar/Dockerfile CMD).
  const sidecar = start(process.execPath, [...SIDECAR_NODE_FLAGS, CLI], 'agent-sidecar', {
    SIDECAR_AGENT_NAME: 'bench',
    SIDECAR_METRICS_HOST: '127.0.0.1', SIDECAR_METRICS_PORT: String(scMetrics),
    SIDECAR_API_HOST: '127.0.0.1', SIDECAR_API_PORT: String(scApi),
    SIDECAR_PROXY: 'true', SIDECAR_PROXY_HOST: '127.0.0.1', SIDECAR_PROXY_PORT: String(scProxy),
    SIDECAR_UPSTREAM: upstream, SIDECAR_UPSTREAM_READY_PATH: '/ready',
    SIDECAR_MAX_CONCURRENCY: '10', SIDECAR_PROXY_UNMEASURED_PATHS: '/health,/ready',
    SIDECAR_LOG_LEVEL: 'warn',
  });
  let nginx;
  const conf = path.join(tmpDir, 'nginx.conf');
  fs.writeFileSync(conf, nginxConf(tmpDir, ngPort, upPort));
  try {
    execFileSync('nginx', ['-t', '-q', '-c', conf, '-p', tmpDir], { stdio: ['ignore', 'ignore', 'pipe'] });
    // Its own log files; no inherited stdio, so a stray worker cannot hold our output open.
    nginx = start('nginx', ['-c', conf, '-p', tmpDir], 'nginx', {}, 'ignore');
  } catch (e) {
    log(`nginx not usable, skipped: ${String(e.stderr || e.message).trim().split('\n').pop()}`);
  }

  const targets = [
    { name: 'direct', url: upstream, pids: () => [up.pid] },
    { name: 'agent-sidecar proxy', url: `http://127.0.0.1:${scProxy}`, pids: () => [sidecar.pid] },
    { name: 'minimal node proxy', url: `http://127.0.0.1:${minPort}`, pids: () => [minimal.pid] },
  ];
  if (nginx) {
    const workers = () => {
      const pids = execFileSync('pgrep', ['-P', String(nginx.pid)]).toString().trim().split('\n').filter(Boolean).map(Number);
      for (const p of pids) if (!extraPids.includes(p)) extraPids.push(p);
      return pids;
    };
    targets.push({ name: 'nginx', url: `http://127.0.0.1:${ngPort}`, pids: () => [nginx.pid, ...workers()] });
  }
  for (const t of targets) { await waitUp(`${t.url}/invoke`, t.name); t.pids(); log(`${t.name} up at ${t.url}`); }
  // Checks that each target really forwards (and the sidecar really measures).
  const r = await get(false, `http://127.0.0.1:${scProxy}/stream`);
  if (!r.body.includes('[DONE]')) throw new Error('sidecar proxy did not forward the stream');

  const res = Object.fromEntries(targets.map((t) => [t.name, { p50: [], p99: [], rps: [], cpuUs: [], errors: 0, ttfc50: [], ttfc99: [], ttfcMax: [] }]));
  // Warm-up: JIT, pools.
  for (const t of targets) await autocannon({ url: `${t.url}/invoke`, connections: CONNECTIONS, duration: 1 });
  log('warmed up');
  for (let round = 1; round <= ROUNDS; round++) {
    for (const t of targets) {
      const x = res[t.name];
      const l = await latency(`${t.url}/invoke`);
      const s = await saturate(`${t.url}/invoke`, t.pids());
      const f = await firstChunk(`${t.url}/stream`);
      x.p50.push(l.p50); x.p99.push(l.p99); x.rps.push(s.rps); x.cpuUs.push(s.cpuUs); x.errors += s.errors;
      x.ttfc50.push(f.p50); x.ttfc99.push(f.p99); x.ttfcMax.push(f.max);
      log(`round ${round}/${ROUNDS} ${t.name}: p50 ${l.p50.toFixed(3)} ms, p99 ${l.p99.toFixed(3)} ms (${l.n} calls); ${Math.round(s.rps)} req/s, ${s.cpuUs.toFixed(1)} µs CPU/req (${s.total} req, ${s.errors} errors); first chunk p50 ${f.p50.toFixed(3)} ms, max ${f.max.toFixed(3)} ms; load ${os.loadavg()[0].toFixed(2)}`);
    }
  }
  const metrics = await get(false, `http://127.0.0.1:${scMetrics}/metrics`);
  const counted = metrics.body.split('\n').filter((l) => l.startsWith('agent_invocations_total{')).reduce((n, l) => n + Number(l.split(' ').pop()), 0);

  const m = Object.fromEntries(Object.entries(res).map(([k, v]) => [k, {
    p50: median(v.p50), p99: median(v.p99), rps: median(v.rps), cpuUs: median(v.cpuUs), errors: v.errors,
    ttfc50: median(v.ttfc50), ttfc99: median(v.ttfc99), ttfcMax: Math.max(...v.ttfcMax),
  }]));
  const d = m.direct;
  const floor = m['minimal node proxy'];
  const cpuModel = (fs.readFileSync('/proc/cpuinfo', 'utf8').match(/model name\s*:\s*(.*)/) || [])[1] || os.cpus()[0].model;
  console.log(`\n${new Date().toISOString()}; ${os.cpus().length} cores (${cpuModel}); node ${process.version}; load average now ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  console.log(`medians of ${ROUNDS} interleaved rounds; latency: ${CALLS} sequential keep-alive calls; req/s and CPU: autocannon ${CONNECTIONS} connections x ${SECONDS} s; first chunk: ${STREAMS} streams\n`);
  console.log('| target | p50 ms | p99 ms | added p50 ms | added p99 ms | req/s | CPU µs/req | CPU vs minimal | first chunk p50 ms | p99 ms | max ms | errors |');
  console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const [name, x] of Object.entries(m)) {
    const proxied = name !== 'direct';
    console.log(`| ${name}${proxied ? '' : ' (CPU: the upstream)'} | ${x.p50.toFixed(3)} | ${x.p99.toFixed(3)} | ${proxied ? (x.p50 - d.p50).toFixed(3) : '-'} | ${proxied ? (x.p99 - d.p99).toFixed(3) : '-'} | ${Math.round(x.rps)} | ${x.cpuUs.toFixed(1)} | ${proxied ? (x.cpuUs / floor.cpuUs).toFixed(2) + 'x' : '-'} | ${x.ttfc50.toFixed(3)} | ${x.ttfc99.toFixed(3)} | ${x.ttfcMax.toFixed(3)} | ${x.errors} |`);
  }
  const ours = m['agent-sidecar proxy'];
  console.log(`\ntargets: CPU/req ≤ 1.3x minimal: ${(ours.cpuUs / floor.cpuUs).toFixed(2)}x ${ours.cpuUs / floor.cpuUs <= 1.3 ? 'met' : 'NOT met'}; ` +
    `p50 added < 0.3 ms: ${(ours.p50 - d.p50).toFixed(3)} ms ${ours.p50 - d.p50 < 0.3 ? 'met' : 'NOT met'}; ` +
    `first chunk within 1 ms: p50 ${ours.ttfc50.toFixed(3)} ms ${ours.ttfc50 <= 1 ? 'met' : 'NOT met'} (p99 ${ours.ttfc99.toFixed(3)} ms)`);
  console.log(`sidecar counted ${counted} invocations (agent_invocations_total)`);
  for (const c of children) c.benchStopping = true;
}

main().then(() => process.exit(0), (e) => { console.error(`bench:proxy failed: ${e.stack || e}`); process.exit(1); });
