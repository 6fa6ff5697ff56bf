/**
 * Any language, no agent code: the Python example agent (standard library only, unmodified) runs
 * behind the real sidecar configured exactly as AgentService writes it, and a real Prometheus
 * scrapes the sidecar with the MonitoringStack's recording rules. The invocations, errors,
 * in-flight calls and the KEDA in-flight query come from the proxy alone; the sidecar's readiness
 * follows the agent's, and SIGTERM drains the agent's calls. (Alerts, SLO rules and dashboards on
 * the same path: test/monitoring/frontdoor-e2e.test.ts.)
 */
import { ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Chart, Testing } from 'cdk8s';
import * as YAML from 'yaml';
import { AgentService } from '../../constructs';
import { ruleGroups, staticScrapeConfig } from '../../constructs/rules';
import { SIDECAR_CONTAINER_NAME } from '../../sidecar/contract';
import { describeWithBinary, freePort, PrometheusServer, startPrometheus, stopAll, waitFor } from '../support/servers';
import { ProxiedSidecar, request, startProxySidecar } from './upstream';

const AGENT_PY = path.resolve(__dirname, '..', '..', 'examples', 'python-agent', 'agent.py');

describeWithBinary(['python3', 'prometheus'], 'the unmodified Python agent behind the real sidecar, scraped by a real Prometheus', () => {
  let py: ChildProcess;
  let sc: ProxiedSidecar;
  let prom: PrometheusServer;
  let kedaQuery: string;
  let env: Record<string, string>;
  let agentPort: number;
  const readyFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'py-agent-')), 'not-ready');

  beforeAll(async () => {
    const chart = new Chart(Testing.app(), 'agents', { namespace: 'agents', disableResourceNameHashes: true });
    const agent = new AgentService(chart, 'planner', { image: 'ghcr.io/example/planner:1.0.0', autoscaling: { metric: 'inflight' } });
    const objects = Testing.synth(chart);
    const pod = objects.find((o) => o.kind === 'Deployment').spec.template.spec;
    env = Object.fromEntries(pod.containers.find((c: any) => c.name === SIDECAR_CONTAINER_NAME).env.map((e: any) => [e.name, e.value]));
    kedaQuery = objects.find((o) => o.kind === 'ScaledObject').spec.triggers.find((t: any) => t.name === 'inflight').metadata.query;

    const port = await freePort();
    agentPort = port;
    py = spawn('python3', [AGENT_PY], { env: { ...process.env, PORT: String(port), READY_FILE: readyFile }, stdio: 'ignore' });
    await waitFor(async () => (await fetch(`http://127.0.0.1:${port}/health`)).ok, { what: 'python agent' });
    // The manifest's sidecar environment; only ports and the upstream move to free loopback ports.
    sc = await startProxySidecar(`http://127.0.0.1:${port}`, [], { ...env, SIDECAR_LOG_LEVEL: 'warn' });
    const scrape = staticScrapeConfig('agents', [{ address: `127.0.0.1:${sc.metricsPort}`, spec: agent.spec, pod: 'planner-0' }], { interval: '1s' });
    prom = await startPrometheus({
      configYaml: YAML.stringify({ global: { scrape_interval: '1s', evaluation_interval: '1s' }, scrape_configs: [scrape] }, { lineWidth: 0 }),
      ruleFiles: [{ name: 'agents.rules.yaml', content: YAML.stringify({ groups: ruleGroups([agent.spec], {}) }, { lineWidth: 0 }) }],
    });
  });
  afterAll(async () => {
    py?.kill('SIGKILL');
    await stopAll(prom, sc);
  });

  test('invocations, errors and streams are measured; the recording rules and the KEDA query return them', async () => {
    // One of each first, so both series exist in Prometheus before the rates are taken.
    await request(`${sc.proxyUrl}/invoke`, { method: 'POST', body: '{}' });
    await request(`${sc.proxyUrl}/invoke`, { method: 'POST', body: JSON.stringify({ fail: true }) });
    await prom.waitForQuery('agent_invocations_total{agent="planner"}', (r) => r.length === 2);
    for (let i = 0; i < 7; i++) expect((await request(`${sc.proxyUrl}/invoke`, { method: 'POST', body: JSON.stringify({ prompt: `q${i}` }) })).status).toBe(200);
    for (let i = 0; i < 1; i++) expect((await request(`${sc.proxyUrl}/invoke`, { method: 'POST', body: JSON.stringify({ fail: true }) })).status).toBe(500);
    const stream = await request(`${sc.proxyUrl}/stream?n=3`);
    expect(stream.body.match(/^data: /gm)).toHaveLength(3);

    // Raw series as scraped, with the scrape's target labels.
    const inv = await prom.waitForQuery('sum by (outcome) (agent_invocations_total{agent="planner",gen_ai_operation_name="invoke_agent"})', (r) => r.length === 2 && r.reduce((n: number, x: any) => n + Number(x.value[1]), 0) === 11);
    const byOutcome = Object.fromEntries(inv.map((x: any) => [x.metric.outcome, Number(x.value[1])]));
    expect(byOutcome).toEqual({ success: 9, error: 2 });
    const errs = await prom.query('agent_errors_total{agent="planner",error_type="5xx"}');
    expect(Number(errs[0].value[1])).toBe(2);
    // The probes (the sidecar's readiness poll included) are not invocations.
    const ttfb = await prom.query('sum(agent_proxy_time_to_first_byte_seconds_count{agent="planner"})');
    expect(Number(ttfb[0].value[1])).toBe(11);

    // MonitoringStack's recording rules on those series: after the first pair, 1 failure in 8 calls
    // (rate() extrapolates each series a little differently: a generous margin).
    const ratio = await prom.waitForQuery('agent:errors:ratio_rate5m{agent="planner"}', (r) => r.length === 1 && Number(r[0].value[1]) > 0.05 && Number(r[0].value[1]) < 0.3);
    expect(Number(ratio[0].value[1])).toBeGreaterThan(0.05);
    const rate = await prom.waitForQuery('agent:invocations:rate5m{agent="planner"}', (r) => r.length === 1 && Number(r[0].value[1]) > 0);
    expect(Number(rate[0].value[1])).toBeGreaterThan(0);

    // KEDA's in-flight query while three slow calls run: the proxy's own count.
    const slow = [1, 2, 3].map(() => request(`${sc.proxyUrl}/invoke`, { method: 'POST', body: JSON.stringify({ delay_ms: 4000 }) }));
    const during = await prom.waitForQuery(kedaQuery, (r) => r.length === 1 && Number(r[0].value[1]) === 3, 15000);
    expect(Number(during[0].value[1])).toBe(3);
    await Promise.all(slow);
    await prom.waitForQuery(kedaQuery, (r) => r.length === 1 && Number(r[0].value[1]) === 0, 15000);
  });

  test("the sidecar's readiness follows the agent's readiness path (the manifest's)", async () => {
    expect(env.SIDECAR_UPSTREAM_READY_PATH).toBe('/ready');
    expect((await fetch(`${sc.metricsUrl}/readyz`)).status).toBe(200);
    fs.writeFileSync(readyFile, '');
    try {
      await waitFor(async () => (await fetch(`${sc.metricsUrl}/readyz`)).status === 503, { what: 'readyz 503 while the agent is not ready', timeoutMs: 15000 });
    } finally {
      fs.rmSync(readyFile);
    }
    await waitFor(async () => (await fetch(`${sc.metricsUrl}/readyz`)).status === 200, { what: 'readyz 200 once the agent is ready again', timeoutMs: 15000 });
  }, 40000);

  test('SIGTERM drains: readiness fails at once, new calls are served in the drain window, a slow call finishes, exit 0', async () => {
    // The manifest's environment, with the drain window (drainSeconds, 15 s) shortened for the test.
    const drained = await startProxySidecar(`http://127.0.0.1:${agentPort}`, [], { ...env, SIDECAR_LOG_LEVEL: 'warn', SIDECAR_SHUTDOWN_DELAY_MS: '1500' });
    const slow = request(`${drained.proxyUrl}/invoke`, { method: 'POST', body: JSON.stringify({ delay_ms: 3000, prompt: 'slow' }) });
    await new Promise((r) => setTimeout(r, 300));
    drained.child.kill('SIGTERM');
    await waitFor(async () => (await fetch(`${drained.metricsUrl}/readyz`)).status === 503, { what: 'readyz 503 after SIGTERM', timeoutMs: 1000, intervalMs: 50 });
    const during = await request(`${drained.proxyUrl}/invoke`, { method: 'POST', body: JSON.stringify({ prompt: 'late' }) });
    expect(during.status).toBe(200);
    expect(during.headers.connection).toBe('close');
    const done = await slow;
    expect(done.status).toBe(200);
    expect(JSON.parse(done.body)).toEqual({ answer: 'echo: slow' });
    expect((await drained.exited).code).toBe(0);
  }, 30000);
});
