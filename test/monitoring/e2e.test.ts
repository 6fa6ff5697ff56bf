/**
 * End to end: the real sidecar and a real Prometheus on 127.0.0.1, with the generated scrape
 * relabelling and rules (windows scaled down 60x with `timeScale`, scrape and evaluation every
 * second). Healthy load fires nothing; an error burst, slow calls and a stopped sidecar fire
 * the matching alerts; every dashboard query parses and returns data under load.
 *
 * Container and kube-state-metrics series (CPU, memory, restarts, HPA) and Istio request
 * metrics cannot come from a real cluster here: a small exporter in this process serves them
 * for the agent's pod, so the rules and panels that read them run against real Prometheus too.
 */
import * as http from 'node:http';
import { AddressInfo } from 'node:net';
import * as YAML from 'yaml';
import { agentDashboard, dashboardQueries } from '../../constructs/dashboards';
import { MonitoringOptions, ruleGroups, staticScrapeConfig } from '../../constructs/rules';
import { AgentSpec, parseCpu, parseMemory } from '../../constructs';
import { describeWithBinary, PrometheusServer, SidecarProcess, sleep, startPrometheus, startSidecar, stopAll, waitFor } from '../support/servers';
import { spec } from './fixtures';

// AgentDown waits 3 scaled minutes (3 s), so one slow scrape on a busy test machine is not an outage.
const OPTIONS: MonitoringOptions = { timeScale: 1 / 60, evaluationInterval: '1s', alertFor: { AgentDown: '3m' } };

// planner: SLO 99.5% and p95 <= 2 s (measured at le="2.56"); coder: no SLO, stopped to prove AgentDown.
// Both sidecars run without the inbound proxy here (records come through the API): test/monitoring/frontdoor-e2e.test.ts covers the proxy.
const planner = spec('planner', { component: 'orchestrator', team: 'core', autoscaling: { minReplicas: 2, maxReplicas: 6 }, slo: { availability: 99.5, latencyP95Seconds: 2 }, sidecar: { proxy: false } });
const coder = spec('coder', { team: 'dev', replicas: 2, sidecar: { proxy: false } });
const SPECS = [planner, coder];
const POD = (s: AgentSpec) => `${s.name}-7d9f8b6c5-x2x4z`;

/** What the in-process "cluster" exporter reports; the test flips it to inject pressure. */
const cluster = { cpuShare: 0.3, memoryShare: 0.4, restarts: 0, hpaCurrent: 3 };

function startClusterExporter(): Promise<http.Server> {
  const started = Date.now();
  const server = http.createServer((_req, res) => {
    const t = (Date.now() - started) / 1000;
    const c = { namespace: planner.namespace, pod: POD(planner), container: 'agent' };
    const l = (o: Record<string, string>) => `{${Object.entries(o).map(([k, v]) => `${k}="${v}"`).join(',')}}`;
    const cpuLimit = parseCpu(planner.resources.limits.cpu);
    const memLimit = parseMemory(planner.resources.limits.memory);
    const hpa = { namespace: planner.namespace, horizontalpodautoscaler: planner.names.hpa };
    const istio = (code: string) => ({ reporter: 'source', source_workload: planner.name, source_workload_namespace: planner.namespace, destination_workload: coder.name, response_code: code });
    cpuSeconds += cluster.cpuShare * cpuLimit * (t - lastT);
    lastT = t;
    res.setHeader('content-type', 'text/plain; version=0.0.4');
    res.end(
      [
        `container_cpu_usage_seconds_total${l(c)} ${cpuSeconds}`,
        `container_memory_working_set_bytes${l(c)} ${cluster.memoryShare * memLimit}`,
        `kube_pod_container_resource_limits${l({ ...c, resource: 'cpu', unit: 'core' })} ${cpuLimit}`,
        `kube_pod_container_resource_limits${l({ ...c, resource: 'memory', unit: 'byte' })} ${memLimit}`,
        `kube_pod_container_status_restarts_total${l(c)} ${cluster.restarts}`,
        `kube_horizontalpodautoscaler_status_current_replicas${l(hpa)} ${cluster.hpaCurrent}`,
        `kube_horizontalpodautoscaler_spec_min_replicas${l(hpa)} 2`,
        `kube_horizontalpodautoscaler_spec_max_replicas${l(hpa)} 6`,
        `istio_requests_total${l(istio('200'))} ${Math.floor(t * 20)}`,
        `istio_requests_total${l(istio('503'))} ${Math.floor(t)}`,
        '',
      ].join('\n'),
    );
  });
  let cpuSeconds = 0;
  let lastT = 0;
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

/** Load driven through the sidecar API, as the agent container would. */
const load = { errorShare: 0, durationMs: 300, batch: 20 };

async function tick(s: SidecarProcess, agent: string): Promise<void> {
  const records = Array.from({ length: load.batch }, (_, i) => {
    const failed = i < Math.round(load.batch * load.errorShare);
    return {
      operation: 'invoke_agent',
      model: 'gpt-4o',
      durationMs: load.durationMs + i,
      success: !failed,
      ...(failed ? { errorType: 'timeout' } : {}),
      inputTokens: 120,
      outputTokens: 40,
    };
  });
  const post = (p: string, body: unknown) =>
    fetch(`${s.apiUrl}${p}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }).then((r) => r.arrayBuffer());
  await post('/v1/executions', agent === planner.name ? records : records.map((r) => ({ ...r, success: true, errorType: undefined, durationMs: 300 })));
  await post('/v1/inflight', { value: 2 });
  // Nine hits and one miss per tick.
  for (let i = 0; i < 9; i++) await fetch(`${s.apiUrl}/v1/cache/prompts/known`).then((r) => r.arrayBuffer());
  await fetch(`${s.apiUrl}/v1/cache/prompts/unknown-${Date.now()}`).then((r) => r.arrayBuffer());
}

describeWithBinary('prometheus', 'monitoring end to end: real sidecar, real Prometheus', () => {
  let prom: PrometheusServer | undefined;
  let sidecars: Record<string, SidecarProcess> = {};
  let exporter: http.Server | undefined;
  let loadTimer: NodeJS.Timeout | undefined;
  const stopped = new Set<string>();

  const alerts = async () => (prom ? ((await prom.alerts()) as { labels: Record<string, string>; state: string }[]) : []);
  const alertList = async () => (await alerts()).map((a) => `${a.labels.alertname}{agent=${a.labels.agent}${a.labels.quantile ? `,q=${a.labels.quantile}` : ''}${a.labels.burn_rate ? `,burn=${a.labels.burn_rate}` : ''}} ${a.state}`).sort();

  beforeAll(async () => {
    exporter = await startClusterExporter();
    const [p, c] = await Promise.all([
      startSidecar(['--agent-name', planner.name, '--log-level', 'warn']),
      startSidecar(['--agent-name', coder.name, '--log-level', 'warn']),
    ]);
    sidecars = { planner: p, coder: c };
    for (const s of [p, c]) await fetch(`${s.apiUrl}/v1/cache/prompts/known`, { method: 'PUT', body: 'cached answer' }).then((r) => r.arrayBuffer());

    const scrape = staticScrapeConfig(
      planner.system,
      SPECS.map((s) => ({ address: new URL(sidecars[s.name].metricsUrl).host, spec: s, pod: POD(s) })),
      { ...OPTIONS, interval: '1s' },
    );
    const config = {
      global: { scrape_interval: '1s', evaluation_interval: '1s' },
      scrape_configs: [
        scrape,
        { job_name: 'cluster', honor_labels: true, scrape_interval: '1s', static_configs: [{ targets: [`127.0.0.1:${(exporter.address() as AddressInfo).port}`] }] },
      ],
    };
    prom = await startPrometheus({
      configYaml: YAML.stringify(config, { lineWidth: 0 }),
      ruleFiles: [{ name: 'agents.rules.yaml', content: YAML.stringify({ groups: ruleGroups(SPECS, OPTIONS) }, { lineWidth: 0 }) }],
    });
    loadTimer = setInterval(() => {
      for (const s of SPECS) if (!stopped.has(s.name)) void tick(sidecars[s.name], s.name).catch(() => undefined);
    }, 100);
  }, 60000);

  afterAll(async () => {
    if (loadTimer) clearInterval(loadTimer);
    await stopAll(prom, ...Object.values(sidecars));
    await new Promise((r) => (exporter ? exporter.close(() => r(undefined)) : r(undefined)));
  });

  test('the scrape relabelling puts agent, component, system, namespace, pod and job on every series', async () => {
    const up = await prom!.waitForQuery(`up{job="${planner.system}-agents"} == 1`, (r) => r.length === 2, 20000);
    expect(up.map((r) => r.metric).sort((a, b) => a.agent.localeCompare(b.agent))).toEqual([
      { __name__: 'up', agent: 'coder', component: 'agent', system: 'agents', namespace: 'agents', pod: POD(coder), job: 'agents-agents', instance: expect.any(String) },
      { __name__: 'up', agent: 'planner', component: 'orchestrator', system: 'agents', namespace: 'agents', pod: POD(planner), job: 'agents-agents', instance: expect.any(String) },
    ]);
    const series = await prom!.waitForQuery('agent_invocations_total{agent="planner"}');
    expect(series[0].metric).toMatchObject({ agent: 'planner', system: 'agents', component: 'orchestrator', gen_ai_agent_name: 'planner' });
  }, 30000);

  test('healthy load: recording rules have data and no alert is pending or firing', async () => {
    await prom!.waitForQuery('agent:invocations:rate5m{agent="planner"} > 0', undefined, 20000);
    await prom!.waitForQuery('agent:cache_hits:ratio_rate15m{agent="planner"} > 0.5', undefined, 20000);
    // Let every window (up to 30s for the `for:` of AgentNotScaling) see healthy data.
    await sleep(6000);
    for (let i = 0; i < 6; i++) {
      expect(await alertList()).toEqual([]);
      await sleep(1000);
    }
    const score = await prom!.query('agent:health:score');
    expect(score.map((r) => [r.metric.agent, Number(r.value[1])]).sort()).toEqual([['coder', 100], ['planner', 100]]);
    const ratio = await prom!.query('agent:errors:ratio_rate5m{agent="planner"}');
    expect(Number(ratio[0].value[1])).toBe(0);
  }, 60000);

  test('error burst, slow calls, cluster pressure and a stopped sidecar fire the matching alerts', async () => {
    // 4x the traffic, so the failures dominate the (scaled) 1h window within seconds.
    Object.assign(load, { errorShare: 0.5, durationMs: 5000, batch: 80 });
    Object.assign(cluster, { cpuShare: 0.97, memoryShare: 0.96, restarts: 4, hpaCurrent: 6 });
    stopped.add('coder');
    await sidecars.coder.stop();

    const want: [string, Record<string, string>, 'firing' | 'pending|firing'][] = [
      ['AgentDown', { agent: 'coder', team: 'dev' }, 'firing'],
      ['AgentHighErrorRate', { agent: 'planner', team: 'core', severity: 'critical' }, 'firing'],
      ['AgentHighLatency', { agent: 'planner', quantile: '0.95' }, 'firing'],
      ['AgentErrorBudgetBurn', { agent: 'planner', burn_rate: '14.4', page: 'true' }, 'firing'],
      ['AgentLatencyBudgetBurn', { agent: 'planner', burn_rate: '14.4' }, 'firing'],
      ['AgentRestarting', { agent: 'planner', pod: POD(planner), container: 'agent' }, 'firing'],
      ['AgentHighCpu', { agent: 'planner', container: 'agent' }, 'pending|firing'],
      ['AgentHighMemory', { agent: 'planner', container: 'agent' }, 'pending|firing'],
      ['AgentNotScaling', { agent: 'planner' }, 'pending|firing'],
    ];
    // Alerts are checked as they come: AgentRestarting resolves once the restarts leave its window.
    const seen = new Set<string>();
    const missing = async () => {
      const list = await alerts();
      for (const [name, labels, state] of want) {
        if (list.some((a) => a.labels.alertname === name && state.split('|').includes(a.state) && Object.entries(labels).every(([k, v]) => a.labels[k] === v))) seen.add(name);
      }
      return want.filter(([name]) => !seen.has(name));
    };
    try {
      await waitFor(async () => (await missing()).length === 0, { timeoutMs: 40000, intervalMs: 500, what: 'the failure alerts' });
    } catch (e) {
      throw new Error(`${(e as Error).message}\nstill missing: ${JSON.stringify((await missing()).map((w) => w[0]))}\nactive: ${JSON.stringify(await alertList(), null, 1)}`);
    }
    // The healthy agent's alerts stay about the agent that broke.
    const list = await alerts();
    expect(list.filter((a) => a.labels.agent === 'coder').map((a) => a.labels.alertname)).toEqual(['AgentDown']);
    const firing = list.find((a) => a.labels.alertname === 'AgentHighErrorRate')! as unknown as { annotations: Record<string, string> };
    expect(firing.annotations.description).toMatch(/^\d+(\.\d+)?% of the invocations of agent planner in namespace agents failed/);
    const score = await prom!.query('agent:health:score{agent="planner"}');
    expect(Number(score[0].value[1])).toBeLessThan(50);
  }, 60000);

  test('every dashboard query parses and returns data under load', async () => {
    const queries = dashboardQueries(agentDashboard(SPECS, OPTIONS));
    expect(queries.length).toBeGreaterThan(15);
    const empty: string[] = [];
    for (const { panel, expr } of queries) {
      const q = expr.split('$namespace').join('.*').split('$agent').join('.*').split('$__rate_interval').join('5s');
      const result = await prom!.query(q); // throws on a parse error
      if (result.length === 0) empty.push(`${panel}: ${q}`);
    }
    expect(empty).toEqual([]);
    // Template variables: label_values(<selector>, <label>) must find values too.
    const d = agentDashboard(SPECS, OPTIONS);
    for (const v of d.templating?.list ?? []) {
      if (v.type !== 'query') continue;
      const m = /^label_values\((.+), (\w+)\)$/.exec(String(v.query));
      expect(m).not.toBeNull();
      const values = await prom!.query(`count by (${m![2]}) (${m![1].split('$namespace').join('.*')})`);
      expect(values.map((r) => r.metric[m![2]]).sort()).toEqual(v.name === 'agent' ? ['coder', 'planner'] : ['agents']);
    }
  }, 30000);
});
