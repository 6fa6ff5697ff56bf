#!/usr/bin/env node
/**
 * Model-provider gateway benchmark (a script, not a test): `npm run bench:gateway`.
 *
 * Starts a fake OpenAI-compatible provider (its own process: SSE chat completion, first chunk at
 * once, then 20 more, a final usage chunk and [DONE]; or a 4 KiB JSON completion) and the compiled
 * sidecar with `--provider openai=<fake> --provider-cache openai=600`, with the image's node flags.
 * Then, over keep-alive loopback connections, in alternating rounds:
 *   - streamed chat completion direct vs through the gateway: time to first chunk (request sent
 *     to first body byte) and total time, p50/p99; the gateway's added TTFC; sidecar CPU per call;
 *   - a 4 KiB completion answered from the gateway cache (temperature 0) vs direct from the fake:
 *     full response time p50/p99.
 * CONCURRENCY parallel clients (default 1) each run ROUNDS x CALLS calls per scenario.
 *
 * Environment: BENCH_CALLS (per round, default 500), BENCH_ROUNDS (default 4), BENCH_CONCURRENCY (default 1).
 */
'use strict';
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const http = require('node:http');
const os = require('node:os');
const { CLI, SIDECAR_NODE_FLAGS, cpuSeconds, freePort, waitHttp } = require('./common');

const CALLS = Number(process.env.BENCH_CALLS ?? 500);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 4);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 1);

const children = [];
process.on('exit', () => children.forEach((c) => c.kill('SIGKILL')));

// The fake provider, in its own process so its CPU is not the sidecar's or the client's.
const FAKE = `
const http = require('node:http');
const chunk = (i) => 'data: ' + JSON.stringify({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'gpt-4o-mini', choices: [{ index: 0, delta: { content: 'token' + i + ' ' }, finish_reason: null }], usage: null }) + '\\n\\n';
const tail = 'data: ' + JSON.stringify({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'gpt-4o-mini', choices: [], usage: { prompt_tokens: 50, completion_tokens: 21, total_tokens: 71 } }) + '\\n\\ndata: [DONE]\\n\\n';
const rest = Array.from({ length: 20 }, (_, i) => chunk(i + 1)).join('') + tail;
const content = 'x'.repeat(4096 - 260);
const json = JSON.stringify({ id: 'c', object: 'chat.completion', created: 1, model: 'gpt-4o-mini', choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }], usage: { prompt_tokens: 50, completion_tokens: 900, total_tokens: 950 } });
http.createServer((req, res) => {
  const parts = [];
  req.on('data', (c) => parts.push(c));
  req.on('end', () => {
    const body = JSON.parse(Buffer.concat(parts).toString() || '{}');
    if (body.stream) {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(chunk(0));
      setImmediate(() => res.end(rest));
    } else {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(json) });
      res.end(json);
    }
  });
}).listen(Number(process.argv[1]), '127.0.0.1');
`;

const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

/** One POST: ms to the first body byte and to the end. */
function call(url, body) {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    let first;
    const req = http.request(url, { method: 'POST', agent, headers: { 'content-type': 'application/json', authorization: 'Bearer sk-bench', 'content-length': Buffer.byteLength(body) } }, (res) => {
      res.on('data', () => {
        if (first === undefined) first = process.hrtime.bigint();
      });
      res.on('end', () => {
        const end = process.hrtime.bigint();
        resolve({ ttfc: Number(first - t0) / 1e6, total: Number(end - t0) / 1e6, cache: res.headers['x-sidecar-cache'], status: res.statusCode });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function run(url, body, n) {
  const out = [];
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      for (let i = 0; i < n; i++) out.push(await call(url, body));
    }),
  );
  return out;
}

const pct = (xs, q) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)];
};
const fmt = (n, d = 3) => n.toFixed(d);

async function main() {
  if (!fs.existsSync(CLI)) throw new Error('lib/sidecar/cli.js missing: run npm run build');
  const fakePort = await freePort();
  const fake = spawn(process.execPath, ['-e', FAKE, String(fakePort)], { stdio: 'inherit' });
  children.push(fake);
  const [metricsPort, apiPort] = [await freePort(), await freePort()];
  const sc = spawn(process.execPath, [...SIDECAR_NODE_FLAGS, CLI,
    '--metrics-host', '127.0.0.1', '--metrics-port', String(metricsPort), '--api-port', String(apiPort),
    '--provider', `openai=http://127.0.0.1:${fakePort}`, '--provider-cache', 'openai=600', '--log-level', 'warn'], { stdio: 'inherit' });
  children.push(sc);
  await waitHttp(`http://127.0.0.1:${fakePort}/`);
  await waitHttp(`http://127.0.0.1:${metricsPort}/readyz`);

  const direct = `http://127.0.0.1:${fakePort}/v1/chat/completions`;
  const gateway = `http://127.0.0.1:${apiPort}/v1/providers/openai/v1/chat/completions`;
  const stream = JSON.stringify({ model: 'gpt-4o-mini', stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'hello' }] });
  const cached = JSON.stringify({ model: 'gpt-4o-mini', temperature: 0, messages: [{ role: 'user', content: 'cache me' }] });

  // Warm up both paths (JIT, keep-alive sockets) and fill the cache entry.
  await run(direct, stream, 200);
  await run(gateway, stream, 200);
  await run(gateway, cached, 200);
  const first = await call(gateway, cached);
  if (first.cache !== 'hit') throw new Error(`expected a cache hit, got ${first.cache}`);

  const res = { direct: [], gateway: [], hit: [], bare: [] };
  let gatewayCpu = 0;
  let hitCpu = 0;
  for (let r = 0; r < ROUNDS; r++) {
    res.direct.push(...(await run(direct, stream, CALLS)));
    let c0 = cpuSeconds(sc.pid);
    res.gateway.push(...(await run(gateway, stream, CALLS)));
    gatewayCpu += cpuSeconds(sc.pid) - c0;
    res.bare.push(...(await run(direct, cached, CALLS)));
    c0 = cpuSeconds(sc.pid);
    res.hit.push(...(await run(gateway, cached, CALLS)));
    hitCpu += cpuSeconds(sc.pid) - c0;
  }
  const bad = [...res.gateway, ...res.hit].filter((x) => x.status !== 200).length;
  const misses = res.hit.filter((x) => x.cache !== 'hit').length;
  const n = CALLS * ROUNDS * CONCURRENCY;

  console.log(`machine: ${os.cpus().length} x ${os.cpus()[0]?.model ?? 'cpu'}, ${fmt(os.totalmem() / 2 ** 30, 1)} GiB, ${os.platform()} ${os.release()}, node ${process.version}; load average ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`);
  console.log(`date: ${new Date().toISOString()}; ${n} calls per scenario (${ROUNDS} alternating rounds x ${CALLS} x ${CONCURRENCY} clients); sidecar flags ${SIDECAR_NODE_FLAGS.join(' ')}`);
  console.log('');
  console.log('| scenario | TTFC p50 ms | TTFC p99 ms | total p50 ms | total p99 ms | sidecar CPU µs/call |');
  console.log('| --- | ---: | ---: | ---: | ---: | ---: |');
  const row = (name, xs, cpu) => console.log(`| ${name} | ${fmt(pct(xs.map((x) => x.ttfc), 0.5))} | ${fmt(pct(xs.map((x) => x.ttfc), 0.99))} | ${fmt(pct(xs.map((x) => x.total), 0.5))} | ${fmt(pct(xs.map((x) => x.total), 0.99))} | ${cpu === undefined ? '' : fmt((cpu * 1e6) / n, 0)} |`);
  row('SSE chat completion, direct', res.direct);
  row('SSE chat completion, through the gateway', res.gateway, gatewayCpu);
  row('4 KiB completion, direct from the fake', res.bare);
  row('4 KiB completion, gateway cache hit', res.hit, hitCpu);
  const added50 = pct(res.gateway.map((x) => x.ttfc), 0.5) - pct(res.direct.map((x) => x.ttfc), 0.5);
  const added99 = pct(res.gateway.map((x) => x.ttfc), 0.99) - pct(res.direct.map((x) => x.ttfc), 0.99);
  const hit99 = pct(res.hit.map((x) => x.total), 0.99);
  console.log('');
  console.log(`added time to first chunk: p50 ${fmt(added50)} ms, p99 ${fmt(added99)} ms (target < 1 ms: ${added50 < 1 ? 'met' : 'NOT met'} at p50)`);
  console.log(`cache hit (4 KiB): p99 ${fmt(hit99)} ms (target < 1 ms: ${hit99 < 1 ? 'met' : 'NOT met'}); non-200 answers ${bad}, hits that missed ${misses}`);
  process.exit(0);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
