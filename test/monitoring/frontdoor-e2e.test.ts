/**
 * The front door end to end, with no agent code: the unmodified Python example agent behind the
 * real sidecar (environment exactly as AgentService writes it), a real Prometheus scraping it with
 * MonitoringStack's scrape relabelling and every generated rule (windows scaled down 60x with
 * `timeScale`). Nothing calls the sidecar API: every series comes from the inbound proxy.
 *
 * Healthy traffic fires nothing; failing and slow calls fire the error-rate, latency and both
 * SLO burn-rate alerts and spend the error budgets; more concurrent calls than the limit fire
 * AgentOverloaded; and every dashboard panel that reads the proxy's series returns data.
 */
import { ChildProcess, spawn } from 'node:child_process';
import * as path from 'node:path';
import { Chart, Testing } from 'cdk8s';
import * as YAML from 'yaml';
import { AgentService } from '../../constructs';
import { agentDashboard, dashboardQueries } from '../../constructs/dashboards';
import { MonitoringOptions, ruleGroups, staticScrapeConfig } from '../../constructs/rules';
import { SIDECAR_CONTAINER_NAME } from '../../sidecar/contract';
import { describeWithBinary, freePort, PrometheusServer, sleep, startPrometheus, stopAll, waitFor } from '../support/servers';
import { ProxiedSidecar, request, startProxySidecar } from '../sidecar/upstream';

const AGENT_PY = path.resolve(__dirname, '..', '..', 'examples', 'python-agent', 'agent.py');
// minInvocations 5: the scaled 5m window is 5 s, and the healthy phase runs at ~3 calls/s.
const OPTIONS: MonitoringOptions = { timeScale: 1 / 60, evaluationInterval: '1s', minInvocations: 5 };
/** A short queue (the default is 10 x maxConcurrentRequests): 16 concurrent calls overflow it at once. */
const MAX_QUEUE = 2;

/** Panels that read series an agent which calls no model and no cache, outside a cluster, cannot produce. */
const NOT_FROM_THE_PROXY = /gen_ai_client_token_usage|cache_|container|hpa_|istio_/;

interface Alert {
  labels: Record<string, string>;
  state: string;
}

describeWithBinary(['python3', 'prometheus'], 'the front door end to end: unmodified Python agent, real sidecar proxy, real Prometheus', () => {
  let py: ChildProcess | undefined;
  let sc: ProxiedSidecar | undefined;
  let prom: PrometheusServer | undefined;
  let agent: AgentService;
  let running = true;
  /** What the client loops send: how many run at once, and what each call asks the agent for. */
  const load = { loops: 1, pauseMs: 300, delayMs: 20, failShare: 0 };
  const loops: Promise<void>[] = [];
  const statuses = new Map<number, number>();

  const alerts = async (): Promise<Alert[]> => (prom ? ((await prom.alerts()) as Alert[]) : []);
  const alertList = async () => (await alerts()).map((a) => `${a.labels.alertname}{${a.labels.burn_rate ? `burn=${a.labels.burn_rate},` : ''}${a.labels.slo ?? ''}} ${a.state}`).sort();

  async function clientLoop(i: number): Promise<void> {
    let n = 0;
    while (running) {
      if (i >= load.loops) {
        await sleep(50);
        continue;
      }
      // failShare 0.5: every other call of each loop.
      const fail = load.failShare > 0 && ++n % Math.round(1 / load.failShare) === 0;
      const r = await request(`${sc!.proxyUrl}/invoke`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ prompt: `q${i}-${n}`, delay_ms: load.delayMs, fail }) }).catch(() => ({ status: 0 }));
      statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
      await sleep(r.status === 503 ? 200 : load.pauseMs);
    }
  }

  beforeAll(async () => {
    const chart = new Chart(Testing.app(), 'agents', { namespace: 'agents', disableResourceNameHashes: true });
    agent = new AgentService(chart, 'planner', {
      image: 'ghcr.io/example/planner:1.0.0',
      autoscaling: { metric: 'inflight' },
      slo: { availability: 99.5, latencyP95Seconds: 1 },
      sidecar: { proxyMaxQueue: MAX_QUEUE },
    });
    const pod = Testing.synth(chart).find((o) => o.kind === 'Deployment').spec.template.spec;
    const env: Record<string, string> = Object.fromEntries(pod.containers.find((c: { name: string }) => c.name === SIDECAR_CONTAINER_NAME).env.filter((e: { value?: string }) => e.value !== undefined).map((e: { name: string; value: string }) => [e.name, e.value]));
    expect(env.SIDECAR_PROXY).toBe('true');
    expect(env.SIDECAR_MAX_CONCURRENCY).toBe('10');
    expect(env.SIDECAR_MAX_QUEUE).toBe(String(MAX_QUEUE));

    const port = await freePort();
    py = spawn('python3', [AGENT_PY], { env: { ...process.env, PORT: String(port) }, stdio: 'ignore' });
    await waitFor(async () => (await fetch(`http://127.0.0.1:${port}/health`)).ok, { what: 'python agent' });
    // The manifest's sidecar environment; only ports and the upstream move to free loopback ports.
    sc = await startProxySidecar(`http://127.0.0.1:${port}`, [], { ...env, SIDECAR_LOG_LEVEL: 'warn' });
    const scrape = staticScrapeConfig('agents', [{ address: `127.0.0.1:${sc.metricsPort}`, spec: agent.spec, pod: 'planner-7d9f8b6c5-x2x4z' }], { ...OPTIONS, interval: '1s' });
    prom = await startPrometheus({
      configYaml: YAML.stringify({ global: { scrape_interval: '1s', evaluation_interval: '1s' }, scrape_configs: [scrape] }, { lineWidth: 0 }),
      ruleFiles: [{ name: 'agents.rules.yaml', content: YAML.stringify({ groups: ruleGroups([agent.spec], OPTIONS) }, { lineWidth: 0 }) }],
    });
    for (let i = 0; i < 16; i++) loops.push(clientLoop(i));
  }, 60000);

  afterAll(async () => {
    running = false;
    await Promise.race([Promise.all(loops), sleep(5000)]);
    py?.kill('SIGKILL');
    await stopAll(prom, sc);
  });

  test('healthy traffic: the recording and SLO rules have data, no alert is pending or firing', async () => {
    await prom!.waitForQuery('agent:invocations:rate5m{agent="planner"} > 1', undefined, 20000);
    await prom!.waitForQuery('agent:error_budget:remaining_ratio{agent="planner"} == 1', undefined, 20000);
    await prom!.waitForQuery('agent:latency_budget:remaining_ratio{agent="planner"} == 1', undefined, 20000);
    // The longest `for:` of an alert this traffic could trip is AgentOverloaded's (10m, 10 s scaled).
    for (let i = 0; i < 12; i++) {
      expect(await alertList()).toEqual([]);
      await sleep(1000);
    }
    expect(Number((await prom!.query('agent:errors:ratio_rate5m{agent="planner"}'))[0].value[1])).toBe(0);
    expect(Number((await prom!.query('agent:proxy_shed:ratio_rate5m{agent="planner"}'))[0].value[1])).toBe(0);
    expect([...statuses.keys()]).toEqual([200]);
  }, 60000);

  test('failing, slow and then too many concurrent calls fire the matching alerts and spend the budgets', async () => {
    const want: [string, Record<string, string>][] = [
      ['AgentHighErrorRate', { severity: 'critical', team: '' }],
      ['AgentHighLatency', { quantile: '0.95' }],
      ['AgentErrorBudgetBurn', { burn_rate: '14.4', page: 'true' }],
      ['AgentLatencyBudgetBurn', { burn_rate: '14.4' }],
      ['AgentOverloaded', { severity: 'warning' }],
    ];
    const seen = new Set<string>();
    const missing = async () => {
      for (const a of await alerts()) {
        if (a.state !== 'firing' || a.labels.agent !== 'planner') continue;
        const w = want.find(([name, labels]) => a.labels.alertname === name && Object.entries(labels).every(([k, v]) => (v === '' ? !(k in a.labels) : a.labels[k] === v)));
        if (w) seen.add(w[0]);
      }
      return want.map(([n]) => n).filter((n) => !seen.has(n));
    };
    const until = async (names: string[], timeoutMs: number) => {
      try {
        await waitFor(async () => (await missing()).every((n) => !names.includes(n)), { timeoutMs, intervalMs: 500, what: names.join(', ') });
      } catch (e) {
        throw new Error(`${(e as Error).message}\nstill missing: ${JSON.stringify(await missing())}\nactive: ${JSON.stringify(await alertList(), null, 1)}`);
      }
    };

    // Every other call fails (the agent answers 500) and every call is slower than the 1 s objective;
    // 8 at once stay under the concurrency limit of 10, so nothing is shed yet.
    Object.assign(load, { loops: 8, pauseMs: 0, delayMs: 1500, failShare: 0.5 });
    await until(['AgentHighErrorRate', 'AgentHighLatency', 'AgentErrorBudgetBurn', 'AgentLatencyBudgetBurn'], 60000);
    expect(seen.has('AgentOverloaded')).toBe(false);
    expect(statuses.get(503) ?? 0).toBe(0);
    const budget = Number((await prom!.query('agent:error_budget:remaining_ratio{agent="planner"}'))[0].value[1]);
    expect(budget).toBeLessThan(1);
    const latencyBudget = Number((await prom!.query('agent:latency_budget:remaining_ratio{agent="planner"}'))[0].value[1]);
    expect(latencyBudget).toBeLessThan(1);
    const byType = await prom!.query('sum by (error_type) (agent:errors_by_type:rate5m{agent="planner"})');
    expect(byType.map((r) => r.metric.error_type)).toEqual(['5xx']);

    // 16 at once against 10 slots and a queue of 2: the proxy sheds the rest with 503.
    Object.assign(load, { loops: 16, failShare: 0 });
    await until(['AgentOverloaded'], 40000);
    expect(statuses.get(503) ?? 0).toBeGreaterThan(0);
    const shed = await prom!.query('sum by (reason) (agent_proxy_rejected_requests_total{agent="planner"})');
    expect(shed.map((r) => r.metric.reason)).toEqual(['queue_full']);
    const queued = await prom!.query('max_over_time(agent_proxy_queued_requests{agent="planner"}[10s])');
    expect(Number(queued[0].value[1])).toBe(MAX_QUEUE);
    const inflight = await prom!.query('max_over_time(agent:inflight_invocations:sum{agent="planner"}[10s])');
    expect(Number(inflight[0].value[1])).toBeGreaterThanOrEqual(10);
  }, 120000);

  test('every dashboard panel that reads the proxy\'s series returns data', async () => {
    const queries = dashboardQueries(agentDashboard([agent.spec], OPTIONS));
    const fromProxy = queries.filter((x) => !NOT_FROM_THE_PROXY.test(x.expr));
    expect(fromProxy.length).toBeGreaterThanOrEqual(20);
    expect(fromProxy.filter((x) => x.panel === 'Shed and refused' || x.panel === 'Slots and queue').length).toBe(5);
    const empty: string[] = [];
    for (const { panel, expr } of fromProxy) {
      const q = expr.split('$namespace').join('.*').split('$agent').join('.*').split('$__rate_interval').join('10s');
      if ((await prom!.query(q)).length === 0) empty.push(`${panel}: ${q}`);
    }
    expect(empty).toEqual([]);
    // What callers got, by class: the agent's 200s and 500s, and the proxy's own 503s.
    const classes = await prom!.query('sum by (status_class) (agent_proxy_responses_total{agent="planner"})');
    expect(classes.map((r) => r.metric.status_class).sort()).toEqual(['2xx', '5xx']);
    const proxied503 = Number((await prom!.query('sum(agent_proxy_rejected_requests_total{agent="planner",reason="queue_full"})'))[0].value[1]);
    const fiveXx = Number(classes.find((r) => r.metric.status_class === '5xx')!.value[1]);
    expect(fiveXx).toBeGreaterThan(proxied503);
  }, 30000);
});
