/**
 * `sidecar.redis`: per-agent key prefixes by default (opt-in sharing), credentials only from
 * Secrets, a plain redisUrl with a password refused, the Redis service as a dependency, and the
 * metrics listener on the pod IP. The sidecar side is checked against a real redis-server.
 */
import { Chart, Testing } from 'cdk8s';
import * as YAML from 'yaml';
import { AgentService, AgentServiceProps } from '../constructs';
import { SIDECAR_CONTAINER_NAME, SIDECAR_ENV } from '../sidecar/contract';
import { AgentSystem } from '../system/agent-system';
import { describeWithBinary, RedisServer, redisCommand, SidecarProcess, startRedis, startSidecar, stopAll, waitFor } from './support/servers';
import { redisUp } from './sidecar/helpers';

const image = 'ghcr.io/example/planner:1.0.0';
const envOf = (c: any): Record<string, any> => Object.fromEntries(c.env.map((e: any) => [e.name, e.value ?? e.valueFrom]));

function build(agents: { id: string; props: Partial<AgentServiceProps> }[]) {
  const chart = new Chart(Testing.app(), 'agents', { namespace: 'team-a', disableResourceNameHashes: true });
  const services = agents.map((a) => new AgentService(chart, a.id, { image, ...a.props }));
  const manifests = Testing.synth(chart);
  const sidecarEnv = (name: string) => {
    const d = manifests.find((o) => o.kind === 'Deployment' && o.metadata.name === name);
    return envOf(d.spec.template.spec.containers.find((c: any) => c.name === SIDECAR_CONTAINER_NAME));
  };
  return { services, manifests, sidecarEnv };
}

describe('sidecar.redis in AgentService', () => {
  test('each agent gets its own key prefix by default; an explicit prefix shares on purpose', () => {
    const redis = { host: 'redis', passwordSecret: { secretName: 'redis-auth', key: 'password' } };
    const { sidecarEnv } = build([
      { id: 'planner', props: { sidecar: { redis } } },
      { id: 'writer', props: { sidecar: { redis } } },
      { id: 'critic', props: { sidecar: { redis: { ...redis, keyPrefix: 'shared-reviews:' } } } },
      { id: 'editor', props: { sidecar: { redis: { ...redis, keyPrefix: 'shared-reviews:' } } } },
    ]);
    expect(sidecarEnv('planner')[SIDECAR_ENV.redisKeyPrefix]).toBe('agent-cache:team-a/planner:');
    expect(sidecarEnv('writer')[SIDECAR_ENV.redisKeyPrefix]).toBe('agent-cache:team-a/writer:');
    expect(sidecarEnv('critic')[SIDECAR_ENV.redisKeyPrefix]).toBe('shared-reviews:');
    expect(sidecarEnv('editor')[SIDECAR_ENV.redisKeyPrefix]).toBe('shared-reviews:');
  });

  test('the legacy redisUrl (no credentials) gets the per-agent prefix too', () => {
    const { sidecarEnv } = build([{ id: 'planner', props: { sidecar: { redisUrl: 'redis://redis.cache.svc:6380/0' } } }]);
    expect(sidecarEnv('planner')).toMatchObject({ [SIDECAR_ENV.redisUrl]: 'redis://redis.cache.svc:6380/0', [SIDECAR_ENV.redisKeyPrefix]: 'agent-cache:team-a/planner:' });
  });

  test('credentials come from Secrets only: password and whole-URL variants', () => {
    const { sidecarEnv, manifests, services } = build([
      { id: 'planner', props: { sidecar: { redis: { host: 'redis.cache.svc.cluster.local', port: 6380, tls: true, db: 2, username: 'planner', passwordSecret: { secretName: 'redis-auth', key: 'password' } } } } },
      { id: 'writer', props: { sidecar: { redis: { urlSecret: { secretName: 'redis-url', key: 'url' }, host: 'redis.cache.svc', port: 6379 } } } },
    ]);
    const p = sidecarEnv('planner');
    expect(p[SIDECAR_ENV.redisUrl]).toBe('rediss://planner@redis.cache.svc.cluster.local:6380/2');
    expect(p[SIDECAR_ENV.redisPassword]).toEqual({ secretKeyRef: { name: 'redis-auth', key: 'password' } });
    const w = sidecarEnv('writer');
    expect(w[SIDECAR_ENV.redisUrl]).toEqual({ secretKeyRef: { name: 'redis-url', key: 'url' } });
    expect(w[SIDECAR_ENV.redisPassword]).toBeUndefined();
    expect(JSON.stringify(manifests)).not.toMatch(/redis:\/\/[^"]*:[^"@]*@/);
    // MeshPolicy renders this agent's egress from its dependencies.
    expect(services[0].spec.dependencies).toContainEqual({ kind: 'redis', service: 'redis', namespace: 'cache', port: 6380, source: 'sidecar.redisUrl' });
    expect(services[1].spec.dependencies).toContainEqual({ kind: 'redis', service: 'redis', namespace: 'cache', port: 6379, source: 'sidecar.redisUrl' });
  });

  test('a bare Service name is in the agent namespace; an external host is an egress host', () => {
    const { services } = build([
      { id: 'planner', props: { sidecar: { redis: { host: 'redis' } } } },
      { id: 'writer', props: { sidecar: { redis: { host: 'cache.example.com', port: 6380, tls: true, passwordSecret: { secretName: 's', key: 'k' } } } } },
      { id: 'critic', props: { sidecar: { redisUrl: 'redis://redis:6379' } } },
    ]);
    expect(services[0].spec.dependencies).toEqual([{ kind: 'redis', service: 'redis', namespace: 'team-a', port: 6379, source: 'sidecar.redisUrl' }]);
    expect(services[1].spec.egressHosts).toContainEqual({ host: 'cache.example.com', port: 6380, source: 'sidecar.redisUrl' });
    expect(services[1].spec.dependencies).toEqual([]);
    expect(services[2].spec.dependencies).toEqual([{ kind: 'redis', service: 'redis', namespace: 'team-a', port: 6379, source: 'sidecar.redisUrl' }]);
  });

  test('a redisUrl carrying a password is refused with a clear error naming the field; so are incomplete settings', () => {
    expect(() => build([{ id: 'planner', props: { sidecar: { redisUrl: 'redis://:hunter2@redis:6379/0' } } }])).toThrow(/sidecar\.redisUrl.*carries a password.*passwordSecret/s);
    expect(() => build([{ id: 'planner', props: { sidecar: { redis: { port: 6379 } } } }])).toThrow(/sidecar\.redis\.host.*required/s);
    expect(() => build([{ id: 'planner', props: { sidecar: { redis: { urlSecret: { secretName: 'u', key: 'k' }, passwordSecret: { secretName: 'p', key: 'k' } } } } }])).toThrow(/sidecar\.redis\.urlSecret/);
    expect(() => build([{ id: 'planner', props: { sidecar: { redisUrl: 'redis://r:6379', redis: { host: 'r' } } } }])).toThrow(/either redisUrl or redis/);
  });

  test('the metrics listener binds the pod IP (downward API), not 0.0.0.0', () => {
    const { sidecarEnv } = build([{ id: 'planner', props: {} }]);
    expect(sidecarEnv('planner')[SIDECAR_ENV.metricsHost]).toEqual({ fieldRef: { fieldPath: 'status.podIP' } });
  });

  test('system.yaml takes the same sidecar.redis', () => {
    const yaml = `
name: sys
namespace: sys
agents:
  - name: writer
    image: ghcr.io/example/writer:1.0.0
    sidecar:
      redis: { host: redis, passwordSecret: { secretName: redis-auth, key: password } }
  - name: critic
    image: ghcr.io/example/critic:1.0.0
    sidecar:
      redisUrl: "redis://:secret@redis:6379"
`;
    const bad = new Chart(Testing.app(), 'test', { disableResourceNameHashes: true });
    expect(() => new AgentSystem(bad, 'sys', YAML.parse(yaml))).toThrow(/agents\[1\]\.sidecar\.redisUrl.*carries a password/s);
    const good = YAML.parse(yaml);
    delete good.agents[1].sidecar;
    const chart = new Chart(Testing.app(), 'test', { disableResourceNameHashes: true });
    new AgentSystem(chart, 'sys', good);
    const d = Testing.synth(chart).find((o) => o.kind === 'Deployment' && o.metadata.name === 'writer');
    const env = envOf(d.spec.template.spec.containers.find((c: any) => c.name === SIDECAR_CONTAINER_NAME));
    expect(env).toMatchObject({
      [SIDECAR_ENV.redisUrl]: 'redis://redis:6379/0',
      [SIDECAR_ENV.redisKeyPrefix]: 'agent-cache:sys/writer:',
      [SIDECAR_ENV.redisPassword]: { secretKeyRef: { name: 'redis-auth', key: 'password' } },
    });
  });
});

describeWithBinary('redis-server', 'per-agent prefixes and the password Secret against a real Redis', () => {
  let redis: RedisServer;
  let planner: SidecarProcess;
  let writer: SidecarProcess;

  beforeAll(async () => {
    redis = await startRedis();
    expect(await redisCommand(redis.port, 'CONFIG SET requirepass s3cret')).toBe('+OK');
    // What AgentService sets for two agents sharing one Redis: the password from the Secret as env.
    const env = { [SIDECAR_ENV.redisPassword]: 's3cret', [SIDECAR_ENV.redisHealthIntervalMs]: '200' };
    planner = await startSidecar(['--redis-url', redis.url, '--redis-key-prefix', 'agent-cache:team-a/planner:'], env);
    writer = await startSidecar(['--redis-url', redis.url, '--redis-key-prefix', 'agent-cache:team-a/writer:'], env);
    await waitFor(async () => (await redisUp(planner)) === 1 && (await redisUp(writer)) === 1, { what: 'both authenticated' });
  });
  afterAll(async () => {
    await stopAll(planner, writer, redis);
  });

  test('one agent can neither read nor clear the other agent\u2019s entries', async () => {
    const other = await startSidecar(['--redis-url', redis.url, '--redis-key-prefix', 'agent-cache:team-a/planner:'], { [SIDECAR_ENV.redisPassword]: 's3cret' });
    try {
      // Same prefix (a replica of planner): shared. Another agent's prefix: a miss.
      await waitFor(async () => (await redisUp(other)) === 1, { what: 'replica up' });
      await waitFor(
        async () => {
          await fetch(`${planner.apiUrl}/v1/cache/docs/k?ttl=60`, { method: 'PUT', body: 'planner-only' });
          return (await fetch(`${other.apiUrl}/v1/cache/docs/k`)).status === 200;
        },
        { what: 'replica reads it' },
      );
    } finally {
      await other.stop();
    }
    expect((await fetch(`${writer.apiUrl}/v1/cache/docs/k`)).status).toBe(404);
    await fetch(`${writer.apiUrl}/v1/cache/docs`, { method: 'DELETE' });
    expect(await (await fetch(`${planner.apiUrl}/v1/cache/docs/k`)).text()).toBe('planner-only');
  });

  test('without the password the tier stays down (and the sidecar ready)', async () => {
    const noauth = await startSidecar(['--redis-url', redis.url]);
    try {
      await new Promise((r) => setTimeout(r, 800));
      expect(await redisUp(noauth)).toBe(0);
      expect((await fetch(`${noauth.metricsUrl}/readyz`)).status).toBe(200);
    } finally {
      await noauth.stop();
    }
  });
});
