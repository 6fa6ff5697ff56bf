import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import { EDGE_ALERT_NAMES } from '../../constructs/rules/edge-catalog';
import { FRONTDOOR_ALERT_NAMES } from '../../constructs/rules/frontdoor-catalog';
import * as os from 'node:os';
import * as path from 'node:path';
import * as YAML from 'yaml';
import { runPromtoolSuite } from '../support/promtool';
import {
  ALERT_NAMES,
  WORKLOAD_ALERT_NAMES,
  BURN_RATE_WINDOWS,
  burnRateWindows,
  alertRules,
  AlertingRule,
  isAlertingRule,
  isRecordingRule,
  kebabCase,
  promtoolSuites,
  rateOfChangeAlert,
  RECORDING_RULE_DOCS,
  recordingDocKey,
  recordingRules,
  RuleGroup,
  ruleGroups,
  scrapeConfigs,
  sloRules,
  thresholdAlert,
  UNBOUNDED_ID_LABELS,
} from '../../constructs/rules';
import { parseDuration } from '../../constructs/validation';
import { findBinary, requireServers } from '../support/servers';
import { noteSkip } from '../support/skips';
import { exampleSpecs, spec } from './fixtures';

const ROOT = path.resolve(__dirname, '..', '..');
const alerts = (groups: RuleGroup[]) => groups.flatMap((g) => g.rules.filter(isAlertingRule));
const records = (groups: RuleGroup[]) => groups.flatMap((g) => g.rules.filter(isRecordingRule));

/** `promtool check rules` on rule groups (skips loudly without promtool, fails with CDK8S_AGENTS_REQUIRE_SERVERS=1). */
function promtoolCheck(groups: RuleGroup[]): void {
  const bin = findBinary('promtool');
  if (!bin) {
    if (requireServers()) throw new Error('promtool not found (CDK8S_AGENTS_REQUIRE_SERVERS=1)');
    noteSkip('promtool check rules', 'promtool');
    return;
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cdk8s-agents-rules-'));
  try {
    const file = path.join(dir, 'rules.yaml');
    fs.writeFileSync(file, YAML.stringify({ groups }, { lineWidth: 0 }));
    execFileSync(bin, ['check', 'rules', file], { stdio: 'pipe' });
  } catch (e) {
    const err = e as { stdout?: Buffer; stderr?: Buffer };
    throw new Error(`promtool check rules failed:\n${err.stdout?.toString() ?? ''}${err.stderr?.toString() ?? ''}`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

describe('rule groups', () => {
  const groups = ruleGroups(exampleSpecs());

  test('inventory, recording, SLO and alert groups per system, in evaluation order', () => {
    expect(groups.map((g) => g.name)).toEqual(['agents-agents.inventory', 'agents-agents.recording', 'agents-agents.slo', 'agents-agents.alerts', 'agents-agents.edge', 'agents-agents.frontdoor', 'agents-agents.workload']);
    expect(recordingRules(exampleSpecs()).map((g) => g.name)).toEqual(['agents-agents.inventory', 'agents-agents.recording']);
    expect(sloRules(exampleSpecs()).map((g) => g.name)).toEqual(['agents-agents.slo']);
    expect(alertRules(exampleSpecs()).map((g) => g.name)).toEqual(['agents-agents.alerts']);
  });

  test('pass promtool check rules, with every option that changes the expressions', () => {
    promtoolCheck(groups);
    promtoolCheck(
      ruleGroups(exampleSpecs(), {
        cluster: 'prod-eu-1',
        overrides: { coder: { errorRatio: 0.2, cpuRatio: 0.8, memoryRatio: 0.95, restarts: 5, cacheHitRatio: 0.1, latencyP99Seconds: 300 } },
        timeScale: 1 / 60,
        evaluationInterval: '1s',
        alertLabels: { tenant: 'ai' },
        job: 'agents-{system}',
      }),
    );
  });

  test('recording rules are named level:metric:operations and each is documented', () => {
    for (const r of records(groups)) {
      expect(r.record).toMatch(/^[a-z_]+:[a-z0-9_]+:[a-z0-9_]+$/);
      expect(RECORDING_RULE_DOCS[recordingDocKey(r.record)]).toBeDefined();
    }
  });

  test('every alert has severity, summary, description with agent and value, and a runbook page that exists', () => {
    const list = alerts(groups);
    expect(new Set(list.map((a) => a.alert))).toEqual(new Set([...ALERT_NAMES, ...EDGE_ALERT_NAMES, ...FRONTDOOR_ALERT_NAMES, ...WORKLOAD_ALERT_NAMES]));
    for (const a of list) {
      expect(a.labels?.severity).toMatch(/^(info|warning|critical)$/);
      expect(a.annotations?.summary).toContain('{{ $labels.agent }}');
      expect(a.annotations?.description).toContain('{{ $labels.agent }}');
      // Alerts whose value is always 1 (a state, not a measure) do not print it.
      if (!['AgentDown', 'AgentPodNotReady', 'AgentRolloutStuck', 'AgentContainerWaiting'].includes(a.alert)) expect(a.annotations?.description).toContain('$value');
      expect(a.annotations?.runbook_url).toBe(`https://github.com/cdk8s-agents/cdk8s-agents/blob/main/docs/runbooks/${kebabCase(a.alert)}.md`);
      expect(fs.existsSync(path.join(ROOT, 'docs', 'runbooks', `${kebabCase(a.alert)}.md`))).toBe(true);
    }
  });

  test('every alert joins agent:info:static, so it carries team and component for routing', () => {
    for (const a of alerts(groups)) expect(a.expr).toContain('agent:info:static{system="agents"}');
  });

  test('ratio and burn-rate alerts have the minimum-traffic guard', () => {
    for (const a of alerts(groups).filter((x) => /ErrorRate|Latency|BudgetBurn|Cache/.test(x.alert))) {
      expect(a.expr).toMatch(/>= 10\)/);
    }
    const none = alerts(ruleGroups(exampleSpecs(), { minInvocations: 0 })).find((a) => a.alert === 'AgentHighErrorRate')!;
    expect(none.expr).toContain('>= 0)');
  });

  test('severities map to the user scheme; emergency pages', () => {
    const list = alerts(ruleGroups(exampleSpecs(), { severities: { critical: 'P2', emergency: 'P1' }, alertSeverities: { AgentHighCpu: 'critical' } }));
    const byName = (n: string) => list.filter((a) => a.alert === n);
    expect(byName('AgentDown')[0].labels).toMatchObject({ severity: 'P2' });
    expect(byName('AgentHighCpu')[0].labels).toMatchObject({ severity: 'P2' });
    for (const a of byName('AgentErrorBudgetBurn')) expect(a.labels).toMatchObject({ severity: 'P1', page: 'true' });
    for (const a of byName('AgentErrorBudgetBurnSlow')) expect(a.labels).toMatchObject({ severity: 'warning' });
    expect(byName('AgentErrorBudgetBurnSlow')[0].labels?.page).toBeUndefined();
  });

  test('burn-rate alerts: 14.4x 1h/5m and 6x 6h/30m page, 3x 1d/2h and 1x 3d/6h ticket', () => {
    const burn = alerts(groups).filter((a) => a.alert.startsWith('AgentErrorBudgetBurn'));
    expect(burn.map((a) => [a.alert, a.labels?.burn_rate, a.labels?.long_window, a.labels?.short_window, a.for])).toEqual([
      ['AgentErrorBudgetBurn', '14.4', '1h', '5m', '2m'],
      ['AgentErrorBudgetBurn', '6', '6h', '30m', '15m'],
      ['AgentErrorBudgetBurnSlow', '3', '1d', '2h', '1h'],
      ['AgentErrorBudgetBurnSlow', '1', '3d', '6h', '3h'],
    ]);
    expect(burn[0].expr).toContain('agent:errors:ratio_rate1h{system="agents"} > on(namespace, agent) group_left() (14.4 * (1 - agent:slo_objective:ratio{system="agents", slo="availability"}))');
  });

  test('burn-rate windows scale with slo.window (pyrra-style), keeping the factors: same share of the budget per alert', () => {
    expect(burnRateWindows('30d')).toEqual([...BURN_RATE_WINDOWS]);
    expect(burnRateWindows('7d').map((w) => [w.burnRate, w.long, w.short, w.for])).toEqual([
      [14.4, '14m', '1m', '1m'],
      [6, '1h24m', '7m', '4m'],
      [3, '5h36m', '28m', '14m'],
      [1, '16h48m', '1h24m', '42m'],
    ]);
    expect(burnRateWindows('28d').map((w) => [w.long, w.short])).toEqual([['56m', '5m'], ['5h36m', '28m'], ['22h24m', '1h52m'], ['2d19h12m', '5h36m']]);
    // 14.4x over 1/720 of the period spends 2% of the budget, whatever the period.
    for (const period of ['7d', '28d', '30d', '90d']) {
      const [fast] = burnRateWindows(period);
      expect((fast.burnRate * parseDuration(fast.long)) / parseDuration(period)).toBeCloseTo(0.02, 3);
    }
    // A 7d and a 30d SLO in one system: each period gets its own alerts, joined with its own objectives.
    const g = ruleGroups([spec('a', { slo: { availability: 99, window: '7d' } }), spec('b', { slo: { availability: 99.5 } })]);
    const burn = alerts(g).filter((a) => a.alert === 'AgentErrorBudgetBurn');
    expect(burn.map((a) => [a.labels?.long_window, a.labels?.short_window])).toEqual([['1h', '5m'], ['6h', '30m'], ['14m', '1m'], ['1h24m', '7m']]);
    expect(burn[2].expr).toContain('agent:errors:ratio_rate14m{system="agents"} > on(namespace, agent) group_left() (14.4 * (1 - agent:slo_objective:ratio{system="agents", slo="availability", slo_window="7d"}))');
    // Windows only one period needs are recorded for that period's agents only.
    expect(records(g).find((r) => r.record === 'agent:invocations:rate14m')!.expr).toContain('slo_window=~"7d"');
    expect(records(g).filter((r) => r.record === 'agent:error_budget:remaining_ratio')).toHaveLength(1);
    promtoolCheck(g);
  });

  test('AgentNotScaling also for KEDA-scaled agents; AgentDown spares agents scaled to zero on purpose', () => {
    const keda = [spec('a', { autoscaling: { metric: 'inflight', scaleToZero: true } }), spec('b', { autoscaling: { metric: 'inflight' } })];
    const g = ruleGroups(keda);
    expect(alerts(g).some((a) => a.alert === 'AgentNotScaling')).toBe(true);
    expect(alerts(ruleGroups([spec('c', { replicas: 2 })])).some((a) => a.alert === 'AgentNotScaling')).toBe(false);
    expect(records(g).filter((r) => r.record === 'agent:scale_to_zero:static').map((r) => r.labels?.agent)).toEqual(['a']);
    const down = alerts(g).find((a) => a.alert === 'AgentDown')!;
    expect(down.expr).toContain('unless on(namespace, agent) (agent:deployment_spec_replicas:sum{system="agents"} == 0)');
    expect(down.expr).toContain('agent:scale_to_zero:static{system="agents"} unless on(namespace, agent) up{');
    promtoolCheck(g);
  });

  test('SLO objectives, windows and error budgets come from the agents\' slo', () => {
    const rec = records(groups);
    const objectives = rec.filter((r) => r.record === 'agent:slo_objective:ratio');
    expect(objectives.map((r) => [r.labels?.agent, r.labels?.slo, r.expr, r.labels?.le ?? ''])).toEqual([
      ['planner', 'availability', 'vector(0.995)', ''],
      ['planner', 'latency', 'vector(0.95)', '40.96'],
      ['researcher', 'availability', 'vector(0.99)', ''],
      ['researcher', 'latency', 'vector(0.95)', '81.92'],
    ]);
    // Only the agents with an SLO get the long windows, picked by a join (no per-agent regex).
    expect(rec.find((r) => r.record === 'agent:invocations:rate30d')!.expr).toContain(
      'and on(namespace, agent) agent:slo_objective:ratio{system="agents", slo="availability"}',
    );
    // The slow-call ratio reads each agent's own objective bucket.
    expect(rec.find((r) => r.record === 'agent:slow_invocations:ratio_rate1h')!.expr).toContain('le=~"40\\\\.96|81\\\\.92"');
    expect(rec.find((r) => r.record === 'agent:slow_invocations:ratio_rate1h')!.expr).toContain('* on(namespace, agent, le) group_left()');
    expect(rec.find((r) => r.record === 'agent:error_budget:remaining_ratio')!.expr).toContain('slo_window="30d"');
    // No SLO, no SLO group and no burn alerts.
    expect(sloRules([spec('coder')])).toEqual([]);
    expect(alerts(ruleGroups([spec('coder')])).some((a) => a.alert.includes('Budget'))).toBe(false);
  });

  test('thresholds: stack-wide numbers inline, per-agent overrides as threshold series', () => {
    const plain = alerts(ruleGroups([spec('a'), spec('b')])).find((a) => a.alert === 'AgentHighErrorRate')!;
    expect(plain.expr).toContain('agent:errors:ratio_rate5m{system="agents"} > 0.05');
    const g = ruleGroups([spec('a'), spec('b')], { thresholds: { errorRatio: 0.1 }, overrides: { b: { errorRatio: 0.3 }, 'agents/a': { cpuRatio: 0.7 } } });
    const rec = records(g);
    expect(rec.filter((r) => r.record.endsWith(':threshold')).map((r) => [r.record, r.labels?.agent, r.expr])).toEqual([
      ['agent:cpu_ratio:threshold', 'a', 'vector(0.7)'],
      ['agent:error_ratio:threshold', 'b', 'vector(0.3)'],
    ]);
    const err = alerts(g).find((a) => a.alert === 'AgentHighErrorRate')!;
    expect(err.expr).toContain('> on(namespace, agent) group_left() (agent:error_ratio:threshold{system="agents"} or on(namespace, agent) (0 * agent:info:static{system="agents"} + 0.1))');
  });

  test('cluster label: selected by every rule, carried by every scraped series', () => {
    const g = ruleGroups(exampleSpecs(), { cluster: 'prod-eu-1' });
    for (const r of [...records(g), ...alerts(g)]) {
      if (r.expr.startsWith('vector(')) expect((r.labels as Record<string, string>).cluster).toBe('prod-eu-1');
      else expect(r.expr).toContain('cluster="prod-eu-1"');
    }
    const relabel = scrapeConfigs(exampleSpecs(), { cluster: 'prod-eu-1' })[0].relabel_configs;
    expect(relabel).toContainEqual({ target_label: 'cluster', replacement: 'prod-eu-1', action: 'replace' });
  });

  test('extra alert labels, disabled alerts, alertFor', () => {
    const g = ruleGroups(exampleSpecs(), { alertLabels: { tenant: 'ai' }, disabledAlerts: ['SidecarCacheHitRateLow'], alertFor: { AgentDown: '5m' } });
    for (const a of alerts(g)) expect(a.labels?.tenant).toBe('ai');
    expect(alerts(g).some((a) => a.alert === 'SidecarCacheHitRateLow')).toBe(false);
    expect(alerts(g).find((a) => a.alert === 'AgentDown')!.for).toBe('5m');
  });

  test('timeScale shrinks windows and for: durations (for fast end-to-end tests) but keeps rule names', () => {
    const g = ruleGroups(exampleSpecs(), { timeScale: 1 / 60, evaluationInterval: '1s' });
    expect(g.every((x) => x.interval === '1s')).toBe(true);
    expect(records(g).find((r) => r.record === 'agent:invocations:rate5m')!.expr).toContain('[5s]');
    expect(records(g).find((r) => r.record === 'agent:errors:ratio_rate30d')!.expr).toContain('[12h]');
    expect(alerts(g).find((a) => a.alert === 'AgentHighErrorRate')!.for).toBe('5s');
  });

  test('no unbounded identifiers in any label: aggregations keep bounded labels, scraping drops id labels', () => {
    const text = JSON.stringify(groups);
    for (const id of UNBOUNDED_ID_LABELS) expect(text).not.toContain(id);
    for (const r of [...records(groups), ...alerts(groups)]) {
      for (const m of r.expr.matchAll(/by \(([^)]*)\)/g)) {
        for (const l of m[1].split(',').map((s) => s.trim())) {
          expect(['cluster', 'namespace', 'system', 'agent', 'pod', 'container', 'reason', 'le', 'error_type', 'gen_ai_token_type']).toContain(l);
        }
      }
    }
    expect(scrapeConfigs(exampleSpecs())[0].metric_relabel_configs).toEqual([{ regex: UNBOUNDED_ID_LABELS.join('|'), action: 'labeldrop' }]);
  });

  test('deterministic', () => {
    expect(JSON.stringify(ruleGroups(exampleSpecs()))).toBe(JSON.stringify(ruleGroups(exampleSpecs().reverse())));
  });

  test('scales linearly: 1000 agents add one info series each, not one rule per agent and alert', () => {
    const many = (n: number) =>
      Array.from({ length: n }, (_, i) => spec(`agent-${i}`, { system: 'agents', team: `t${i % 7}`, ...(i % 10 === 0 ? { slo: { availability: 99.5, latencyP95Seconds: 5 + (i % 40) } } : {}) }, `ns-${i % 5}`));
    const count = (n: number) => {
      const g = ruleGroups(many(n));
      return { alerts: alerts(g).length, records: records(g).length, bytes: JSON.stringify(g).length };
    };
    const start = Date.now();
    const small = count(100);
    const big = count(1000);
    expect(Date.now() - start).toBeLessThan(10000);
    expect(big.alerts).toBe(small.alerts);
    // agent:info:static per agent; availability and latency objectives and a p95 threshold per SLO agent (1 in 10).
    expect(big.records - small.records).toBe(900 + 3 * 90);
    // Bytes grow with the per-agent constants only; the shared rules have the same size for 100 or 1000 agents.
    expect(big.bytes / small.bytes).toBeLessThan(11);
    const shared = (n: number) => JSON.stringify(ruleGroups(many(n)).filter((g) => !g.name.includes('.inventory'))).length;
    expect(shared(1000)).toBe(shared(100));
    // Per-agent constants come in groups of at most 200 agents (one PrometheusRule each in MonitoringStack).
    expect(ruleGroups(many(1000)).filter((g) => g.name.includes('.inventory')).map((g) => g.name)).toEqual([1, 2, 3, 4, 5].map((i) => `agents-agents.inventory-${i}`));
  });
});

describe('custom alert helpers', () => {
  test('thresholdAlert: the reference design threshold condition', () => {
    const d = thresholdAlert({ name: 'PlannerQueueDeep', expr: 'agent:inflight_invocations:sum{agent="planner"}', operator: '>=', threshold: 40, for: '10m', summary: 's', description: 'd {{ $value }}' });
    expect(d).toEqual({ alert: 'PlannerQueueDeep', expr: '(agent:inflight_invocations:sum{agent="planner"}) >= 40', for: '10m', severity: 'warning', summary: 's', description: 'd {{ $value }}' });
    const g = ruleGroups(exampleSpecs(), { severities: { critical: 'P2' } }, [{ ...d, severity: 'critical' }]);
    const rule = g[g.length - 1].rules[0] as AlertingRule;
    expect(g[g.length - 1].name).toBe('custom-alerts');
    expect(rule.labels).toEqual({ severity: 'P2' });
    expect(rule.annotations?.runbook_url).toContain('planner-queue-deep.md');
    promtoolCheck(g);
  });

  test('rateOfChangeAlert: deriv for gauges, rate for counters', () => {
    expect(rateOfChangeAlert({ name: 'CacheGrowing', metric: 'agent_cache_bytes', threshold: 1e6, summary: 's', description: 'd' }).expr).toBe('deriv(agent_cache_bytes[5m]) > 1000000');
    expect(rateOfChangeAlert({ name: 'Folding', metric: 'agent_sidecar_label_values_folded_total', kind: 'counter', window: '10m', threshold: 0, summary: 's', description: 'd' }).expr).toBe(
      'rate(agent_sidecar_label_values_folded_total[10m]) > 0',
    );
    expect(() => rateOfChangeAlert({ name: 'Bad', metric: 'x', window: 'soon', threshold: 1, summary: 's', description: 'd' })).toThrow(/alert Bad: window "soon"/);
    expect(() => thresholdAlert({ name: 'bad name', expr: 'x', threshold: 1, summary: 's', description: 'd' })).toThrow(/alert names must match/);
  });
});

describe('generated promtool unit tests', () => {
  test('promtool check rules rejects a broken rule (the check can fail)', () => {
    if (!findBinary('promtool')) return;
    expect(() => promtoolCheck([{ name: 'broken', rules: [{ record: 'agent:broken:sum', expr: 'sum(' }] }])).toThrow(/promtool check rules failed/);
  });

  test('pass for a stack with other options: cluster, overrides, severity scheme, extra labels, stricter guard', async () => {
    const bin = findBinary('promtool');
    if (!bin) {
      if (requireServers()) throw new Error('promtool not found (CDK8S_AGENTS_REQUIRE_SERVERS=1)');
      noteSkip('promtool test rules for a stack with other options', 'promtool');
      return;
    }
    const specs = [
      spec('alpha', { team: 'a', autoscaling: { minReplicas: 1, maxReplicas: 3 }, slo: { availability: 99.9, latencyP95Seconds: 5, window: '28d' } }, 'ns1'),
      spec('beta', { system: 'ns1', slo: { availability: 95 } }, 'ns2'),
    ];
    const suites = promtoolSuites(specs, {
      cluster: 'eu-1',
      overrides: { alpha: { errorRatio: 0.6, cpuRatio: 0.5, restarts: 1, cacheHitRatio: 0.5, latencyP99Seconds: 10 } },
      severities: { warning: 'P3', critical: 'P2', emergency: 'P1' },
      alertLabels: { tenant: 'ai' },
      minInvocations: 20,
      runbookUrl: 'https://runbooks.example.com/{alertname}',
    });
    expect(suites.map((s) => s.system)).toEqual(['ns1']);
    expect(suites[0].untestable).toEqual([]);
    // At a 90% objective a 14.4x burn needs 144% of calls to fail: reported as untestable, not faked.
    expect(promtoolSuites([spec('gamma', { slo: { availability: 90 } })])[0].untestable).toEqual(['AgentErrorBudgetBurn (14.4x): cannot fire for an objective of 90%']);
    await runPromtoolSuite(bin, suites[0]);
  }, 120000);
});

describe('plain Prometheus scrape_configs', () => {
  test('kubernetes_sd job per system, keeps only the system\'s sidecar ports; relabelling passes promtool check config', () => {
    const configs = scrapeConfigs(exampleSpecs(), { interval: '15s', cluster: 'eu-1' });
    expect(configs).toHaveLength(1);
    expect(configs[0]).toMatchObject({
      job_name: 'agents-agents',
      scrape_interval: '15s',
      metrics_path: '/metrics',
      kubernetes_sd_configs: [{ role: 'pod', namespaces: { names: ['agents'] } }],
    });
    expect(configs[0].relabel_configs.slice(0, 2)).toEqual([
      {
        source_labels: ['__meta_kubernetes_pod_label_app_kubernetes_io_part_of', '__meta_kubernetes_pod_label_app_kubernetes_io_managed_by'],
        separator: ';',
        regex: 'agents;cdk8s-agents',
        action: 'keep',
      },
      { source_labels: ['__meta_kubernetes_pod_container_port_name'], regex: 'metrics', action: 'keep' },
    ]);
    const bin = findBinary('promtool');
    if (!bin) return;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cdk8s-agents-scrape-'));
    try {
      const file = path.join(dir, 'prometheus.yml');
      // Debian builds Prometheus without Kubernetes SD, so its promtool checks everything but that block.
      const checkable = configs.map(({ kubernetes_sd_configs: _, ...rest }) => ({ ...rest, static_configs: [{ targets: ['127.0.0.1:9464'] }] }));
      fs.writeFileSync(file, YAML.stringify({ scrape_configs: checkable }, { lineWidth: 0 }));
      expect(execFileSync(bin, ['check', 'config', file], { encoding: 'utf8', stdio: 'pipe' })).toMatch(/SUCCESS/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
  test('workload alerts follow disabledAlerts, alertFor and alertSeverities; a stateful agent is watched through its StatefulSet', () => {
    const g = ruleGroups([spec('keeper', { persistence: { size: '1Gi' } }), ...exampleSpecs()], {
      disabledAlerts: ['AgentCpuThrottlingHigh'],
      alertFor: { AgentPdbBlocksDisruptions: '2h' },
      alertSeverities: { AgentPodNotReady: 'critical' },
    });
    const list = alerts(g);
    expect(list.some((a) => a.alert === 'AgentCpuThrottlingHigh')).toBe(false);
    expect(list.find((a) => a.alert === 'AgentPdbBlocksDisruptions')!.for).toBe('2h');
    expect(list.find((a) => a.alert === 'AgentPodNotReady')!.labels?.severity).toBe('critical');
    expect(records(g).find((r) => r.record === 'agent_pod:owner:info')!.expr).toContain('owner_kind="StatefulSet"');
    expect(records(g).find((r) => r.record === 'agent:workload_replicas_missing:max')!.expr).toContain('kube_statefulset_status_replicas_ready');
    // Without stateful agents no StatefulSet series are read.
    expect(JSON.stringify(ruleGroups(exampleSpecs()))).not.toContain('kube_statefulset_');
  });
  test('kubernetes-mixin parity: a Deployment not progressing is a stuck rollout; init containers count as waiting', () => {
    const g = ruleGroups(exampleSpecs());
    const progressing = records(g).find((r) => r.record === 'agent:deployment_progressing_false:max')!;
    expect(progressing.expr).toContain('kube_deployment_status_condition{namespace=~"agents", condition="Progressing", status="false"}');
    expect(alerts(g).find((a) => a.alert === 'AgentRolloutStuck')!.expr).toContain('or on(namespace, agent) agent:deployment_progressing_false:max');
    const waiting = records(g).find((r) => r.record === 'agent_pod_container:waiting_reason:max5m')!.expr;
    // Init containers of any name (the agent's own, istio-init), with the same reasons.
    expect(waiting).toMatch(/kube_pod_init_container_status_waiting_reason\{namespace=~"agents", reason=~"CrashLoopBackOff\|ImagePullBackOff/);
    // StatefulSets have no Progressing condition: a system of stateful agents does not read it.
    const sts = ruleGroups([spec('keeper', { persistence: { size: '1Gi' } })]);
    expect(JSON.stringify(sts)).not.toContain('kube_deployment_status_condition');
    expect(alerts(sts).find((a) => a.alert === 'AgentRolloutStuck')!.expr).not.toContain(' or ');
  });
});
