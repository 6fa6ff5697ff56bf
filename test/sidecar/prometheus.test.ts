/**
 * A real Prometheus scrapes the real sidecar: the series arrive, with their types, and the
 * duration histogram answers histogram_quantile.
 */
import { METRICS, SIDECAR_PATHS } from '../../sidecar/contract';
import { describeWithBinary, PrometheusServer, SidecarProcess, startPrometheus, startSidecar, stopAll } from '../support/servers';
import { postJson } from './helpers';

const WEIRD = 'we"ird\\agent\nname {x="1"}';

describeWithBinary('prometheus', 'Prometheus scraping the sidecar', () => {
  let sc: SidecarProcess;
  let prom: PrometheusServer;

  beforeAll(async () => {
    sc = await startSidecar([], { SIDECAR_AGENT_NAME: 'planner' });
    prom = await startPrometheus({
      configYaml: [
        'global:',
        '  scrape_interval: 1s',
        '  evaluation_interval: 1s',
        'scrape_configs:',
        '  - job_name: agent-sidecar',
        `    metrics_path: ${SIDECAR_PATHS.metrics}`,
        '    static_configs:',
        `      - targets: ["127.0.0.1:${sc.metricsPort}"]`,
        '        labels: { agent: planner }',
      ].join('\n'),
    });
    const records = [];
    for (let i = 0; i < 200; i++) {
      records.push({ operation: 'chat', durationMs: i < 180 ? 300 : 4000, success: i % 20 !== 0, errorType: i % 20 === 0 ? 'timeout' : undefined, model: 'gpt-4o', inputTokens: 500, outputTokens: 100 });
    }
    expect((await postJson(`${sc.apiUrl}${SIDECAR_PATHS.executions}`, records)).status).toBe(202);
    expect((await postJson(`${sc.apiUrl}${SIDECAR_PATHS.inflight}`, { delta: 3 })).status).toBe(200);
    // Label values are client input: quotes, backslashes and newlines must not break the scrape.
    expect((await postJson(`${sc.apiUrl}${SIDECAR_PATHS.executions}`, { agent: WEIRD, operation: 'op', durationMs: 1, success: true })).status).toBe(202);
  });

  afterAll(async () => {
    await stopAll(prom, sc);
  });

  test('the target is up and the invocation counters arrive', async () => {
    await prom.waitForQuery('up{job="agent-sidecar"} == 1');
    const r = await prom.waitForQuery(`sum by (outcome) (${METRICS.invocations}{gen_ai_agent_name="planner"})`, (res) => res.length === 2);
    const byOutcome = Object.fromEntries(r.map((s: any) => [s.metric.outcome, Number(s.value[1])]));
    expect(byOutcome).toEqual({ success: 190, error: 10 });
    const errors = await prom.query(`${METRICS.errors}{error_type="timeout"}`);
    expect(Number(errors[0].value[1])).toBe(10);
    expect(errors[0].metric).toMatchObject({ job: 'agent-sidecar', agent: 'planner', gen_ai_agent_name: 'planner', gen_ai_operation_name: 'chat' });
  });

  test('the duration histogram is a histogram Prometheus can take quantiles of', async () => {
    const count = await prom.waitForQuery(`sum(${METRICS.operationDuration}_count{gen_ai_agent_name="planner"})`);
    expect(Number(count[0].value[1])).toBe(200);
    const p50 = await prom.query(`histogram_quantile(0.5, sum by (le) (${METRICS.operationDuration}_bucket{gen_ai_agent_name="planner"}))`);
    // 90% of samples are 300 ms: the median falls in the (0.16, 0.32] bucket.
    expect(Number(p50[0].value[1])).toBeGreaterThan(0.16);
    expect(Number(p50[0].value[1])).toBeLessThanOrEqual(0.32);
    const p99 = await prom.query(`histogram_quantile(0.99, sum by (le) (${METRICS.operationDuration}_bucket{gen_ai_agent_name="planner"}))`);
    expect(Number(p99[0].value[1])).toBeGreaterThan(2.56);
    const tokens = await prom.query(`sum by (gen_ai_token_type) (${METRICS.tokenUsage}_sum{gen_ai_agent_name="planner"})`);
    expect(Object.fromEntries(tokens.map((s: any) => [s.metric.gen_ai_token_type, Number(s.value[1])]))).toEqual({ input: 100000, output: 20000 });
  });

  test('gauges and metadata arrive with the right types', async () => {
    const inflight = await prom.waitForQuery(`${METRICS.inflight}{gen_ai_agent_name="planner"}`);
    expect(Number(inflight[0].value[1])).toBe(3);
    const res = await fetch(`${prom.url}/api/v1/metadata`);
    const meta = (await res.json()).data;
    expect(meta[METRICS.operationDuration][0].type).toBe('histogram');
    expect(meta[METRICS.tokenUsage][0].type).toBe('histogram');
    expect(meta[METRICS.invocations][0].type).toBe('counter');
    expect(meta[METRICS.inflight][0].type).toBe('gauge');
    expect(meta[METRICS.cacheRedisUp][0].type).toBe('gauge');
    const weird = await prom.query(`${METRICS.invocations}{gen_ai_operation_name="op"}`);
    expect(weird.map((x: any) => x.metric.gen_ai_agent_name)).toEqual([WEIRD]);
    const targets = await prom.targets();
    expect(targets[0].health).toBe('up');
    expect(targets[0].lastError).toBe('');
  });
});
