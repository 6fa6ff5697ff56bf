#!/usr/bin/env node
/**
 * Sidecar benchmark (a script, not a test): `npm run bench:sidecar`.
 *
 * Starts the compiled sidecar (lib/sidecar/cli.js) and, in the same run, a bare node:http
 * server answering a fixed body, each in its own process, and loads both over loopback with
 * autocannon (keep-alive, 32 connections): cache GET hits, cache PUT, single execution
 * records, batches of 100. Prints req/s, p50/p99 latency and peak RSS per scenario, the ratio
 * to the bare server, idle RSS, RSS with 100k cached entries, and the DDSketch error against
 * exact percentiles on 1M samples.
 *
 * Environment: BENCH_DURATION (seconds per run, default 6), BENCH_CONNECTIONS (default 32).
 */
'use strict';
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const autocannon = require('autocannon');
const { CLI, SIDECAR_NODE_FLAGS, cpuSeconds, freePort, waitHttp } = require('./common');

const ROOT = path.resolve(__dirname, '..');
const DURATION = Number(process.env.BENCH_DURATION ?? 6);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32);
const VALUE_BYTES = 256;
const FILL_ENTRIES = 100_000;
const MB = 1024 * 1024;

const children = [];
process.on('exit', () => children.forEach((c) => c.kill('SIGKILL')));

function rss(pid) {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** CPU seconds of a process, 0 once it is gone. */
function cpuOf(pid) {
  try {
    return cpuSeconds(pid);
  } catch {
    return 0;
  }
}

const BARE_SERVER = `
const http = require('node:http');
const body = Buffer.alloc(${VALUE_BYTES}, 'x');
http.createServer((req, res) => {
  res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': body.length });
  res.end(body);
}).listen(Number(process.argv[1]), '127.0.0.1');
`;

async function startBare() {
  const port = await freePort();
  const child = spawn(process.execPath, ['-e', BARE_SERVER, String(port)], { stdio: 'ignore' });
  children.push(child);
  await waitHttp(`http://127.0.0.1:${port}/`);
  return { child, url: `http://127.0.0.1:${port}` };
}

async function startSidecar(extra = ['--cache-max-entries', '200000', '--cache-max-bytes', String(100 * MB), '--max-batch-size', '10000']) {
  const [metricsPort, apiPort] = [await freePort(), await freePort()];
  const child = spawn(
    process.execPath,
    [
      ...SIDECAR_NODE_FLAGS,
      CLI,
      '--metrics-host', '127.0.0.1', '--metrics-port', String(metricsPort),
      '--api-host', '127.0.0.1', '--api-port', String(apiPort),
      '--log-level', 'warn',
      ...extra,
    ],
    { stdio: ['ignore', 'inherit', 'inherit'] },
  );
  children.push(child);
  await waitHttp(`http://127.0.0.1:${metricsPort}/readyz`);
  return { child, api: `http://127.0.0.1:${apiPort}`, metrics: `http://127.0.0.1:${metricsPort}` };
}

/** Runs autocannon while sampling the server's RSS; returns the figures we report. */
async function load(name, pid, opts) {
  let peak = rss(pid);
  const sampler = setInterval(() => (peak = Math.max(peak, rss(pid))), 100);
  const cpu0 = cpuOf(pid);
  const result = await autocannon({ connections: CONNECTIONS, pipelining: 1, duration: DURATION, ...opts });
  const cpu = cpuOf(pid) - cpu0;
  clearInterval(sampler);
  peak = Math.max(peak, rss(pid));
  const bad = result.non2xx + result.errors + result.timeouts;
  if (bad > 0) console.error(`  ! ${name}: ${result.non2xx} non-2xx, ${result.errors} errors, ${result.timeouts} timeouts`);
  // Server CPU per request: robust on a shared machine where req/s also measures the neighbours.
  const cpuUsPerReq = result.requests.total > 0 ? (cpu * 1e6) / result.requests.total : 0;
  return { name, reqPerSec: result.requests.average, p50: result.latency.p50, p99: result.latency.p99, peakRssMb: peak / MB, bad, cpuUsPerReq, cpuShare: cpu / DURATION };
}

function sketchAccuracy() {
  const { newSketch, SKETCH_RELATIVE_ACCURACY } = require(path.join(ROOT, 'lib', 'sidecar', 'stats.js'));
  let seed = 7;
  const rand = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
  const n = 1_000_000;
  const values = new Float64Array(n);
  const sketch = newSketch();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) {
    const z = Math.sqrt(-2 * Math.log(Math.max(rand(), 1e-12))) * Math.cos(2 * Math.PI * rand());
    values[i] = Math.exp(6 + 1.2 * z); // log-normal latencies in ms: median ~400 ms, long tail
  }
  const t1 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) sketch.accept(values[i]);
  const t2 = process.hrtime.bigint();
  values.sort();
  const rows = [0.5, 0.9, 0.95, 0.99, 0.999].map((q) => {
    const exact = values[Math.ceil(q * n) - 1];
    const approx = sketch.getValueAtQuantile(q);
    return { q, exact, approx, relErr: Math.abs(approx - exact) / exact };
  });
  return { n, stated: SKETCH_RELATIVE_ACCURACY, nsPerAccept: Number(t2 - t1) / n, rows, genMs: Number(t1 - t0) / 1e6 };
}

function fmt(n, d = 0) {
  return n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });
}

async function main() {
  if (!fs.existsSync(CLI)) {
    console.error(`${CLI} not found: run \`npm run build\` first`);
    process.exit(1);
  }
  const startedAt = new Date();
  // Idle RSS with the default configuration (what a pod runs), then the bench configuration.
  const idle = await startSidecar([]);
  await new Promise((r) => setTimeout(r, 1500));
  const idleRss = rss(idle.child.pid);
  idle.child.kill('SIGTERM');
  const bare = await startBare();
  const sc = await startSidecar();
  await new Promise((r) => setTimeout(r, 1500));
  const idleRssBench = rss(sc.child.pid);

  // Fill 100k entries of 256 bytes (unique keys), then read RSS.
  const value = 'v'.repeat(VALUE_BYTES);
  let fillIndex = 0;
  const fill = await autocannon({
    url: sc.api,
    connections: CONNECTIONS,
    amount: FILL_ENTRIES,
    requests: [{ method: 'PUT', body: value, setupRequest: (req) => ({ ...req, path: `/v1/cache/bench/k${fillIndex++}?ttl=3600` }) }],
  });
  const stats = await (await fetch(`${sc.api}/v1/cache/stats`)).json();
  global.gc?.();
  await new Promise((r) => setTimeout(r, 1000));
  const filledRss = rss(sc.child.pid);

  const results = [];
  // The GET comparisons run interleaved, twice, keeping each scenario's best run: on a shared
  // machine a neighbour's burst then cannot decide the ratio alone.
  // Same client work for both sides: a rotating path built per request by setupRequest.
  const rotating = (base) => {
    let i = 0;
    return { url: base, requests: [{ method: 'GET', setupRequest: (req) => ({ ...req, path: `/v1/cache/bench/k${(i++ * 7919) % FILL_ENTRIES}` }) }] };
  };
  const getScenarios = [
    ['bare node:http GET, rotating paths (256 B body)', bare.child.pid, () => rotating(bare.url)],
    ['bare node:http GET, one path', bare.child.pid, () => ({ url: `${bare.url}/v1/cache/bench/k1` })],
    ['sidecar cache GET hit, one key', sc.child.pid, () => ({ url: `${sc.api}/v1/cache/bench/k1` })],
    ['sidecar cache GET hit, rotating keys (256 B value)', sc.child.pid, () => rotating(sc.api)],
  ];
  const best = [];
  for (let round = 0; round < 2; round++) {
    for (let i = 0; i < getScenarios.length; i++) {
      const [name, pid, opts] = getScenarios[i];
      const r = await load(name, pid, opts());
      if (!best[i] || r.reqPerSec > best[i].reqPerSec) best[i] = r;
    }
  }
  results.push(...best);
  let putIndex = 0;
  results.push(
    await load('sidecar cache PUT (256 B value)', sc.child.pid, {
      url: sc.api,
      requests: [{ method: 'PUT', body: value, setupRequest: (req) => ({ ...req, path: `/v1/cache/bench/k${putIndex++ % FILL_ENTRIES}?ttl=3600` }) }],
    }),
  );
  const record = { agent: 'bench', operation: 'chat', durationMs: 123.4, success: true, model: 'gpt-4o', inputTokens: 512, outputTokens: 128 };
  results.push(
    await load('sidecar POST 1 execution record', sc.child.pid, {
      url: `${sc.api}/v1/executions`,
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(record),
    }),
  );
  const batch = Array.from({ length: 100 }, (_, i) => ({
    ...record,
    operation: ['chat', 'plan', 'tool_call', 'search'][i % 4],
    durationMs: 10 + ((i * 37) % 5000),
    success: i % 17 !== 0,
    ...(i % 17 === 0 ? { errorType: 'timeout' } : {}),
  }));
  const batchResult = await load('sidecar POST batch of 100 records', sc.child.pid, {
    url: `${sc.api}/v1/executions`,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(batch),
  });
  results.push(batchResult);

  // /metrics cost with the series the runs created.
  const t0 = performance.now();
  const metricsText = await (await fetch(`${sc.metrics}/metrics`)).text();
  const scrapeMs = performance.now() - t0;

  const sketch = sketchAccuracy();

  // Each sidecar GET run is compared with the bare run that has the same client work.
  const ratioBase = (r) => (r.name.includes('one key') ? results[1].reqPerSec : results[0].reqPerSec);
  const bareRps = results[0].reqPerSec;
  console.log('');
  console.log(`## Sidecar benchmark — ${startedAt.toISOString()}`);
  console.log(`machine: ${os.cpus().length} x ${os.cpus()[0]?.model ?? 'cpu'}, ${fmt(os.totalmem() / 2 ** 30, 1)} GiB, ${os.platform()} ${os.release()}, node ${process.version}`);
  console.log(`autocannon: ${CONNECTIONS} connections, keep-alive, pipelining 1, ${DURATION} s per run, loopback; servers in their own processes; sidecar node flags: ${SIDECAR_NODE_FLAGS.join(' ') || '(none)'}`);
  console.log('');
  const cpuBase = (r) => (r.name.includes('one key') ? results[1].cpuUsPerReq : results[0].cpuUsPerReq);
  console.log('| scenario | req/s | x bare (req/s) | server CPU µs/req | x bare (CPU) | records/s | p50 ms | p99 ms | peak RSS MB |');
  console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const r of results) {
    const records = r === batchResult ? r.reqPerSec * 100 : r.name.includes('1 execution') ? r.reqPerSec : undefined;
    console.log(
      `| ${r.name} | ${fmt(r.reqPerSec)} | ${fmt(r.reqPerSec / ratioBase(r), 2)} | ${fmt(r.cpuUsPerReq, 1)} | ${fmt(cpuBase(r) / r.cpuUsPerReq, 2)} | ${records ? fmt(records) : ''} | ${fmt(r.p50, 1)} | ${fmt(r.p99, 1)} | ${fmt(r.peakRssMb, 1)} |`,
    );
  }
  console.log('');
  console.log(`idle RSS after start: ${fmt(idleRss / MB, 1)} MB with the default configuration, ${fmt(idleRssBench / MB, 1)} MB with the bench configuration (200k-entry cache preallocated)`);
  console.log(`RSS with ${fmt(stats.size)} cached entries (${VALUE_BYTES} B values, ${fmt(stats.bytes / MB, 1)} MB charged): ${fmt(filledRss / MB, 1)} MB (fill: ${fmt(fill.requests.average)} PUT/s)`);
  console.log(`/metrics after the runs: ${fmt(metricsText.length / 1024, 1)} KiB, ${fmt(scrapeMs, 1)} ms`);
  console.log('');
  console.log(`DDSketch (stated relative accuracy ${sketch.stated * 100}%) on ${fmt(sketch.n)} log-normal samples, ${fmt(sketch.nsPerAccept, 0)} ns per insert:`);
  console.log('| quantile | exact ms | sketch ms | relative error |');
  console.log('| --- | ---: | ---: | ---: |');
  for (const r of sketch.rows) console.log(`| p${r.q * 100} | ${fmt(r.exact, 2)} | ${fmt(r.approx, 2)} | ${fmt(r.relErr * 100, 3)}% |`);

  const targets = [
    ['cache GET >= 0.8x bare capacity (server CPU per request, rotating keys)', results[0].cpuUsPerReq / results[3].cpuUsPerReq >= 0.8, `${fmt(results[0].cpuUsPerReq / results[3].cpuUsPerReq, 2)}x`],
    ['cache GET >= 0.8x bare capacity (server CPU per request, one key)', results[1].cpuUsPerReq / results[2].cpuUsPerReq >= 0.8, `${fmt(results[1].cpuUsPerReq / results[2].cpuUsPerReq, 2)}x`],
    ['cache GET >= 0.8x bare req/s (rotating keys)', results[3].reqPerSec / results[0].reqPerSec >= 0.8, `${fmt(results[3].reqPerSec / results[0].reqPerSec, 2)}x`],
    ['cache GET >= 0.8x bare req/s (one key)', results[2].reqPerSec / results[1].reqPerSec >= 0.8, `${fmt(results[2].reqPerSec / results[1].reqPerSec, 2)}x`],
    ['cache GET p99 < 5 ms', Math.max(results[2].p99, results[3].p99) < 5, `${Math.max(results[2].p99, results[3].p99)} ms`],
    ['batched ingest > 200k records/s', batchResult.reqPerSec * 100 > 200_000, `${fmt(batchResult.reqPerSec * 100)} records/s`],
    ['idle RSS < 60 MB', idleRss < 60 * MB, `${fmt(idleRss / MB, 1)} MB`],
    ['RSS < 150 MB with 100k entries', filledRss < 150 * MB && stats.size >= FILL_ENTRIES, `${fmt(filledRss / MB, 1)} MB, ${stats.size} entries`],
    ['sketch error within stated accuracy', sketch.rows.every((r) => r.relErr <= sketch.stated + 1e-9), `max ${fmt(Math.max(...sketch.rows.map((r) => r.relErr)) * 100, 3)}%`],
  ];
  console.log('');
  console.log('| target | met | measured |');
  console.log('| --- | --- | --- |');
  for (const [t, ok, v] of targets) console.log(`| ${t} | ${ok ? 'yes' : '**no**'} | ${v} |`);

  for (const c of children) c.kill('SIGTERM');
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
