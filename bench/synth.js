#!/usr/bin/env node
/*
 * Synthesis benchmark (a script, not a timed test): `npm run bench:synth`.
 *
 * For 100, 500 and 1000 agents it runs, each in a fresh process so peak RSS is its own:
 *  - ours:     `cdk8s-agents synth system.yaml` in-process (read + parse + AgentSystem with
 *              every AgentService, the MeshPolicy call graph and the MonitoringStack + write);
 *  - baseline: a plain cdk8s-plus-28 Deployment + Service + HPA per agent, `app.synth()`.
 * It prints wall time, peak RSS, objects written, time per object and the ratio ours/baseline.
 * Module loading is outside the timed section for both.
 *
 * Each measurement runs `--runs` times (default 3), ours and baseline interleaved so a busy
 * machine slows both alike; the table shows the median wall time and the largest peak RSS.
 *
 * Usage: node bench/synth.js [--sizes 100,500,1000] [--runs 3] [--json]   (after `npm run build`)
 */
'use strict';
const { execFileSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const ROOT = path.join(__dirname, '..');
const LIB = path.join(ROOT, 'lib');

/** A system of `n` agents: mixed autoscaling, SLOs, canaries, each agent calling up to two later ones. */
function systemSpec(n) {
  const agents = [];
  for (let i = 0; i < n; i++) {
    const name = `agent-${String(i).padStart(4, '0')}`;
    const a = { name, image: `ghcr.io/example/${name}:1.${i % 7}.0`, team: `team-${i % 5}` };
    const calls = [i + 1, i + 2].filter((j) => j < n).map((j) => `agent-${String(j).padStart(4, '0')}`);
    if (calls.length) a.calls = calls;
    if (i % 3 === 0) a.autoscaling = { metric: 'inflight', targetPerReplica: 4, maxReplicas: 20 };
    else if (i % 3 === 1) a.autoscaling = { minReplicas: 2, maxReplicas: 10 };
    else a.replicas = 2;
    if (i % 2 === 0) a.slo = { availability: 99.5, latencyP95Seconds: 30 };
    if (i % 10 === 0) a.canary = { image: `ghcr.io/example/${name}:2.0.0-rc.1`, weight: 10 };
    agents.push(a);
  }
  return { name: 'bench', namespace: 'bench', agents };
}

function agentNames(n) {
  return Array.from({ length: n }, (_, i) => `agent-${String(i).padStart(4, '0')}`);
}

function countDocs(dir) {
  let n = 0;
  for (const f of fs.readdirSync(dir)) {
    if (!f.endsWith('.yaml') && !f.endsWith('.k8s.yaml')) continue;
    if (f === 'kustomization.yaml') continue;
    n += fs.readFileSync(path.join(dir, f), 'utf8').split(/^kind: /m).length - 1;
  }
  return n;
}

async function childOurs(n) {
  const YAML = require('yaml');
  const { run } = require(path.join(LIB, 'cli', 'main.js'));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-ours-'));
  const file = path.join(dir, 'system.yaml');
  fs.writeFileSync(file, YAML.stringify(systemSpec(n)));
  const out = path.join(dir, 'out');
  let stderr = '';
  const start = process.hrtime.bigint();
  const code = await run(['synth', file, '--out', out, '--quiet'], { stdout: () => {}, stderr: (t) => { stderr += t; }, cwd: dir });
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  if (code !== 0) throw new Error(`synth exited ${code}: ${stderr}`);
  const objects = countDocs(out);
  fs.rmSync(dir, { recursive: true, force: true });
  return { ms, objects };
}

function childBaseline(n) {
  const { App, Chart } = require('cdk8s');
  const kplus = require('cdk8s-plus-28');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-base-'));
  const start = process.hrtime.bigint();
  const app = new App({ outdir: dir });
  const chart = new Chart(app, 'bench', { namespace: 'bench', disableResourceNameHashes: true });
  for (const name of agentNames(n)) {
    const deployment = new kplus.Deployment(chart, `${name}-deployment`, {
      metadata: { name },
      containers: [{
        image: `ghcr.io/example/${name}:1.0.0`,
        portNumber: 8080,
        resources: { cpu: { request: kplus.Cpu.millis(100), limit: kplus.Cpu.millis(500) } },
        securityContext: { user: 10001, group: 10001 },
      }],
    });
    deployment.exposeViaService({ name, ports: [{ port: 8080 }] });
    new kplus.HorizontalPodAutoscaler(chart, `${name}-hpa`, {
      metadata: { name: `${name}-hpa` },
      target: deployment,
      minReplicas: 2,
      maxReplicas: 10,
      metrics: [kplus.Metric.resourceCpu(kplus.MetricTarget.averageUtilization(70))],
    });
  }
  app.synth();
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  const objects = countDocs(dir);
  fs.rmSync(dir, { recursive: true, force: true });
  return { ms, objects };
}

async function child(variant, n) {
  const r = variant === 'ours' ? await childOurs(n) : childBaseline(n);
  const peakRssMb = process.resourceUsage().maxRSS / 1024;
  process.stdout.write(JSON.stringify({ variant, agents: n, ...r, peakRssMb }) + '\n');
}

function measure(variant, n) {
  const out = execFileSync(process.execPath, [__filename, '--child', variant, String(n)], { encoding: 'utf8', maxBuffer: 1 << 20 });
  return JSON.parse(out.trim().split('\n').pop());
}

/** Median wall time, largest peak RSS, all runs' wall times. */
function summarize(samples) {
  const walls = samples.map((s) => s.ms).sort((a, b) => a - b);
  return {
    ms: walls[Math.floor(walls.length / 2)],
    walls,
    peakRssMb: Math.max(...samples.map((s) => s.peakRssMb)),
    objects: samples[0].objects,
  };
}

function fmt(x, digits = 0) {
  return x.toFixed(digits);
}

function main() {
  const args = process.argv.slice(2);
  const ci = args.indexOf('--child');
  if (ci >= 0) return child(args[ci + 1], Number(args[ci + 2]));
  const si = args.indexOf('--sizes');
  const sizes = si >= 0 ? args[si + 1].split(',').map(Number) : [100, 500, 1000];
  if (!fs.existsSync(path.join(LIB, 'cli', 'main.js'))) {
    console.error('lib/ is missing: run `npm run build` first (npm run bench:synth does)');
    process.exit(2);
  }
  const ri = args.indexOf('--runs');
  const runs = ri >= 0 ? Number(args[ri + 1]) : 3;
  const rows = [];
  for (const n of sizes) {
    const samples = { ours: [], baseline: [] };
    for (let i = 0; i < runs; i++) {
      samples.ours.push(measure('ours', n));
      samples.baseline.push(measure('baseline', n));
    }
    const ours = summarize(samples.ours);
    const base = summarize(samples.baseline);
    const usOurs = (ours.ms * 1000) / ours.objects;
    const usBase = (base.ms * 1000) / base.objects;
    rows.push({ agents: n, ours, baseline: base, usPerObjectOurs: usOurs, usPerObjectBaseline: usBase, ratio: usOurs / usBase });
  }
  if (args.includes('--json')) {
    console.log(JSON.stringify({ node: process.version, cpus: os.cpus().length, rows }, null, 2));
    return undefined;
  }
  console.log(`node ${process.version}, ${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? 'unknown'}), load average ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}, median of ${runs} runs`);
  console.log('| agents | variant | wall (ms) | peak RSS (MB) | objects | µs/object | ratio ours/baseline (per object) |');
  console.log('| ---: | --- | ---: | ---: | ---: | ---: | ---: |');
  for (const r of rows) {
    console.log(`| ${r.agents} | ours (system: agents + mesh + monitoring) | ${fmt(r.ours.ms)} | ${fmt(r.ours.peakRssMb)} | ${r.ours.objects} | ${fmt(r.usPerObjectOurs)} | ${fmt(r.ratio, 2)} |`);
    console.log(`| ${r.agents} | baseline (cdk8s-plus Deployment + Service + HPA) | ${fmt(r.baseline.ms)} | ${fmt(r.baseline.peakRssMb)} | ${r.baseline.objects} | ${fmt(r.usPerObjectBaseline)} | |`);
  }
  const big = rows.find((r) => r.agents === 1000);
  if (big) {
    const ok = big.ours.ms < 5000 && big.ours.peakRssMb < 500 && big.ratio <= 1;
    console.log(`\n1000 agents: ${fmt(big.ours.ms)} ms (target < 5000), peak RSS ${fmt(big.ours.peakRssMb)} MB (target < 500), per-object ratio ${fmt(big.ratio, 2)} (target <= 1): ${ok ? 'within targets' : 'OUTSIDE TARGETS'}`);
  }
  return undefined;
}

Promise.resolve(main()).catch((e) => {
  console.error(e);
  process.exit(70);
});
