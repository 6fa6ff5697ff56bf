/** Runs a generated promtool suite through the package's own promtoolTest (check rules + test rules); throws with promtool's output. */
import { PromtoolSuite, promtoolTestFile } from '../../constructs/rules';
import { promtoolTest } from '../../testing';

export async function runPromtoolSuite(bin: string, suite: PromtoolSuite, timeoutMs = 110_000): Promise<void> {
  const r = await promtoolTest({ ruleGroups: suite.ruleGroups, tests: [promtoolTestFile(suite, 'rules.yaml')], promtool: bin, timeoutMs });
  if (!r.ok) throw new Error(`promtool test rules failed:\n${r.output}`.slice(0, 5000));
}
