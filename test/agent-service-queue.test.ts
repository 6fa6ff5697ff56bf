/** The proxy's queue from AgentService props: depth and wait reach the sidecar, and are refused where they would do nothing. */
import { Chart, Testing } from 'cdk8s';
import { AgentService, AgentServiceProps } from '../constructs';
import { SIDECAR_CONTAINER_NAME } from '../sidecar/contract';

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
