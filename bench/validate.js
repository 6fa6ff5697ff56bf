#!/usr/bin/env node
/*
 * What the built-in (Go) rules and the CEL rules cost in validateManifests (run after `npm run build`):
 * the committed dist/ plus the valid fixtures, copied 10 times under new names, validated with
 * (a) schema + policy only, (b) + built-in rules, (c) + CEL. The variants are interleaved, 15 rounds,
 * median per variant; promtool and cross-object rules are off so only the passes compared differ.
 * Usage: node bench/validate.js
 */
'use strict';
const path = require('path');
const root = path.resolve(__dirname, '..');
const { loadManifests, validateManifests } = require(path.join(root, 'lib', 'testing'));

async function main() {
  const objs = loadManifests([path.join(root, 'dist'), path.join(root, 'test', 'testing', 'fixtures', 'valid')]);
  const many = [];
  for (let i = 0; i < 10; i++) for (const o of objs) many.push({ ...o, metadata: { ...o.metadata, name: `${o.metadata.name}-${i}` } });
  const custom = many.filter((o) => !/^(v1|apps\/v1|batch\/v1|autoscaling\/v2|policy\/v1|networking\.k8s\.io\/v1|rbac\.authorization\.k8s\.io\/v1)$/.test(o.apiVersion)).length;
  const base = { promtool: false, crossObject: false };
  const variants = {
    'schema + policy': { ...base, builtin: false, cel: false },
    '+ built-in rules': { ...base, cel: false },
    '+ built-in + CEL': { ...base },
  };
  const cold = process.hrtime.bigint();
  await validateManifests(many, base); // first call: loads kubernetes-models, compiles the CEL programs
  const coldMs = Number(process.hrtime.bigint() - cold) / 1e6;
  const times = Object.fromEntries(Object.keys(variants).map((k) => [k, []]));
  for (let round = 0; round < 15; round++) {
    for (const [name, opts] of Object.entries(variants)) {
      const t = process.hrtime.bigint();
      const r = await validateManifests(many, opts);
      times[name].push(Number(process.hrtime.bigint() - t) / 1e6);
      if (!r.ok) throw new Error(`${name}: ${r.errors.length} errors`);
    }
  }
  const median = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
  const ref = median(times['schema + policy']);
  console.log(`${many.length} objects (${custom} custom resources); first call ${coldMs.toFixed(0)} ms; load average ${require('os').loadavg()[0].toFixed(1)}`);
  for (const [name, t] of Object.entries(times)) {
    const m = median(t);
    console.log(`${name.padEnd(18)} median ${m.toFixed(1)} ms  ${((m * 1000) / many.length).toFixed(0)} µs/object  ratio ${(m / ref).toFixed(2)}`);
  }
}
main().catch((e) => {
  console.error(e);
  process.exit(1);
});
