import { agentDashboard, agentDashboards, dashboardQueries, dashboardUid } from '../../constructs/dashboards';
import { isRecordingRule, ruleGroups } from '../../constructs/rules';
import { METRICS } from '../../sidecar/contract';
import { exampleSpecs, spec } from './fixtures';

describe('agentDashboard', () => {
  const d = agentDashboard(exampleSpecs());

  test('snapshot (built with the Grafana Foundation SDK, deterministic)', () => {
    expect(JSON.stringify(d)).toBe(JSON.stringify(agentDashboard(exampleSpecs().reverse())));
    expect(d).toMatchSnapshot();
  });

  test('stable UID from the system name, within Grafana\'s 40 characters', () => {
    expect(d.uid).toBe('agents-agents');
    expect(dashboardUid('multi-agents')).toBe('agents-multi-agents');
    const long = dashboardUid('a-very-long-system-name-that-goes-on-and-on');
    expect(long.length).toBeLessThanOrEqual(40);
    expect(long).toBe(dashboardUid('a-very-long-system-name-that-goes-on-and-on'));
    expect(long).not.toBe(dashboardUid('a-very-long-system-name-that-goes-on-and-on-2'));
  });

  test('datasource, namespace and agent variables; overview row and a per-agent row repeated on $agent', () => {
    expect(d.templating?.list?.map((v) => [v.type, v.name])).toEqual([['datasource', 'datasource'], ['query', 'namespace'], ['query', 'agent']]);
    const rows = (d.panels ?? []).filter((p) => p.type === 'row') as { title?: string; repeat?: string }[];
    expect(rows.map((r) => [r.title, r.repeat])).toEqual([['Overview', undefined], ['Agent $agent', 'agent'], ['Front door (sidecar proxy)', undefined]]);
    const titles = (d.panels ?? []).map((p) => (p as { title?: string }).title);
    for (const t of ['Agents up', 'Health score', 'Invocations/s', 'Error ratio', 'p95 latency', 'Error budget left', 'Latency percentiles', 'Errors by type', 'Token usage', 'Cache hit ratio', 'CPU vs limit', 'Memory vs limit', 'Replicas vs HPA bounds', 'Inter-agent traffic']) {
      expect(titles).toContain(t);
    }
  });

  test('panels read recorded series that the rules define, or raw series of the sidecar and Istio', () => {
    const recorded = new Set(ruleGroups(exampleSpecs()).flatMap((g) => g.rules.filter(isRecordingRule).map((r) => r.record)));
    const raw = new Set<string>([
      METRICS.invocations,
      'istio_requests_total',
      ...[METRICS.proxyResponses, METRICS.proxyQueued, METRICS.proxyConcurrencyLimit, METRICS.proxyRejected, METRICS.proxyRequestBytes, METRICS.proxyResponseBytes, METRICS.proxyUpstreamReady],
    ]);
    for (const { panel, expr } of dashboardQueries(d)) {
      const names = [...expr.matchAll(/([a-z_][a-z0-9_:]*)\{/g)].map((m) => m[1]).filter((n) => !['by', 'sum', 'max', 'count', 'rate'].includes(n));
      expect(names.length).toBeGreaterThan(0);
      for (const n of names) expect({ panel, n, known: recorded.has(n) || raw.has(n) }).toEqual({ panel, n, known: true });
      expect(expr).toContain('namespace=~"$namespace"');
    }
  });

  test('one dashboard per system; a mixed list is rejected by agentDashboard', () => {
    const specs = [spec('a', { system: 'alpha' }), spec('b', { system: 'beta' })];
    expect(agentDashboards(specs).map((x) => x.uid)).toEqual(['agents-alpha', 'agents-beta']);
    expect(() => agentDashboard(specs)).toThrow(/exactly one system/);
  });
});
