import { Chart, Testing } from 'cdk8s';
import { AgentService } from '../../constructs/agent-service';
import { MonitoringStack, ScrapeKind } from '../../constructs/monitoring-stack';
import { rateOfChangeAlert, thresholdAlert } from '../../constructs/rules';
import { promtoolTest, PromtoolNotFoundError } from '../../testing';
import { validateManifests } from '../../testing/validate';
import { requireServers } from '../support/servers';
import { noteSkip } from '../support/skips';

const MONITORING_KINDS = ['ServiceMonitor', 'PodMonitor', 'PrometheusRule', 'ConfigMap', 'GrafanaDashboard'];

function agents(chart: Chart) {
  return [
    new AgentService(chart, 'planner', {
      image: 'ghcr.io/example/planner-agent:1.4.2',
      component: 'orchestrator',
      team: 'agents-core',
      autoscaling: { minReplicas: 2, maxReplicas: 6 },
      slo: { availability: 99.5, latencyP95Seconds: 30 },
    }),
    new AgentService(chart, 'researcher', { image: 'ghcr.io/example/researcher-agent:2.0.1', team: 'agents-core', slo: { availability: 99 } }),
    new AgentService(chart, 'coder', { image: 'ghcr.io/example/coder-agent:0.9.0', team: 'agents-dev', replicas: 3 }),
  ];
}

function chart() {
  return new Chart(Testing.app(), 'test', { namespace: 'multi-agents', disableResourceNameHashes: true });
}

function monitoringObjects(c: Chart): any[] {
  return Testing.synth(c).filter((o: any) => MONITORING_KINDS.includes(o.kind));
}

describe('MonitoringStack', () => {
  test("KEDA's HPA (the name the ScaledObject gives it, or KEDA's default keda-hpa-<ScaledObject>) maps to its agent in the HPA rules", () => {
    const c = chart();
    const a = new AgentService(c, 'summarizer', { image: 'ghcr.io/example/summarizer-agent:1.0.0', autoscaling: { metric: 'inflight', scaleToZero: true } });
    const stack = new MonitoringStack(c, 'monitoring', { services: [a] });
    const so = Testing.synth(c).find((o: any) => o.kind === 'ScaledObject');
    const rule = stack.ruleGroups.flatMap((g) => g.rules).find((r) => 'record' in r && r.record === 'agent:hpa_max_replicas:sum')!;
    const m = /"agent", "([^"]+)", "horizontalpodautoscaler", "([^"]+)"/.exec(rule.expr)!;
    // label_replace anchors the regex; unmatched groups expand to "".
    const agentOf = (hpa: string) => hpa.replace(new RegExp(`^(?:${m[2]})$`), m[1].replace(/\$(\d)/g, '$$$1'));
    expect(agentOf(so.spec.advanced.horizontalPodAutoscalerConfig.name)).toBe('summarizer');
    expect(agentOf(`keda-hpa-${so.metadata.name}`)).toBe('summarizer');
    expect(stack.alertNames()).toContain('AgentNotScaling');
  });

  test('snapshot: ServiceMonitor, PrometheusRule, dashboard ConfigMap and GrafanaDashboard', () => {
    const c = chart();
    new MonitoringStack(c, 'monitoring', {
      services: agents(c),
      labels: { release: 'kube-prometheus-stack' },
      dashboard: { folder: 'Agents', grafanaInstanceSelector: { dashboards: 'grafana' } },
    });
    const objs = monitoringObjects(c);
    expect(objs.map((o) => `${o.kind}/${o.metadata.name}`)).toEqual([
      'ServiceMonitor/multi-agents-agents',
      'PrometheusRule/multi-agents-agents',
      'ConfigMap/multi-agents-agents-dashboard',
      'GrafanaDashboard/multi-agents-agents',
    ]);
    expect(objs).toMatchSnapshot();
  });

  test('every object validates against the CRD and Kubernetes schemas (and promtool checks the rules)', async () => {
    const c = chart();
    new MonitoringStack(c, 'monitoring', {
      services: agents(c),
      labels: { release: 'kube-prometheus-stack' },
      cluster: 'prod',
      overrides: { coder: { errorRatio: 0.2 } },
      dashboard: { grafanaInstanceSelector: { dashboards: 'grafana' } },
      prometheusConfig: true,
      customAlerts: [rateOfChangeAlert({ name: 'CacheGrowing', metric: 'agent_cache_bytes', threshold: 1e6, summary: 's', description: 'd' })],
    });
    const result = await validateManifests(c, { promtool: 'auto' });
    expect(result.errors).toEqual([]);
    expect(result.toString()).toMatch(/^OK/);
    const c2 = chart();
    new MonitoringStack(c2, 'monitoring', { services: agents(c2), scrape: ScrapeKind.POD_MONITOR, interval: '15s' });
    const r2 = await validateManifests(c2, { promtool: 'auto' });
    expect(r2.errors).toEqual([]);
  });

  test('the ServiceMonitor selects the system\'s Services by label and relabels the agent labels onto every series', () => {
    const c = chart();
    new MonitoringStack(c, 'monitoring', { services: agents(c), interval: '10s' });
    const sm = monitoringObjects(c).find((o) => o.kind === 'ServiceMonitor');
    const services = Testing.synth(c).filter((o: any) => o.kind === 'Service');
    for (const svc of services) {
      for (const [k, v] of Object.entries(sm.spec.selector.matchLabels)) expect(svc.metadata.labels[k]).toBe(v);
      expect(svc.spec.ports.map((p: any) => p.name)).toContain(sm.spec.endpoints[0].port);
    }
    expect(sm.spec.namespaceSelector).toEqual({ matchNames: ['multi-agents'] });
    expect(sm.spec.endpoints[0]).toMatchObject({ port: 'http-metrics', path: '/metrics', interval: '10s' });
    const targets = sm.spec.endpoints[0].relabelings.map((r: any) => r.targetLabel);
    expect(targets).toEqual(['agent', 'component', 'system', 'namespace', 'pod', 'job']);
  });

  test('PodMonitor variant selects pods on the sidecar container port', () => {
    const c = chart();
    new MonitoringStack(c, 'monitoring', { services: agents(c), scrape: ScrapeKind.POD_MONITOR });
    const pm = monitoringObjects(c).find((o) => o.kind === 'PodMonitor');
    expect(pm.spec.podMetricsEndpoints[0].port).toBe('metrics');
    const deployments = Testing.synth(c).filter((o: any) => o.kind === 'Deployment');
    for (const d of deployments) {
      for (const [k, v] of Object.entries(pm.spec.selector.matchLabels)) expect(d.spec.template.metadata.labels[k]).toBe(v);
      const ports = d.spec.template.spec.containers.flatMap((ct: any) => (ct.ports ?? []).map((p: any) => p.name));
      expect(ports).toContain('metrics');
    }
    expect(monitoringObjects(c).some((o) => o.kind === 'ServiceMonitor')).toBe(false);
  });

  test('extra labels on every object; the dashboard ConfigMap carries grafana_dashboard: "1"', () => {
    const c = chart();
    new MonitoringStack(c, 'monitoring', { services: agents(c), labels: { release: 'prom' } });
    for (const o of monitoringObjects(c)) expect(o.metadata.labels.release).toBe('prom');
    const cm = monitoringObjects(c).find((o) => o.kind === 'ConfigMap');
    expect(cm.metadata.labels.grafana_dashboard).toBe('1');
    const dash = JSON.parse(cm.data['multi-agents-agents.json']);
    expect(dash.uid).toBe('agents-multi-agents');
  });

  test('one set of objects per system; agents without a sidecar are skipped', () => {
    const c = chart();
    const a = new AgentService(c, 'a', { image: 'ghcr.io/x/a:1.0.0', system: 'alpha' });
    const b = new AgentService(c, 'b', { image: 'ghcr.io/x/b:1.0.0', system: 'beta' });
    const d = new AgentService(c, 'd', { image: 'ghcr.io/x/d:1.0.0', system: 'beta', sidecar: false });
    const stack = new MonitoringStack(c, 'monitoring', { services: [a, b, d] });
    expect(stack.systems.map((s) => [s.system, s.specs.map((x) => x.name)])).toEqual([['alpha', ['a']], ['beta', ['b']]]);
    expect(monitoringObjects(c).map((o) => `${o.kind}/${o.metadata.name}`)).toEqual([
      'ServiceMonitor/alpha-agents',
      'PrometheusRule/alpha-agents',
      'ConfigMap/alpha-agents-dashboard',
      'ServiceMonitor/beta-agents',
      'PrometheusRule/beta-agents',
      'ConfigMap/beta-agents-dashboard',
    ]);
    expect(stack.scrapeConfigs.map((s) => s.job_name)).toEqual(['alpha-agents', 'beta-agents']);
  });

  test('large systems: per-agent constants split into PrometheusRules that client-side kubectl apply can store', () => {
    const c = chart();
    const services = Array.from({ length: 450 }, (_, i) => new AgentService(c, `agent-${i}`, { image: 'ghcr.io/x/a:1.0.0', team: 'core', slo: { availability: 99.5, latencyP95Seconds: 10 } }));
    const stack = new MonitoringStack(c, 'monitoring', { services });
    const rules = monitoringObjects(c).filter((o) => o.kind === 'PrometheusRule');
    expect(rules.map((o) => [o.metadata.name, o.spec.groups.map((g: any) => g.name)])).toEqual([
      ['multi-agents-agents', ['multi-agents-agents.recording', 'multi-agents-agents.slo', 'multi-agents-agents.alerts', 'multi-agents-agents.edge', 'multi-agents-agents.frontdoor', 'multi-agents-agents.workload']],
      ['multi-agents-agents-inventory-1', ['multi-agents-agents.inventory-1']],
      ['multi-agents-agents-inventory-2', ['multi-agents-agents.inventory-2']],
      ['multi-agents-agents-inventory-3', ['multi-agents-agents.inventory-3']],
    ]);
    for (const o of rules) expect(JSON.stringify(o).length).toBeLessThan(200 * 1024);
    expect(stack.systems[0].inventoryRules).toHaveLength(3);
  });

  test('testing/promtoolTest() runs the generated tests of a two-system stack against its rules', async () => {
    const c = chart();
    const a = new AgentService(c, 'a', { image: 'ghcr.io/x/a:1.0.0', system: 'alpha', team: 'x' });
    const b = new AgentService(c, 'b', { image: 'ghcr.io/x/b:1.0.0', system: 'beta', replicas: 2 });
    const stack = new MonitoringStack(c, 'monitoring', { services: [a, b], customAlerts: [rateOfChangeAlert({ name: 'CacheGrowing', metric: 'agent_cache_bytes', threshold: 1e6, summary: 's', description: 'd' })] });
    try {
      const result = await promtoolTest(stack);
      expect(result.output).toContain('SUCCESS');
      expect(result.ok).toBe(true);
    } catch (e) {
      if (e instanceof PromtoolNotFoundError && !requireServers()) return noteSkip('promtoolTest(stack) of a MonitoringStack', 'promtool');
      throw e;
    }
  }, 120000);

  test('exposes rule groups and promtool tests for testing/promtoolTest()', () => {
    const c = chart();
    const stack = new MonitoringStack(c, 'monitoring', { services: agents(c) });
    expect(stack.ruleGroups.map((g) => g.name)).toEqual(['multi-agents-agents.inventory', 'multi-agents-agents.recording', 'multi-agents-agents.slo', 'multi-agents-agents.alerts', 'multi-agents-agents.edge', 'multi-agents-agents.frontdoor', 'multi-agents-agents.workload']);
    const tests = stack.promtoolTests();
    for (const alert of stack.alertNames()) {
      expect(tests.some((t) => t.alert_rule_test.some((a) => a.alertname === alert && a.exp_alerts.length > 0))).toBe(true);
      expect(tests.some((t) => t.alert_rule_test.some((a) => a.alertname === alert && a.exp_alerts.length === 0))).toBe(true);
    }
    expect(Object.keys(stack.promtoolFiles())).toEqual(['multi-agents.rules.yaml', 'multi-agents.test.yaml']);
  });

  test('invalid props name the construct path and the field', () => {
    const c = chart();
    const svcs = agents(c);
    expect(() => new MonitoringStack(c, 'm1', { services: svcs, interval: 'often' })).toThrow(/m1: interval: must be a duration/);
    expect(() => new MonitoringStack(c, 'm2', { services: [] })).toThrow(/m2: services: must list at least one AgentService/);
    expect(() => new MonitoringStack(c, 'm3', { services: svcs, thresholds: { errorRatio: 2 } })).toThrow(/m3: thresholds.errorRatio/);
    expect(() => new MonitoringStack(c, 'm4', { services: svcs, runbookUrl: 'https://x/runbook' })).toThrow(/m4: runbookUrl: must contain \{alert\}/);
    expect(() => new MonitoringStack(c, 'm5', { services: svcs, disabledAlerts: ['AgentBored' as never] })).toThrow(/m5: disabledAlerts\[0\]/);
    expect(() => new MonitoringStack(c, 'm6', { services: svcs, scrapeInterval: '5s' } as never)).toThrow(/m6: unknown field "scrapeInterval"/);
    expect(() => new MonitoringStack(c, 'm7', { services: svcs, overrides: { plannr: { errorRatio: 0.1 } } })).toThrow(/m7: overrides.plannr: no monitored agent is named "plannr"/);
    expect(() => new MonitoringStack(c, 'm8', { services: svcs, customAlerts: [thresholdAlert({ name: 'AgentDown', expr: 'up', threshold: 0, summary: 's', description: 'd' })] })).toThrow(
      /m8: customAlerts\[0\].alert: "AgentDown" is a built-in alert name/,
    );
    expect(() => new MonitoringStack(c, 'm9', { services: svcs, overrides: { 'multi-agents/coder': { restarts: 10 } } })).not.toThrow();
    const bare = new AgentService(c, 'bare', { image: 'ghcr.io/x/bare:1.0.0', sidecar: false });
    expect(() => new MonitoringStack(c, 'm10', { services: [bare] })).toThrow(/m10: services: none of the agents runs the sidecar/);
  });

  test('the model alerts are configurable alert names: accepted by the options, reserved for customAlerts, typos named', () => {
    const c = chart();
    const svcs = agents(c);
    expect(() => new MonitoringStack(c, 'ok', { services: svcs, disabledAlerts: ['AgentModelProviderErrors'], alertFor: { AgentTimeToFirstTokenHigh: '30m' }, alertSeverities: { AgentTokenBudgetNearlySpent: 'critical' } })).not.toThrow();
    expect(() => new MonitoringStack(c, 'm1', { services: svcs, disabledAlerts: ['AgentModelProviderError' as never] })).toThrow(/m1: disabledAlerts\[0\].*AgentModelProviderErrors/);
    expect(() => new MonitoringStack(c, 'm2', { services: svcs, alertFor: { AgentTimeToFirstToken: '30m' } as never })).toThrow(/m2: unknown field "alertFor.AgentTimeToFirstToken"/);
    expect(() => new MonitoringStack(c, 'm3', { services: svcs, customAlerts: [thresholdAlert({ name: 'AgentTokenBudgetNearlySpent', expr: 'up', threshold: 0, summary: 's', description: 'd' })] })).toThrow(
      /m3: customAlerts\[0\].alert: "AgentTokenBudgetNearlySpent" is a built-in alert name/,
    );
  });

  test('deterministic output', () => {
    const synth = () => {
      const c = chart();
      new MonitoringStack(c, 'monitoring', { services: agents(c) });
      return JSON.stringify(monitoringObjects(c));
    };
    expect(synth()).toBe(synth());
  });
});
