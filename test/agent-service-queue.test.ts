/**
 * The proxy's queue and route table from AgentService props: they reach the sidecar (the route table
 * is checked against the real process), and are refused where they would do nothing.
 */
import { Chart, Testing } from 'cdk8s';
import { AgentService, AgentServiceProps } from '../constructs';
import { SIDECAR_CONTAINER_NAME } from '../sidecar/contract';
import { stopAll } from './support/servers';
import { request, startProxySidecar, startUpstream } from './sidecar/upstream';

function sidecarEnv(props: Partial<AgentServiceProps>): Record<string, string> {
  const chart = new Chart(Testing.app(), 'c', { namespace: 'agents' });
  new AgentService(chart, 'planner', { image: 'ghcr.io/example/planner:1.0.0', ...props });
  const pod = Testing.synth(chart).find((o) => o.kind === 'Deployment').spec.template.spec;
  const sc = pod.containers.find((c: { name: string }) => c.name === SIDECAR_CONTAINER_NAME);
  return Object.fromEntries(sc.env.map((e: { name: string; value?: string }) => [e.name, e.value]));
}

describe('AgentService: the proxy queue', () => {
  test('defaults to 10 waiting requests per slot and a 10 s wait, like Knative\'s queue-proxy', () => {
    expect(sidecarEnv({})).toMatchObject({ SIDECAR_MAX_CONCURRENCY: '10', SIDECAR_MAX_QUEUE: '100', SIDECAR_QUEUE_TIMEOUT_MS: '10000' });
    expect(sidecarEnv({ maxConcurrentRequests: 4 })).toMatchObject({ SIDECAR_MAX_CONCURRENCY: '4', SIDECAR_MAX_QUEUE: '40' });
  });

  test('proxyMaxQueue and proxyQueueTimeoutSeconds are passed to the sidecar (0: no queue)', () => {
    expect(sidecarEnv({ sidecar: { proxyMaxQueue: 0, proxyQueueTimeoutSeconds: 2.5 } })).toMatchObject({ SIDECAR_MAX_QUEUE: '0', SIDECAR_QUEUE_TIMEOUT_MS: '2500' });
  });

  test('bad values, and queue settings without the proxy, are errors naming the construct and field', () => {
    expect(() => sidecarEnv({ sidecar: { proxyMaxQueue: -1, proxyQueueTimeoutSeconds: 0 } })).toThrow(/c\/planner[\s\S]*sidecar\.proxyMaxQueue[\s\S]*sidecar\.proxyQueueTimeoutSeconds/);
    expect(() => sidecarEnv({ sidecar: { proxy: false, proxyMaxQueue: 5 } })).toThrow(/sidecar\.proxyMaxQueue: has no effect without the inbound proxy/);
    expect(sidecarEnv({ sidecar: { proxy: false } }).SIDECAR_MAX_QUEUE).toBeUndefined();
  });
});

describe('AgentService: the proxy route table', () => {
  const routes = { '/v1/chat': 'chat', '/v1/chat/tools': 'execute_tool', '/plan': 'plan' };

  test('is written sorted as SIDECAR_PROXY_ROUTES, and the real sidecar names operations by it', async () => {
    const env = sidecarEnv({ sidecar: { proxyRoutes: routes } });
    expect(env.SIDECAR_PROXY_ROUTES).toBe('/plan=plan,/v1/chat=chat,/v1/chat/tools=execute_tool');
    expect(sidecarEnv({}).SIDECAR_PROXY_ROUTES).toBeUndefined();
    const up = await startUpstream();
    const proxyEnv = Object.fromEntries(Object.entries(env).filter(([k]) => /^SIDECAR_(PROXY_ROUTES|MAX_|QUEUE_|AGENT_NAME)/.test(k)));
    const sc = await startProxySidecar(up.url, [], { ...proxyEnv, SIDECAR_LOG_LEVEL: 'warn' });
    try {
      for (const p of ['/v1/chat/completions', '/v1/chat/tools/search', '/plan', '/plan/2', '/other']) expect((await request(`${sc.proxyUrl}${p}`)).status).toBe(200);
      expect((await request(`${sc.proxyUrl}/plan`, { headers: { 'x-agent-operation': 'create_agent' } })).status).toBe(200);
      const text = await (await fetch(`${sc.metricsUrl}/metrics`)).text();
      const count = (op: string) => Number(new RegExp(`^agent_invocations_total\\{[^}]*gen_ai_operation_name="${op}"[^}]*\\} (\\d+)`, 'm').exec(text)?.[1] ?? 0);
      expect({ chat: count('chat'), execute_tool: count('execute_tool'), plan: count('plan'), invoke_agent: count('invoke_agent'), create_agent: count('create_agent') })
        .toEqual({ chat: 1, execute_tool: 1, plan: 2, invoke_agent: 1, create_agent: 1 });
    } finally {
      await stopAll(sc, up);
    }
  }, 30000);

  test('bad prefixes and operation names are errors naming the field', () => {
    expect(() => sidecarEnv({ sidecar: { proxyRoutes: { 'v1/chat': 'chat', '/a b': 'x', '/ok': 'bad name' } } })).toThrow(/sidecar\.proxyRoutes[\s\S]*path prefix starting with \/[\s\S]*operation name/);
    expect(() => sidecarEnv({ sidecar: { proxy: false, proxyRoutes: { '/a': 'chat' } } })).toThrow(/sidecar\.proxyRoutes: has no effect without the inbound proxy/);
  });
});
