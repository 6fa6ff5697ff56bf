/** The front-door rules and dashboard row: only for agents behind the sidecar's proxy; AgentOverloaded honours the alert options. */
import { agentDashboard } from '../../constructs/dashboards';
import { isAlertingRule, isRecordingRule, RECORDING_RULE_DOCS, ruleGroups } from '../../constructs/rules';
import { spec } from './fixtures';

const proxied = spec('planner');
const direct = spec('coder', { sidecar: { proxy: false } });
const frontdoor = (specs = [proxied, direct], options = {}) => ruleGroups(specs, options).find((g) => g.name === 'agents-agents.frontdoor');

describe('front-door rules', () => {
  test('a group only when an agent runs the proxy, with documented recorded series and AgentOverloaded', () => {
    expect(proxied.sidecar.proxy).toBe(true);
    expect(frontdoor([direct])).toBeUndefined();
    const g = frontdoor()!;
    expect(g.rules.filter(isRecordingRule).map((r) => r.record)).toEqual([
      'agent:proxy_shed:rate5m',
      'agent:proxy_shed:ratio_rate5m',
      'agent:agent_proxy_time_to_first_byte_seconds:p95_5m',
    ]);
    for (const r of g.rules.filter(isRecordingRule)) expect(RECORDING_RULE_DOCS[r.record]).toBeDefined();
    const [a] = g.rules.filter(isAlertingRule);
    expect(a.alert).toBe('AgentOverloaded');
    expect(a.expr).toContain('agent:proxy_shed:ratio_rate5m{system="agents"} > 0.05');
    expect(a.expr).toContain('* 300 >= 10');
    expect(a).toMatchObject({ for: '10m', labels: { severity: 'warning' } });
    expect(g.rules.filter(isRecordingRule)[0].expr).toContain('reason=~"queue_full|queue_timeout"');
  });

  test('AgentOverloaded honours disabledAlerts, alertFor and alertSeverities', () => {
    expect(frontdoor(undefined, { disabledAlerts: ['AgentOverloaded'] })!.rules.filter(isAlertingRule)).toEqual([]);
    const [a] = frontdoor(undefined, { alertFor: { AgentOverloaded: '20m' }, alertSeverities: { AgentOverloaded: 'emergency' }, severities: { emergency: 'P1' } })!.rules.filter(isAlertingRule);
    expect(a).toMatchObject({ for: '20m', labels: { severity: 'P1', page: 'true' } });
    const [scaled] = frontdoor(undefined, { timeScale: 1 / 60 })!.rules.filter(isAlertingRule);
    expect(scaled.for).toBe('10s');
  });

  test('the dashboard has the front-door row only when an agent runs the proxy', () => {
    const rows = (specs: ReturnType<typeof spec>[]) => (agentDashboard(specs).panels ?? []).filter((p) => p.type === 'row').map((p) => p.title);
    expect(rows([direct])).not.toContain('Front door (sidecar proxy)');
    expect(rows([proxied, direct])).toContain('Front door (sidecar proxy)');
  });
});

describe('edge alert options', () => {
  const edge = (options = {}) => ruleGroups([proxied], options).find((g) => g.name === 'agents-agents.edge')!.rules.filter(isAlertingRule);
  test('AgentRateLimited honours disabledAlerts, alertFor and alertSeverities too', () => {
    expect(edge()).toMatchObject([{ alert: 'AgentRateLimited', for: '10m', labels: { severity: 'warning' } }]);
    expect(edge({ disabledAlerts: ['AgentRateLimited'] })).toEqual([]);
    expect(edge({ alertFor: { AgentRateLimited: '30m' }, alertSeverities: { AgentRateLimited: 'critical' } })).toMatchObject([{ for: '30m', labels: { severity: 'critical' } }]);
  });
});
