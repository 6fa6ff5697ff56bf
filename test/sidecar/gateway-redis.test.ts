/**
 * The gateway's response cache on the shared Redis tier: a deterministic answer one replica got
 * from the provider is served by another replica of the same agent without a provider call.
 */
import { describeWithBinary, RedisServer, redisCommand, SidecarProcess, startRedis, startSidecar, stopAll, waitFor } from '../support/servers';
import { FakeProvider, startFakeProvider } from './fake-providers';
import { redisUp } from './helpers';

describeWithBinary('redis-server', 'gateway cache on the shared Redis tier', () => {
  let redis: RedisServer;
  let fake: FakeProvider;
  let a: SidecarProcess;
  let b: SidecarProcess;

  beforeAll(async () => {
    redis = await startRedis();
    fake = await startFakeProvider('openai');
    const args = ['--redis-url', redis.url, '--redis-key-prefix', 'gw:', '--provider', `openai=${fake.url}`, '--provider-cache', 'openai=60'];
    a = await startSidecar(args);
    b = await startSidecar(args);
    await waitFor(async () => (await redisUp(a)) === 1 && (await redisUp(b)) === 1, { what: 'both sidecars connected to redis' });
  });

  afterAll(async () => {
    await stopAll(a, b, redis);
    await fake?.close();
  });

  test('replica b answers from the entry replica a stored, with the same bytes and no provider call', async () => {
    const call = (s: SidecarProcess) =>
      fetch(`${s.apiUrl}/v1/providers/openai/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: 'Bearer sk-a' },
        body: JSON.stringify({ model: 'gpt-4o', temperature: 0, messages: [{ role: 'user', content: 'shared' }] }),
      });
    const first = await call(a);
    expect(first.headers.get('x-sidecar-cache')).toBe('miss');
    const text = await first.text();
    await waitFor(async () => (await redisCommand(redis.port, 'KEYS gw:*_gateway/openai/*')).startsWith('*1'), { what: 'the entry in redis' });
    // The API key is not in the key, nor in the stored value.
    const keys = await redisCommand(redis.port, 'KEYS *');
    expect(keys).not.toContain('sk-a');
    const before = fake.received.length;
    const second = await call(b);
    expect(second.headers.get('x-sidecar-cache')).toBe('hit');
    expect(await second.text()).toBe(text);
    expect(fake.received.length).toBe(before);
  });
});
