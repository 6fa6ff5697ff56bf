/** Rules of model calls through the sidecar gateway: present only for agents with `models`, documented, promtool-tested. */
import { agentDashboard, dashboardQueries } from '../../constructs/dashboards';
import { METRICS } from '../../sidecar/contract';
import { isAlertingRule, isRecordingRule, MODEL_ALERT_NAMES, RECORDING_RULE_DOCS, recordingDocKey, ruleGroups } from '../../constructs/rules';
import { modelStack } from '../../scripts/monitoring-artifacts';
import { exampleSpecs } from './fixtures';

describe('model rules', () => {
  const stack = modelStack();
  const groups = stack.ruleGroups;
  const models = groups.find((g) => g.name === 'model-agents-agents.models')!;

  test('a models group after the alerts and edges (then the workload group), with the three alerts; TTFT once per objective', () => {
    expect(groups.map((g) => g.name).slice(-3)).toEqual(['model-agents-agents.edge', 'model-agents-agents.models', 'model-agents-agents.workload']);
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
    expect(rows).toEqual(['Overview', 'Agent $agent', 'Model calls']);
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
