/**
 * AgentService `models`: the sidecar gateway flags, the agent's base-URL / API-key / model env
 * vars, per-agent egress hosts, validation, and the rendered environment driving the real
 * sidecar to a fake provider.
 */
import { Chart, Testing } from 'cdk8s';
import { AgentService, AgentServiceProps } from '../constructs';
import * as YAML from 'yaml';
import { PropsValidationError } from '../constructs/validation';
import { AgentSystem } from '../system/agent-system';
import { SIDECAR_CONTAINER_NAME, SIDECAR_ENV } from '../sidecar/contract';
import { FakeProvider, startFakeProvider } from './sidecar/fake-providers';
import { SidecarProcess, startSidecar } from './support/servers';

const image = 'ghcr.io/example/planner:1.0.0';

function build(props: Partial<AgentServiceProps>) {
  const chart = new Chart(Testing.app(), 'multi-agents', { namespace: 'multi-agents', disableResourceNameHashes: true });
  const svc = new AgentService(chart, 'planner', { image, ...props });
  const deployment = Testing.synth(chart).find((o) => o.kind === 'Deployment');
  const pod = deployment.spec.template.spec;
  const agent = pod.containers[0];
  const sidecar = pod.containers.find((c: any) => c.name === SIDECAR_CONTAINER_NAME);
  const envOf = (c: any): Record<string, any> => Object.fromEntries(c.env.map((e: any) => [e.name, e.value ?? e.valueFrom]));
  return { svc, agentEnv: envOf(agent), sidecarEnv: envOf(sidecar) };
}

const twoProviders: AgentServiceProps['models'] = {
  providers: [
    { provider: 'openai', model: 'gpt-4o-mini', apiKey: { secretName: 'model-keys', key: 'openai' }, cacheTtlSeconds: 3600 },
    { provider: 'anthropic', model: 'claude-sonnet-4-5', apiKey: { secretName: 'model-keys', key: 'anthropic' } },
    { provider: 'vllm', baseUrl: 'http://vllm.models.svc.cluster.local:8000/v1', envPrefix: 'VLLM' },
  ],
  maxTokensPerMinute: 200000,
  maxRequestsPerMinute: 600,
};

describe('models', () => {
  test('sidecar flags, agent env and egress for OpenAI, Anthropic and an in-cluster vLLM', () => {
    const { svc, agentEnv, sidecarEnv } = build({ models: twoProviders });
    expect(sidecarEnv[SIDECAR_ENV.providers]).toBe('openai=https://api.openai.com/v1,anthropic=https://api.anthropic.com,vllm=http://vllm.models.svc.cluster.local:8000/v1');
    expect(sidecarEnv[SIDECAR_ENV.providerApis]).toBe('openai=openai,anthropic=anthropic,vllm=openai');
    expect(sidecarEnv[SIDECAR_ENV.providerCache]).toBe('openai=3600');
    expect(sidecarEnv[SIDECAR_ENV.maxTokensPerMinute]).toBe('200000');
    expect(sidecarEnv[SIDECAR_ENV.maxRequestsPerMinute]).toBe('600');
    expect(sidecarEnv[SIDECAR_ENV.providerStreamUsage]).toBe('true');
    expect(agentEnv.OPENAI_BASE_URL).toBe('http://127.0.0.1:9465/v1/providers/openai');
    expect(agentEnv.ANTHROPIC_BASE_URL).toBe('http://127.0.0.1:9465/v1/providers/anthropic');
    expect(agentEnv.VLLM_BASE_URL).toBe('http://127.0.0.1:9465/v1/providers/vllm');
    expect(agentEnv.OPENAI_MODEL).toBe('gpt-4o-mini');
    expect(agentEnv.OPENAI_API_KEY).toEqual({ secretKeyRef: { name: 'model-keys', key: 'openai', optional: false } });
    expect(agentEnv.ANTHROPIC_API_KEY).toEqual({ secretKeyRef: { name: 'model-keys', key: 'anthropic', optional: false } });
    // API keys stay in the agent container: the sidecar only forwards the caller's headers.
    expect(Object.keys(sidecarEnv).filter((k) => /API_KEY/.test(k))).toEqual([]);
    expect(svc.spec.egressHosts).toEqual([
      { host: 'api.openai.com', port: 443, source: 'models.openai' },
      { host: 'api.anthropic.com', port: 443, source: 'models.anthropic' },
    ]);
    expect(svc.spec.dependencies).toEqual([{ kind: 'service', service: 'vllm', namespace: 'models', port: 8000, source: 'models.vllm' }]);
    expect(svc.spec.models?.timeToFirstTokenP95Seconds).toBeUndefined();
  });

  test('without models nothing changes', () => {
    const { svc, agentEnv, sidecarEnv } = build({});
    expect(svc.spec.egressHosts).toEqual([]);
    expect(agentEnv.OPENAI_BASE_URL).toBeUndefined();
    expect(sidecarEnv[SIDECAR_ENV.providers]).toBeUndefined();
  });

  test('field problems are reported together, then the cross-field ones, each naming its field', () => {
    let err: PropsValidationError | undefined;
    try {
      build({
        env: { OPENAI_BASE_URL: 'http://elsewhere' },
        sidecar: false,
        models: {
          providers: [
            { provider: 'openai' },
            { provider: 'openai' },
            { provider: 'mistral' },
            { provider: 'azure', baseUrl: 'http://my.openai.azure.com/openai' },
            { provider: 'Bad Name', baseUrl: 'https://x.example' },
          ],
          maxTokensPerMinute: -1,
        },
      });
    } catch (e) {
      err = e as PropsValidationError;
    }
    expect(err).toBeInstanceOf(PropsValidationError);
    const text = err!.message;
    expect(text).toMatch(/multi-agents\/planner: models.providers\[4\].provider: must be lowercase/);
    expect(text).toMatch(/models.maxTokensPerMinute/);
    // Cross-field checks run once the fields parse: check them separately.
    let err2: PropsValidationError | undefined;
    try {
      build({
        env: { OPENAI_BASE_URL: 'http://elsewhere' },
        sidecar: false,
        models: { providers: [{ provider: 'openai' }, { provider: 'openai' }, { provider: 'mistral' }, { provider: 'azure', baseUrl: 'http://my.openai.azure.com/openai' }] },
      });
    } catch (e) {
      err2 = e as PropsValidationError;
    }
    const t2 = err2!.message;
    expect(t2).toMatch(/models.providers\[1\].provider: "openai" is listed twice/);
    expect(t2).toMatch(/models.providers\[2\].baseUrl: is required for provider "mistral"/);
    expect(t2).toMatch(/models.providers\[3\].baseUrl: must be https/);
    expect(t2).toMatch(/models.providers\[1\].envPrefix \("OPENAI"\) is also used by providers\[0\]/);
    expect(t2).toMatch(/models: needs the sidecar/);
    expect(t2).toMatch(/env.OPENAI_BASE_URL: is set by models/);
  });
});

describe('the rendered environment drives the real sidecar gateway', () => {
  let fake: FakeProvider;
  let sc: SidecarProcess;
  // No inbound proxy here: its readiness would wait for an agent this test does not run.
  const { agentEnv, sidecarEnv } = build({ sidecar: { proxy: false }, models: { providers: [{ provider: 'openai', cacheTtlSeconds: 60 }], maxRequestsPerMinute: 2 } });

  beforeAll(async () => {
    fake = await startFakeProvider('openai');
    // The manifest's environment as it is, with the provider URL moved to the fake on loopback.
    sc = await startSidecar([], { ...sidecarEnv, [SIDECAR_ENV.providers]: `openai=${fake.url}/v1` });
  });
  afterAll(async () => {
    await sc?.stop();
    await fake?.close();
  });

  test("the agent's OPENAI_BASE_URL reaches the provider's /v1/chat/completions, with the budget applied", async () => {
    const base = agentEnv.OPENAI_BASE_URL.replace(':9465', `:${sc.apiPort}`);
    const call = (content: string) =>
      fetch(`${base}/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer k' }, body: JSON.stringify({ model: 'gpt-4o', temperature: 0, messages: [{ role: 'user', content }] }) });
    const res = await call('a');
    expect(res.status).toBe(200);
    expect(fake.received[0].url).toBe('/v1/chat/completions');
    expect((await call('a')).headers.get('x-sidecar-cache')).toBe('hit');
    expect((await call('b')).status).toBe(200);
    expect((await call('c')).status).toBe(429);
  });
});

describe('models in system.yaml', () => {
  const yaml = `
name: sys
namespace: sys
agents:
  - name: writer
    image: ghcr.io/example/writer:1.0.0
    models:
      providers:
        - provider: anthropic
          model: claude-sonnet-4-5
          apiKey: { secretName: model-keys, key: anthropic }
          cacheTtlSeconds: 600
      maxTokensPerMinute: 50000
`;

  test('sets the same sidecar and agent env as the props', () => {
    const chart = new Chart(Testing.app(), 'test', { disableResourceNameHashes: true });
    new AgentSystem(chart, 'sys', YAML.parse(yaml));
    const d = Testing.synth(chart).find((o) => o.kind === 'Deployment' && o.metadata.name === 'writer');
    const [agent, sidecar] = d.spec.template.spec.containers;
    const env = (c: any) => Object.fromEntries(c.env.map((e: any) => [e.name, e.value ?? e.valueFrom]));
    expect(env(agent).ANTHROPIC_BASE_URL).toBe('http://127.0.0.1:9465/v1/providers/anthropic');
    expect(env(agent).ANTHROPIC_API_KEY).toEqual({ secretKeyRef: { name: 'model-keys', key: 'anthropic', optional: false } });
    expect(env(sidecar)[SIDECAR_ENV.providers]).toBe('anthropic=https://api.anthropic.com');
    expect(env(sidecar)[SIDECAR_ENV.providerCache]).toBe('anthropic=600');
    expect(env(sidecar)[SIDECAR_ENV.maxTokensPerMinute]).toBe('50000');
  });

  test('a bad models entry is reported with its system.yaml path', () => {
    const bad = YAML.parse(yaml);
    bad.agents[0].models.providers[0].cacheTtlSeconds = 0;
    const chart = new Chart(Testing.app(), 'test', { disableResourceNameHashes: true });
    expect(() => new AgentSystem(chart, 'sys', bad)).toThrow(/agents\[0\]\.models\.providers\[0\]\.cacheTtlSeconds/);
  });
});
