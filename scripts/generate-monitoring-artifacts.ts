/**
 * Writes the generated monitoring artifacts that are checked in:
 *   test/promtool/<system>.rules.yaml   the rule groups of the example stack (main.ts)
 *   test/promtool/<system>.test.yaml    promtool unit tests: every alert fires once and stays silent once
 *   docs/runbooks/<alert>.md            one runbook page per built-in alert
 *
 * Usage: npx ts-node scripts/generate-monitoring-artifacts.ts [--check]
 * With --check nothing is written; exits 1 and lists the stale files.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { monitoringArtifacts } from './monitoring-artifacts';

const root = path.resolve(__dirname, '..');
const check = process.argv.includes('--check');
const stale: string[] = [];
for (const [file, content] of Object.entries(monitoringArtifacts())) {
  const abs = path.join(root, file);
  const current = fs.existsSync(abs) ? fs.readFileSync(abs, 'utf8') : undefined;
  if (current === content) continue;
  stale.push(file);
  if (!check) {
    fs.mkdirSync(path.dirname(abs), { recursive: true });
    fs.writeFileSync(abs, content);
  }
}
if (check && stale.length > 0) {
  console.error(`stale generated monitoring files (run npx ts-node scripts/generate-monitoring-artifacts.ts):\n  ${stale.join('\n  ')}`);
  process.exit(1);
}
console.log(check ? 'monitoring artifacts are up to date' : stale.length ? `wrote ${stale.join(', ')}` : 'nothing to write');
