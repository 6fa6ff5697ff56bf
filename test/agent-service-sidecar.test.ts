/**
 * The sidecar container AgentService writes must run the real sidecar as configured: the
 * container's environment is a valid sidecar configuration, its probes answer, the scrape
 * annotations point at real metrics and the agent-facing URL reaches the API.
 */
import { Chart, Testing } from 'cdk8s';
import { AgentService } from '../constructs';
import { METRICS, SIDECAR_API_PORT, SIDECAR_CONTAINER_NAME, SIDECAR_METRICS_PORT, SIDECAR_PROXY_PORT } from '../sidecar/contract';
import { ProxiedSidecar, startProxySidecar, startUpstream, Upstream } from './sidecar/upstream';

function sidecarContainer() {
  const chart = new Chart(Testing.app(), 'multi-agents', { namespace: 'multi-agents', disableResourceNameHashes: true });
  new AgentService(chart, 'planner', {
    image: 'ghcr.io/example/planner:1.0.0',
    sidecar: { cacheMaxEntries: 100, cacheMaxBytes: 1_000_000, cacheDefaultTtlSeconds: 30 },
  });
  const deployment = Testing.synth(chart).find((o) => o.kind === 'Deployment');
  const pod = deployment.spec.template;
  return { pod, agent: pod.spec.containers[0], sidecar: pod.spec.containers.find((c: any) => c.name === SIDECAR_CONTAINER_NAME) };
}

describe('AgentService sidecar container runs the real sidecar', () => {
  const { pod, agent, sidecar } = sidecarContainer();
  const env: Record<string, string> = Object.fromEntries(sidecar.env.map((e: any) => [e.name, e.value]));
  let sc: ProxiedSidecar;
  let up: Upstream;

  beforeAll(async () => {
    // A real agent stand-in answering the probe paths, in place of 127.0.0.1:8080.
    up = await startUpstream();
    for (const path of ['/health', '/ready']) up.route(path, (_req, res) => res.end('ok'));
    // The manifest's environment as it is; only the ports and the upstream move to free loopback ports (flags win over env).
    sc = await startProxySidecar(up.url, [], { ...env, SIDECAR_LOG_LEVEL: 'warn' });
  });
  afterAll(async () => {
    await sc?.stop();
    await up?.close();
  });

  test('the manifest ports are the sidecar defaults', () => {
    expect(env.SIDECAR_METRICS_PORT).toBe(String(SIDECAR_METRICS_PORT));
    expect(env.SIDECAR_API_PORT).toBe(String(SIDECAR_API_PORT));
    expect(env.SIDECAR_API_HOST).toBe('127.0.0.1');
    expect(agent.env.find((e: any) => e.name === 'AGENT_SIDECAR_URL').value).toBe(`http://${env.SIDECAR_API_HOST}:${env.SIDECAR_API_PORT}`);
    // The front door: the proxy on its port, forwarding to the agent's own port on loopback.
    expect(env.SIDECAR_PROXY).toBe('true');
    expect(env.SIDECAR_PROXY_PORT).toBe(String(SIDECAR_PROXY_PORT));
    expect(env.SIDECAR_UPSTREAM).toBe(`http://127.0.0.1:${agent.ports[0].containerPort}`);
    expect(env.SIDECAR_MAX_CONCURRENCY).toBe('10');
  });

  test("the agent's probes go through the proxy, reach the agent and are not counted as invocations", async () => {
    for (const probe of [agent.livenessProbe, agent.readinessProbe, agent.startupProbe]) {
      expect(probe.httpGet.port).toBe(SIDECAR_PROXY_PORT);
      const res = await fetch(`${sc.proxyUrl}${probe.httpGet.path}`);
      expect(res.status).toBe(200);
    }
    expect(up.seen.map((s) => s.url)).toEqual(expect.arrayContaining(['/health', '/ready']));
    const text = await (await fetch(`${sc.metricsUrl}/metrics`)).text();
    expect(text).not.toMatch(new RegExp(`^${METRICS.invocations}\\{`, 'm'));
  });

  test('liveness and readiness probes answer 200 on the probed paths', async () => {
    for (const probe of [sidecar.livenessProbe, sidecar.readinessProbe]) {
      expect(probe.httpGet.port).toBe(SIDECAR_METRICS_PORT);
      const res = await fetch(`${sc.metricsUrl}${probe.httpGet.path}`);
      expect(res.status).toBe(200);
    }
  });

  test('the scrape annotation path serves Prometheus metrics labelled with the agent id', async () => {
    const res = await fetch(`${sc.proxyUrl}/v1/plan`, { method: 'POST', body: '{}' });
    expect(res.status).toBeLessThan(300);
    const text = await (await fetch(`${sc.metricsUrl}${pod.metadata.annotations['prometheus.io/path']}`)).text();
    expect(text).toMatch(new RegExp(`^${METRICS.invocations}\\{[^}]*gen_ai_agent_name="planner"[^}]*\\} 1$`, 'm'));
  });

  test('the cache honours the configured byte limit', async () => {
    const put = await fetch(`${sc.apiUrl}/v1/cache/llm/too-big`, { method: 'PUT', body: 'x'.repeat(2_000_000) });
    expect(put.status).toBeGreaterThanOrEqual(400);
    const stats = await (await fetch(`${sc.apiUrl}/v1/cache/stats`)).json();
    expect(JSON.stringify(stats)).toContain('1000000');
  });
});
