/** Rules of model calls through the sidecar gateway: present only for agents with `models`, documented, promtool-tested. */
import { runPromtoolSuite } from '../support/promtool';
import { agentDashboard, dashboardQueries } from '../../constructs/dashboards';
import { METRICS } from '../../sidecar/contract';
import {
  AlertingRule,
  isAlertingRule,
  isRecordingRule,
  MODEL_ALERT_DOCS,
  MODEL_ALERT_NAMES,
  MonitoringOptions,
  promtoolSuites,
  RECORDING_RULE_DOCS,
  recordingDocKey,
  ruleGroups,
} from '../../constructs/rules';
import { modelStack } from '../../scripts/monitoring-artifacts';
import { findBinary, requireServers } from '../support/servers';
import { noteSkip } from '../support/skips';
import { exampleSpecs, spec } from './fixtures';

describe('model rules', () => {
  const stack = modelStack();
  const groups = stack.ruleGroups;
  const models = groups.find((g) => g.name === 'model-agents-agents.models')!;

  test('a models group after the alerts, edge and front door (then the workload group), with the three alerts; TTFT once per objective', () => {
    expect(groups.map((g) => g.name).slice(-4)).toEqual(['model-agents-agents.edge', 'model-agents-agents.frontdoor', 'model-agents-agents.models', 'model-agents-agents.workload']);
    const alerts = models.rules.filter(isAlertingRule);
    expect(new Set(alerts.map((a) => a.alert))).toEqual(new Set(MODEL_ALERT_NAMES));
    const ttft = alerts.filter((a) => a.alert === 'AgentTimeToFirstTokenHigh');
    expect(ttft.map((a) => a.labels?.objective_seconds)).toEqual(['2', '5']);
    expect(ttft[0].expr).toContain('agent=~"chat"');
    // Only the agent with a token budget gets the budget alert's series; the alert exists once.
    expect(alerts.filter((a) => a.alert === 'AgentTokenBudgetNearlySpent')).toHaveLength(1);
    for (const a of alerts) {
      expect(a.expr).toContain('agent:info:static{system="model-agents"}');
      expect(a.annotations?.runbook_url).toMatch(/runbooks\/agent-(model-provider-errors|token-budget-nearly-spent|time-to-first-token-high)\.md$/);
    }
  });

  test('provider errors leave out calls the agent abandoned', () => {
    const r = models.rules.filter(isRecordingRule).find((x) => x.record === 'agent_provider:gen_ai_call_errors:rate5m')!;
    expect(r.expr).toContain('error_type!~"|client_closed"');
    expect(r.expr).toContain('gen_ai_provider_name!=""');
  });

  test('every recorded series is documented', () => {
    for (const r of models.rules.filter(isRecordingRule)) expect(RECORDING_RULE_DOCS[recordingDocKey(r.record)]).toBeDefined();
  });

  test('agents without models get no models group', () => {
    expect(ruleGroups(exampleSpecs()).some((g) => g.name.endsWith('.models'))).toBe(false);
  });

  test('promtool tests: each model alert fires once and stays silent once', () => {
    const tests = stack.promtoolTests().filter((t) => MODEL_ALERT_NAMES.some((n) => t.name.startsWith(`${n}:`)));
    for (const name of MODEL_ALERT_NAMES) {
      const mine = tests.filter((t) => t.name.startsWith(`${name}:`)).flatMap((t) => t.alert_rule_test);
      expect(mine.some((c) => c.exp_alerts.length > 0)).toBe(true);
      expect(mine.some((c) => c.exp_alerts.length === 0)).toBe(true);
    }
  });
});

describe('model calls dashboard row', () => {
  const stack = modelStack();
  const d = agentDashboard(stack.specs);

  test('a "Model calls" row after the per-agent row, only when an agent has models', () => {
    const rows = (d.panels ?? []).filter((p) => p.type === 'row').map((p) => p.title);
    expect(rows).toEqual(['Overview', 'Agent $agent', 'Front door (sidecar proxy)', 'Model calls']);
    expect((agentDashboard(exampleSpecs()).panels ?? []).some((p) => p.title === 'Model calls')).toBe(false);
  });

  test('its panels read recorded series of the rules or raw sidecar series, scoped to $namespace and $agent', () => {
    const recorded = new Set(stack.ruleGroups.flatMap((g) => g.rules.filter(isRecordingRule).map((r) => r.record)));
    const raw = new Set<string>([`${METRICS.operationDuration}_count`, `${METRICS.timeToFirstChunk}_bucket`, METRICS.gatewayBudgetRejections]);
    const panels = ['Tokens per model', 'Time to first token', 'Provider errors', 'Response cache', 'Tokens saved by the cache', 'Token budget'];
    const queries = dashboardQueries(d).filter((x) => panels.includes(x.panel));
    expect(new Set(queries.map((x) => x.panel))).toEqual(new Set(panels));
    for (const { panel, expr } of queries) {
      const names = [...expr.matchAll(/([a-z_][a-z0-9_:]*)\{/g)].map((m) => m[1]);
      for (const n of names) expect({ panel, n, known: recorded.has(n) || raw.has(n) }).toEqual({ panel, n, known: true });
      expect(expr).toContain('agent=~"$agent"');
    }
  });
});

describe('model alerts honour disabledAlerts, alertFor and alertSeverities', () => {
  const key = (k: string) => ({ secretName: 'model-keys', key: k });
  const specs = [
    spec('chat', { models: { providers: [{ provider: 'openai', model: 'gpt-4o-mini', apiKey: key('openai') }], maxTokensPerMinute: 100000, timeToFirstTokenP95Seconds: 2 } }),
    spec('summarizer', { models: { providers: [{ provider: 'anthropic', model: 'claude-sonnet-4-5', apiKey: key('anthropic') }], timeToFirstTokenP95Seconds: 5 } }),
  ];
  const modelAlerts = (o: MonitoringOptions = {}): AlertingRule[] =>
    ruleGroups(specs, o).find((g) => g.name.endsWith('.models'))!.rules.filter(isAlertingRule);
  const named = (list: AlertingRule[], name: string) => list.filter((a) => a.alert === name);
  const others = (name: string) => MODEL_ALERT_NAMES.filter((n) => n !== name);

  test.each(MODEL_ALERT_NAMES)('disabledAlerts: [%s] leaves out its rules and promtool cases, and only those', (name) => {
    const list = modelAlerts({ disabledAlerts: [name] });
    expect(named(list, name)).toEqual([]);
    for (const n of others(name)) expect(named(list, n).length).toBeGreaterThan(0);
    const tests = promtoolSuites(specs, { disabledAlerts: [name] }).flatMap((x) => x.tests);
    expect(tests.filter((t) => t.name.startsWith(`${name}:`) || t.alert_rule_test.some((c) => c.alertname === name))).toEqual([]);
    for (const n of others(name)) expect(tests.some((t) => t.alert_rule_test.some((c) => c.alertname === n && c.exp_alerts.length > 0))).toBe(true);
  });

  test.each(MODEL_ALERT_NAMES)('alertFor: { %s } sets its for: (scaled by timeScale); its promtool cases wait for it', (name) => {
    const list = modelAlerts({ alertFor: { [name]: '45m' } });
    expect(named(list, name).length).toBeGreaterThan(0);
    for (const a of named(list, name)) expect(a.for).toBe('45m');
    for (const n of others(name)) for (const a of named(list, n)) expect(a.for).toBe(MODEL_ALERT_DOCS[n].for);
    for (const a of named(modelAlerts({ alertFor: { [name]: '45m' }, timeScale: 1 / 60 }), name)) expect(a.for).toBe('45s');
    // The promtool cases wait for the longer for: (checked against promtool below).
    const tests = promtoolSuites(specs, { alertFor: { [name]: '45m' } }).flatMap((x) => x.tests).filter((t) => t.name.startsWith(`${name}:`));
    expect(tests.length).toBeGreaterThan(0);
    for (const t of tests) expect(parseInt(t.alert_rule_test[0].eval_time, 10)).toBeGreaterThan(45);
  });

  test.each(MODEL_ALERT_NAMES)('alertSeverities: { %s } sets its severity label (emergency pages)', (name) => {
    const list = modelAlerts({ alertSeverities: { [name]: 'emergency' }, severities: { emergency: 'P1' } });
    for (const a of named(list, name)) expect([a.labels?.severity, a.labels?.page]).toEqual(['P1', 'true']);
    for (const n of others(name)) for (const a of named(list, n)) expect([a.labels?.severity, a.labels?.page]).toEqual([MODEL_ALERT_DOCS[n].level, undefined]);
    for (const a of named(modelAlerts({ alertSeverities: { [name]: 'info' } }), name)) expect(a.labels?.severity).toBe('info');
  });

  test('the generated promtool cases pass with every model alert re-timed and re-levelled', async () => {
    const bin = findBinary('promtool');
    if (!bin) {
      if (requireServers()) throw new Error('promtool not found (CDK8S_AGENTS_REQUIRE_SERVERS=1)');
      noteSkip('promtool test rules for model alerts with alertFor/alertSeverities', 'promtool');
      return;
    }
    const [suite] = promtoolSuites(specs, {
      alertFor: { AgentModelProviderErrors: '20m', AgentTokenBudgetNearlySpent: '12m', AgentTimeToFirstTokenHigh: '25m' },
      alertSeverities: { AgentModelProviderErrors: 'emergency', AgentTokenBudgetNearlySpent: 'critical', AgentTimeToFirstTokenHigh: 'info' },
    });
    // Only the model cases: the other alerts have their own runs.
    const tests = suite.tests.filter((t) => MODEL_ALERT_NAMES.some((n) => t.name.startsWith(`${n}:`)));
    expect(tests.filter((t) => t.alert_rule_test[0].exp_alerts.length > 0).map((t) => t.alert_rule_test[0].exp_alerts[0].exp_labels.severity).sort()).toEqual(['critical', 'critical', 'info', 'info']);
    await runPromtoolSuite(bin, { ...suite, tests });
  }, 120000);
});
