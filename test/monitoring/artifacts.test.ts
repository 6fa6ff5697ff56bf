/**
 * The checked-in promtool files, runbooks and docs/monitoring.md are generated from the
 * source: they must be current, promtool must accept the rules, and the generated unit tests
 * must pass and cover every alert rule with a firing and a silent case.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as YAML from 'yaml';
import { AlertingRule, isAlertingRule, kebabCase, PromtoolTestFile, RuleGroup } from '../../constructs/rules';
import { monitoringArtifacts } from '../../scripts/monitoring-artifacts';
import { describeWithBinary, findBinary } from '../support/servers';

const ROOT = path.resolve(__dirname, '..', '..');
const PROMTOOL_DIR = path.join(ROOT, 'test', 'promtool');
const artifacts = monitoringArtifacts();
const testFiles = Object.keys(artifacts).filter((f) => f.startsWith('test/promtool/') && f.endsWith('.test.yaml'));

test('generated monitoring files are committed and current (npx ts-node scripts/generate-monitoring-artifacts.ts)', () => {
  const stale = Object.entries(artifacts)
    .filter(([file, content]) => !fs.existsSync(path.join(ROOT, file)) || fs.readFileSync(path.join(ROOT, file), 'utf8') !== content)
    .map(([file]) => file);
  expect(stale).toEqual([]);
  // No leftovers from alerts that were renamed or removed.
  const runbooks = fs.readdirSync(path.join(ROOT, 'docs', 'runbooks')).map((f) => `docs/runbooks/${f}`);
  expect(runbooks.filter((f) => !(f in artifacts))).toEqual([]);
});

test('every runbook_url of the example rules has its page', () => {
  for (const file of Object.keys(artifacts).filter((f) => f.endsWith('.rules.yaml'))) {
    const groups = (YAML.parse(artifacts[file]) as { groups: RuleGroup[] }).groups;
    for (const r of groups.flatMap((g) => g.rules).filter(isAlertingRule)) {
      expect(artifacts[`docs/runbooks/${kebabCase(r.alert)}.md`]).toContain(`# ${r.alert}`);
    }
  }
});

test('every alert rule has a promtool test that fires it and one that keeps its alert silent', () => {
  expect(testFiles.length).toBeGreaterThan(0);
  for (const file of testFiles) {
    const tests = YAML.parse(artifacts[file]) as PromtoolTestFile;
    const rules = (YAML.parse(artifacts[path.join('test/promtool', tests.rule_files[0])]) as { groups: RuleGroup[] }).groups
      .flatMap((g) => g.rules)
      .filter(isAlertingRule) as AlertingRule[];
    const cases = tests.tests.flatMap((t) => t.alert_rule_test);
    for (const rule of rules) {
      const fires = cases.some((c) => c.alertname === rule.alert && c.exp_alerts.some((a) => Object.entries(rule.labels ?? {}).every(([k, v]) => a.exp_labels[k] === v)));
      const silent = cases.some((c) => c.alertname === rule.alert && c.exp_alerts.length === 0);
      expect({ rule: `${rule.alert} ${JSON.stringify(rule.labels)}`, fires, silent }).toEqual({ rule: `${rule.alert} ${JSON.stringify(rule.labels)}`, fires: true, silent: true });
    }
  }
});

describeWithBinary('promtool', 'promtool on the committed rule and test files', () => {
  const promtool = findBinary('promtool')!;
  const run = (args: string[]) => {
    try {
      return execFileSync(promtool, args, { cwd: PROMTOOL_DIR, encoding: 'utf8', stdio: 'pipe' });
    } catch (e) {
      const err = e as { stdout?: string; stderr?: string };
      throw new Error(`promtool ${args.join(' ')} failed:\n${err.stdout ?? ''}${err.stderr ?? ''}`);
    }
  };

  test('promtool check rules', () => {
    const files = fs.readdirSync(PROMTOOL_DIR).filter((f) => f.endsWith('.rules.yaml'));
    expect(files.length).toBeGreaterThan(0);
    expect(run(['check', 'rules', ...files])).toMatch(/SUCCESS/);
  });

  test('promtool test rules', () => {
    const files = fs.readdirSync(PROMTOOL_DIR).filter((f) => f.endsWith('.test.yaml'));
    expect(run(['test', 'rules', ...files])).toMatch(/SUCCESS/);
  }, 120000);
});
