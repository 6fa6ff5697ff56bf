/** Runs `promtool test rules` on a generated suite in a temporary directory; throws with promtool's output. */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as YAML from 'yaml';
import { PromtoolSuite, promtoolTestFile } from '../../constructs/rules';

export function runPromtoolSuite(bin: string, suite: PromtoolSuite): void {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cdk8s-agents-promtool-'));
  try {
    fs.writeFileSync(path.join(dir, 'rules.yaml'), YAML.stringify({ groups: suite.ruleGroups }, { lineWidth: 0 }));
    fs.writeFileSync(path.join(dir, 'rules.test.yaml'), YAML.stringify(promtoolTestFile(suite, 'rules.yaml'), { lineWidth: 0 }));
    execFileSync(bin, ['test', 'rules', path.join(dir, 'rules.test.yaml')], { stdio: 'pipe' });
  } catch (e) {
    const err = e as { stdout?: Buffer; stderr?: Buffer };
    throw new Error(`promtool test rules failed:\n${err.stdout?.toString() ?? ''}${err.stderr?.toString() ?? ''}`.slice(0, 5000));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
