import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { findPromtool, promtoolTest, PromtoolNotFoundError, RuleGroup, validateManifests } from '../../testing';
import { noteSkip } from '../support/skips';

const promtool = findPromtool();
if (!promtool) {
  const msg = 'promtool is not installed: promtoolTest tests are SKIPPED';
  if (process.env.CDK8S_AGENTS_REQUIRE_SERVERS === '1') throw new Error(msg);
  noteSkip('promtoolTest tests', 'promtool');
}
const itp = promtool ? test : test.skip;

const group: RuleGroup = {
  name: 'custom',
  rules: [
    {
      alert: 'PlannerDown',
      expr: 'up{job="planner"} == 0',
      for: '5m',
      labels: { severity: 'critical' },
      annotations: { summary: 'planner is down', description: 'no planner target for 5m', runbook_url: 'https://example.com/rb/PlannerDown' },
    },
  ],
};

const firesAfterFiveMinutes = {
  tests: [
    {
      interval: '1m',
      input_series: [{ series: 'up{job="planner", instance="a"}', values: '1 1 0 0 0 0 0 0 0 0 0' }],
      alert_rule_test: [
        { eval_time: '4m', alertname: 'PlannerDown', exp_alerts: [] },
        {
          eval_time: '10m',
          alertname: 'PlannerDown',
          exp_alerts: [
            {
              exp_labels: { severity: 'critical', job: 'planner', instance: 'a' },
              exp_annotations: { summary: 'planner is down', description: 'no planner target for 5m', runbook_url: 'https://example.com/rb/PlannerDown' },
            },
          ],
        },
      ],
    },
  ],
};

itp('passes when the alert fires and stays silent as the tests expect', async () => {
  const r = await promtoolTest({ ruleGroups: [group], tests: [firesAfterFiveMinutes] });
  expect(r.output).toContain('SUCCESS');
  expect(r.ok).toBe(true);
  expect(r.exitCode).toBe(0);
});

itp('fails when a test expects silence but the alert fires', async () => {
  const wrong = { tests: [{ ...firesAfterFiveMinutes.tests[0], alert_rule_test: [{ eval_time: '10m', alertname: 'PlannerDown', exp_alerts: [] }] }] };
  const r = await promtoolTest({ ruleGroups: [group], tests: [wrong] });
  expect(r.ok).toBe(false);
  expect(r.output).toContain('PlannerDown');
  expect(r.output).toMatch(/FAILED/);
});

itp('fails on an invalid rule file before running the tests; accepts YAML text and a stack-like source', async () => {
  const broken: RuleGroup = { name: 'custom', rules: [{ alert: 'X', expr: 'sum(rate(up[5m]) by (job)' }] };
  const r = await promtoolTest({ ruleGroups: [broken], tests: ['tests:\n  - interval: 1m\n    input_series: []\n'] });
  expect(r.ok).toBe(false);
  expect(r.output).toContain('could not parse expression');
  const stackLike = { ruleGroups: () => [group], promtoolTests: () => [firesAfterFiveMinutes] };
  expect((await promtoolTest(stackLike)).ok).toBe(true);
});

itp('takes bare test cases (as a MonitoringStack suite has them) and orders recording groups first', async () => {
  const recording: RuleGroup = { name: 'rec', rules: [{ record: 'job:up:min', expr: 'min by (job) (up)' }] };
  const alerting: RuleGroup = { name: 'alerts', rules: [{ alert: 'JobDown', expr: 'job:up:min == 0', labels: { severity: 'critical' } }] };
  const suite = {
    ruleGroups: [alerting, recording],
    tests: [
      {
        interval: '1m',
        input_series: [{ series: 'up{job="planner", instance="a"}', values: '1 0' }],
        alert_rule_test: [
          { eval_time: '0m', alertname: 'JobDown', exp_alerts: [] },
          // Fires at the minute the record turns 0 only because "rec" is evaluated before "alerts".
          { eval_time: '1m', alertname: 'JobDown', exp_alerts: [{ exp_labels: { severity: 'critical', job: 'planner' } }] },
        ],
      },
    ],
  };
  const r = await promtoolTest(suite);
  expect(r.output).toContain('SUCCESS');
  expect(r.ok).toBe(true);
});

test('a missing promtool is an explicit error, never a silent pass', async () => {
  await expect(promtoolTest({ ruleGroups: [group], tests: [firesAfterFiveMinutes], promtool: '/nonexistent/promtool' })).rejects.toBeInstanceOf(PromtoolNotFoundError);
  const rule = { apiVersion: 'monitoring.coreos.com/v1', kind: 'PrometheusRule', metadata: { name: 'r', namespace: 'agents' }, spec: { groups: [group] } };
  const auto = await validateManifests([rule], { promtool: 'auto' });
  expect(auto.ok).toBe(true);
  const required = await validateManifests([rule], { promtool: '/nonexistent/promtool' });
  expect(required.errors.map((e) => e.rule)).toEqual(['prometheus/promtool-missing']);
  const saved = process.env.PATH;
  process.env.PATH = '/nonexistent';
  try {
    const noPath = await validateManifests([rule], { promtool: 'auto' });
    expect(noPath.ok).toBe(true);
    expect(noPath.warnings.map((w) => w.rule)).toEqual(['prometheus/promtool-missing']);
    expect(noPath.notes.join()).toContain('promtool not found');
  } finally {
    process.env.PATH = saved;
  }
});

test('a promtool that runs longer than timeoutMs is stopped and the output says so', async () => {
  // A stand-in that never finishes: the timeout path is ours, not promtool's.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'slow-promtool-'));
  const slow = path.join(dir, 'promtool');
  fs.writeFileSync(slow, '#!/bin/sh\nexec sleep 30\n', { mode: 0o755 });
  try {
    const r = await promtoolTest({ ruleGroups: [group], tests: [firesAfterFiveMinutes], promtool: slow, timeoutMs: 300 });
    expect(r.ok).toBe(false);
    expect(r.output).toContain('promtool check rules rules.yaml did not finish within 300 ms and was stopped');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
