import { App, Chart, Testing } from 'cdk8s';
import { AgentService, AgentServiceProps, PropsValidationError } from '../constructs';
import { SIDECAR_API_PORT, SIDECAR_CONTAINER_NAME, SIDECAR_METRICS_PORT, SIDECAR_PROXY_PORT } from '../sidecar/contract';

const IMAGE = 'ghcr.io/example/planner:1.0.0';

function chartWith(props: Partial<AgentServiceProps> = {}, id = 'planner') {
  const app = Testing.app();
  const chart = new Chart(app, 'multi-agents', { namespace: 'multi-agents', disableResourceNameHashes: true });
  const agent = new AgentService(chart, id, { image: IMAGE, ...props });
  return { app, chart, agent, objects: Testing.synth(chart) };
}

const byKind = (objects: any[], kind: string) => objects.filter((o) => o.kind === kind);
const one = (objects: any[], kind: string, name?: string) => {
  const found = objects.filter((o) => o.kind === kind && (name === undefined || o.metadata.name === name));
  expect(found).toHaveLength(1);
  return found[0];
};

describe('AgentService defaults', () => {
  const { objects, agent } = chartWith();
  const deployment = one(objects, 'Deployment');
  const pod = deployment.spec.template.spec;
  const [agentContainer, sidecar] = pod.containers;

  test('snapshot', () => {
    expect(objects).toMatchSnapshot();
  });

  test('stable human names, no hash suffixes', () => {
    expect(objects.map((o) => `${o.kind}/${o.metadata.name}`).sort()).toEqual([
      'Deployment/planner',
      'HorizontalPodAutoscaler/planner-hpa',
      'PodDisruptionBudget/planner-pdb',
      'Service/planner',
      'ServiceAccount/planner',
    ]);
    for (const o of objects) expect(o.metadata.namespace).toBe('multi-agents');
  });

  test('recommended labels on every object', () => {
    for (const o of objects) {
      expect(o.metadata.labels).toMatchObject({
        'app.kubernetes.io/name': 'planner',
        'app.kubernetes.io/instance': 'planner',
        'app.kubernetes.io/component': 'agent',
        'app.kubernetes.io/part-of': 'multi-agents',
        'app.kubernetes.io/managed-by': 'cdk8s-agents',
      });
    }
    expect(deployment.spec.template.metadata.labels['app.kubernetes.io/version']).toBe('1.0.0');
    expect(JSON.stringify(objects)).not.toContain('cdk8s.io/metadata.addr');
  });

  test('autoscaled: no fixed replicas, HPA on CPU and memory with slow scale-down', () => {
    expect(deployment.spec.replicas).toBeUndefined();
    const hpa = one(objects, 'HorizontalPodAutoscaler');
    expect(hpa.apiVersion).toBe('autoscaling/v2');
    expect(hpa.spec).toMatchObject({ minReplicas: 2, maxReplicas: 10, scaleTargetRef: { kind: 'Deployment', name: 'planner' } });
    expect(hpa.spec.metrics).toEqual([
      { type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 70 } } },
      { type: 'Resource', resource: { name: 'memory', target: { type: 'Utilization', averageUtilization: 80 } } },
    ]);
    expect(hpa.spec.behavior.scaleDown.stabilizationWindowSeconds).toBeGreaterThanOrEqual(300);
  });

  test('rolling update never drops below desired capacity; spread over nodes and zones', () => {
    expect(deployment.spec.strategy).toEqual({ type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } });
    expect(pod.topologySpreadConstraints.map((t: any) => t.topologyKey)).toEqual(['kubernetes.io/hostname', 'topology.kubernetes.io/zone']);
    for (const t of pod.topologySpreadConstraints) expect(t.labelSelector.matchLabels).toEqual(agent.spec.selectorLabels);
  });

  test('PDB selects the stable pods and keeps all but one', () => {
    const pdb = one(objects, 'PodDisruptionBudget');
    expect(pdb.apiVersion).toBe('policy/v1');
    expect(pdb.spec.maxUnavailable).toBe(1);
    expect(pdb.spec.selector.matchLabels).toEqual(deployment.spec.selector.matchLabels);
  });

  test('Service: ClusterIP with named http and metrics ports, selecting the pods', () => {
    const svc = one(objects, 'Service');
    expect(svc.spec.type).toBe('ClusterIP');
    expect(svc.spec.ports).toEqual([
      // The front door: callers keep port 8080, which lands on the sidecar proxy.
      { name: 'http', port: 8080, targetPort: SIDECAR_PROXY_PORT, protocol: 'TCP', appProtocol: 'http' },
      { name: 'http-metrics', port: SIDECAR_METRICS_PORT, targetPort: SIDECAR_METRICS_PORT, protocol: 'TCP', appProtocol: 'http' },
    ]);
    for (const [k, v] of Object.entries(svc.spec.selector)) expect(deployment.spec.template.metadata.labels[k]).toBe(v);
  });

  test('ServiceAccount does not mount its token', () => {
    expect(one(objects, 'ServiceAccount').automountServiceAccountToken).toBe(false);
    expect(pod.automountServiceAccountToken).toBe(false);
    expect(pod.serviceAccountName).toBe('planner');
  });

  test('AGENT_ID, NAMESPACE from the downward API, sidecar URL', () => {
    expect(agentContainer.env).toEqual(expect.arrayContaining([
      { name: 'AGENT_ID', value: 'planner' },
      { name: 'NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
      { name: 'AGENT_SIDECAR_URL', value: `http://127.0.0.1:${SIDECAR_API_PORT}` },
    ]));
  });

  test('default resources and probes', () => {
    expect(agentContainer.resources).toEqual({ requests: { cpu: '100m', memory: '256Mi', 'ephemeral-storage': '256Mi' }, limits: { cpu: '500m', memory: '1Gi', 'ephemeral-storage': '1Gi' } });
    // Through the proxy: nothing outside the pod needs the agent's own port.
    expect(agentContainer.livenessProbe.httpGet).toMatchObject({ path: '/health', port: SIDECAR_PROXY_PORT });
    expect(agentContainer.readinessProbe.httpGet).toMatchObject({ path: '/ready', port: SIDECAR_PROXY_PORT });
    expect(agentContainer.startupProbe.httpGet).toMatchObject({ path: '/health', port: SIDECAR_PROXY_PORT });
    expect(agentContainer.startupProbe.failureThreshold * agentContainer.startupProbe.periodSeconds).toBe(300);
  });

  test('long grace period with a preStop drain', () => {
    expect(pod.terminationGracePeriodSeconds).toBeGreaterThanOrEqual(120);
    expect(agentContainer.lifecycle.preStop.exec.command).toEqual(['sleep', '15']);
  });

  test('restricted security context on every container, read-only root with /tmp emptyDir', () => {
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
    for (const c of pod.containers) {
      expect(c.securityContext).toMatchObject({
        runAsNonRoot: true,
        allowPrivilegeEscalation: false,
        privileged: false,
        readOnlyRootFilesystem: true,
        capabilities: { drop: ['ALL'] },
        seccompProfile: { type: 'RuntimeDefault' },
      });
      expect(c.securityContext.capabilities.add).toBeUndefined();
      expect(c.resources.requests).toEqual(expect.objectContaining({ cpu: expect.any(String), memory: expect.any(String) }));
      expect(c.resources.limits).toEqual(expect.objectContaining({ cpu: expect.any(String), memory: expect.any(String) }));
    }
    // The agent gets a writable /tmp on an emptyDir; the sidecar writes nothing to disk.
    const tmp = agentContainer.volumeMounts.find((m: any) => m.mountPath === '/tmp');
    expect(pod.volumes.find((v: any) => v.name === tmp.name).emptyDir).toEqual({ sizeLimit: '256Mi' });
    expect(sidecar.volumeMounts).toBeUndefined();
  });

  test('sidecar container: metrics port on the pod, API on loopback, probes, scrape annotations', () => {
    expect(sidecar.name).toBe(SIDECAR_CONTAINER_NAME);
    expect(sidecar.image).toMatch(/^ghcr\.io\/cdk8s-agents\/agent-sidecar:\d+\.\d+\.\d+$/);
    expect(sidecar.ports).toEqual([
      { name: 'metrics', containerPort: SIDECAR_METRICS_PORT, protocol: 'TCP' },
      { name: 'http', containerPort: SIDECAR_PROXY_PORT, protocol: 'TCP' },
    ]);
    const env = Object.fromEntries(sidecar.env.map((e: any) => [e.name, e.value]));
    expect(env).toMatchObject({ SIDECAR_API_HOST: '127.0.0.1', SIDECAR_API_PORT: String(SIDECAR_API_PORT), SIDECAR_METRICS_PORT: String(SIDECAR_METRICS_PORT), SIDECAR_AGENT_NAME: 'planner' });
    // Keeps serving through the agent's drain; V8 old space at 75% of the 256Mi limit.
    expect(env).toMatchObject({ SIDECAR_SHUTDOWN_DELAY_MS: '15000', NODE_OPTIONS: '--max-old-space-size=192' });
    // The inbound proxy: limit, readiness, unmeasured probe paths, and in-flight calls may run until the pod's grace ends.
    expect(env).toMatchObject({
      SIDECAR_PROXY: 'true', SIDECAR_PROXY_PORT: String(SIDECAR_PROXY_PORT), SIDECAR_UPSTREAM: 'http://127.0.0.1:8080',
      SIDECAR_MAX_CONCURRENCY: '10', SIDECAR_MAX_QUEUE: '100', SIDECAR_QUEUE_TIMEOUT_MS: '10000', SIDECAR_UPSTREAM_READY_PATH: '/ready', SIDECAR_PROXY_UNMEASURED_PATHS: '/health,/ready', SIDECAR_SHUTDOWN_GRACE_MS: '310000',
    });
    expect(sidecar.command).toBeUndefined();
    expect(sidecar.args).toBeUndefined();
    expect(sidecar.livenessProbe.httpGet).toMatchObject({ path: '/healthz', port: SIDECAR_METRICS_PORT });
    expect(sidecar.readinessProbe.httpGet).toMatchObject({ path: '/readyz', port: SIDECAR_METRICS_PORT });
    expect(deployment.spec.template.metadata.annotations).toMatchObject({
      'prometheus.io/scrape': 'true', 'prometheus.io/port': String(SIDECAR_METRICS_PORT), 'prometheus.io/path': '/metrics',
    });
  });

  test('spec is the normalized, fully defaulted model', () => {
    expect(agent.spec).toMatchObject({
      name: 'planner', namespace: 'multi-agents', port: 8080, version: '1.0.0',
      scaling: { kind: 'hpa', minReplicas: 2, maxReplicas: 10, targetCpuPercent: 70, targetMemoryPercent: 80 },
      serviceAccount: { name: 'planner', create: true, automountToken: false },
      host: 'planner.multi-agents.svc.cluster.local',
    });
    expect(Object.isFrozen(agent.spec)).toBe(true);
  });
});

describe('AgentService options', () => {
  test('fixed replicas: no HPA, replicas on the Deployment, PDB only above one replica', () => {
    const three = chartWith({ replicas: 3 }).objects;
    expect(byKind(three, 'HorizontalPodAutoscaler')).toHaveLength(0);
    expect(one(three, 'Deployment').spec.replicas).toBe(3);
    expect(byKind(three, 'PodDisruptionBudget')).toHaveLength(1);
    const single = chartWith({ replicas: 1 }).objects;
    expect(byKind(single, 'PodDisruptionBudget')).toHaveLength(0);
  });

  test('sidecar: { proxy: false } keeps the direct path: the Service and the probes target the agent', () => {
    const { objects } = chartWith({ port: 3000, sidecar: { proxy: false } });
    const d = one(objects, 'Deployment');
    const [c, sc] = d.spec.template.spec.containers;
    expect(one(objects, 'Service').spec.ports[0]).toEqual({ name: 'http', port: 3000, targetPort: 3000, protocol: 'TCP', appProtocol: 'http' });
    expect(c.ports).toEqual([{ name: 'http', containerPort: 3000, protocol: 'TCP' }]);
    expect(c.readinessProbe.httpGet.port).toBe(3000);
    expect(sc.ports.map((p: any) => p.containerPort)).toEqual([SIDECAR_METRICS_PORT]);
    expect(sc.env.map((e: any) => e.name)).not.toContain('SIDECAR_PROXY');
  });

  test("with the proxy, a health port equal to the agent's port is probed through the proxy; the proxy port is reserved", () => {
    const c = one(chartWith({ port: 3000, healthCheck: { port: 3000 } }).objects, 'Deployment').spec.template.spec.containers[0];
    expect(c.livenessProbe.httpGet.port).toBe(SIDECAR_PROXY_PORT);
    expect(() => chartWith({ port: SIDECAR_PROXY_PORT })).toThrow(/reserved for the sidecar/);
  });

  test('env, secretEnv, resources, health check, labels and annotations', () => {
    const { objects } = chartWith({
      port: 3000,
      env: { LOG_LEVEL: 'debug' },
      secretEnv: { OPENAI_API_KEY: { secretName: 'llm', key: 'openai' } },
      resources: { requests: { cpu: '1', memory: '2Gi' }, limits: { cpu: '2', memory: '4Gi' } },
      healthCheck: { livenessPath: '/livez', readinessPath: '/readyz', port: 3001 },
      labels: { 'example.com/cost-center': 'ai' },
      annotations: { 'example.com/owner': 'team-a' },
    });
    const d = one(objects, 'Deployment');
    const c = d.spec.template.spec.containers[0];
    expect(c.ports).toEqual([{ name: 'agent', containerPort: 3000, protocol: 'TCP' }]);
    expect(c.env).toEqual(expect.arrayContaining([
      { name: 'LOG_LEVEL', value: 'debug' },
      { name: 'OPENAI_API_KEY', valueFrom: { secretKeyRef: { name: 'llm', key: 'openai', optional: false } } },
    ]));
    expect(c.resources).toEqual({ requests: { cpu: '1', memory: '2Gi', 'ephemeral-storage': '256Mi' }, limits: { cpu: '2', memory: '4Gi', 'ephemeral-storage': '1Gi' } });
    expect(c.livenessProbe.httpGet).toMatchObject({ path: '/livez', port: 3001 });
    expect(c.readinessProbe.httpGet).toMatchObject({ path: '/readyz', port: 3001 });
    for (const o of objects) expect(o.metadata.labels['example.com/cost-center']).toBe('ai');
    expect(d.spec.template.metadata.annotations['example.com/owner']).toBe('team-a');
    expect(one(objects, 'Service').spec.ports[0]).toEqual({ name: 'http', port: 3000, targetPort: SIDECAR_PROXY_PORT, protocol: 'TCP', appProtocol: 'http' });
  });

  test('existing service account: none created, token mount on request', () => {
    const { objects } = chartWith({ serviceAccountName: 'shared-agents', automountServiceAccountToken: true });
    expect(byKind(objects, 'ServiceAccount')).toHaveLength(0);
    const pod = one(objects, 'Deployment').spec.template.spec;
    expect(pod.serviceAccountName).toBe('shared-agents');
    expect(pod.automountServiceAccountToken).toBe(true);
  });

  test('sidecar disabled: one container, no metrics port, no scrape annotations', () => {
    const { objects } = chartWith({ sidecar: false });
    const d = one(objects, 'Deployment');
    expect(d.spec.template.spec.containers.map((c: any) => c.name)).toEqual(['agent']);
    expect(one(objects, 'Service').spec.ports.map((p: any) => p.name)).toEqual(['http']);
    expect(d.spec.template.metadata.annotations?.['prometheus.io/scrape']).toBeUndefined();
  });

  test('sidecar settings reach its environment', () => {
    const { objects } = chartWith({ sidecar: { cacheMaxEntries: 500, cacheMaxBytes: 1048576, cacheDefaultTtlSeconds: 60, redisUrl: 'redis://redis:6379', resources: { limits: { memory: '128Mi' } } } });
    const sidecar = one(objects, 'Deployment').spec.template.spec.containers[1];
    const env = Object.fromEntries(sidecar.env.map((e: any) => [e.name, e.value]));
    expect(env).toMatchObject({ SIDECAR_CACHE_MAX_ENTRIES: '500', SIDECAR_CACHE_MAX_BYTES: '1048576', SIDECAR_CACHE_DEFAULT_TTL_SECONDS: '60', SIDECAR_REDIS_URL: 'redis://redis:6379' });
    expect(sidecar.resources.limits.memory).toBe('128Mi');
    expect(env.NODE_OPTIONS).toBe('--max-old-space-size=96');
  });

  test('drainSeconds 0 removes the preStop hook', () => {
    const c = one(chartWith({ drainSeconds: 0 }).objects, 'Deployment').spec.template.spec.containers[0];
    expect(c.lifecycle).toBeUndefined();
  });

  test('canary: a second Deployment with its own version, selected by the Service but not by the stable Deployment', () => {
    const { objects, agent } = chartWith({ replicas: 2, canary: { image: 'ghcr.io/example/planner:1.1.0' } });
    const stable = one(objects, 'Deployment', 'planner');
    const canary = one(objects, 'Deployment', 'planner-canary');
    expect(agent.spec.canary).toEqual({ image: 'ghcr.io/example/planner:1.1.0', version: '1.1.0', replicas: 1 });
    expect(canary.spec.replicas).toBe(1);
    expect(canary.spec.template.metadata.labels['app.kubernetes.io/version']).toBe('1.1.0');
    const matches = (selector: Record<string, string>, labels: Record<string, string>) => Object.entries(selector).every(([k, v]) => labels[k] === v);
    expect(matches(stable.spec.selector.matchLabels, canary.spec.template.metadata.labels)).toBe(false);
    expect(matches(canary.spec.selector.matchLabels, stable.spec.template.metadata.labels)).toBe(false);
    const svc = one(objects, 'Service');
    expect(matches(svc.spec.selector, canary.spec.template.metadata.labels)).toBe(true);
    expect(matches(svc.spec.selector, stable.spec.template.metadata.labels)).toBe(true);
  });

  test('digest-pinned image: version from the digest', () => {
    const digest = 'sha256:' + 'ab'.repeat(32);
    const { agent } = chartWith({ image: `ghcr.io/example/planner@${digest}` });
    expect(agent.spec.version).toBe('ab'.repeat(6));
  });
});

describe('AgentService.fromConfig (reference design agent config)', () => {
  test('maps the snake_case shape', () => {
    const app = Testing.app();
    const chart = new Chart(app, 'multi-agents', { namespace: 'multi-agents', disableResourceNameHashes: true });
    const agent = AgentService.fromConfig(chart, {
      agent_id: 'researcher',
      image: 'ghcr.io/example/researcher',
      tag: '2.0.1',
      resources: { cpu_request: '200m', cpu_limit: '1', memory_request: '512Mi', memory_limit: '2Gi' },
      environment: { MODEL: 'gpt-4o' },
      ports: [9000],
      health_check: { path: '/healthz', readiness_path: '/readyz', port: 9000 },
      scaling: { initial_replicas: 3, min_replicas: 3, max_replicas: 8, target_cpu: 60 },
    });
    expect(agent.node.path).toBe('multi-agents/researcher');
    expect(agent.spec).toMatchObject({
      name: 'researcher', image: 'ghcr.io/example/researcher:2.0.1', port: 9000,
      env: { MODEL: 'gpt-4o' },
      resources: { requests: { cpu: '200m', memory: '512Mi' }, limits: { cpu: '1', memory: '2Gi' } },
      healthCheck: { livenessPath: '/healthz', readinessPath: '/readyz', port: SIDECAR_PROXY_PORT },
      scaling: { kind: 'hpa', minReplicas: 3, maxReplicas: 8, targetCpuPercent: 60 },
    });
  });

  test.each([
    [{ agent_id: 'a', image: 'repo/a' }, /has no tag or digest/],
    [{ agent_id: 'a', image: 'repo/a', tag: 'latest' }, /mutable tag "latest"/],
    [{ agent_id: 'a', image: 'repo/a', tag: '1', replicas: 3 }, /unknown field "replicas"/],
    [{ agent_id: 'a', image: 'repo/a', tag: '1', ports: [80, 81] }, /ports: only one agent port/],
    [{ agent_id: 'a', image: 'repo/a', tag: '1', scaling: { min_replicas: 5, max_replicas: 2 } }, /autoscaling.maxReplicas \(2\) must be >= minReplicas \(5\)/],
  ])('rejects %j', (config, message) => {
    const chart = new Chart(Testing.app(), 'multi-agents', { namespace: 'multi-agents' });
    expect(() => AgentService.fromConfig(chart, config as any)).toThrow(message);
  });
});

describe('AgentService rejects bad props with the construct path and field', () => {
  const cases: Array<[string, Partial<AgentServiceProps> & Record<string, unknown>, RegExp]> = [
    ['untagged image', { image: 'ghcr.io/example/planner' }, /^multi-agents\/planner: image: "ghcr.io\/example\/planner" has no tag or digest/m],
    ['latest tag', { image: 'planner:latest' }, /^multi-agents\/planner: image: "planner:latest" uses the mutable tag "latest"/m],
    ['malformed image', { image: 'Planner Agent:1' }, /^multi-agents\/planner: image: "Planner Agent:1" is not a valid image reference/m],
    ['minReplicas > maxReplicas', { autoscaling: { minReplicas: 2, maxReplicas: 1 } }, /^multi-agents\/planner: autoscaling.maxReplicas \(1\) must be >= minReplicas \(2\)$/m],
    ['replicas and autoscaling', { replicas: 2, autoscaling: {} }, /^multi-agents\/planner: replicas: set either replicas \(a fixed count\) or autoscaling, not both/m],
    ['zero replicas', { replicas: 0 }, /^multi-agents\/planner: replicas: must be a positive integer/m],
    ['negative maxReplicas', { autoscaling: { maxReplicas: -3 } }, /^multi-agents\/planner: autoscaling.maxReplicas: must be a positive integer/m],
    ['fractional replicas', { replicas: 1.5 }, /^multi-agents\/planner: replicas: must be a positive integer/m],
    ['non-positive grace period', { terminationGracePeriodSeconds: 0 }, /terminationGracePeriodSeconds: must be a positive integer/],
    ['bad CPU quantity', { resources: { limits: { cpu: 'two' } } }, /^multi-agents\/planner: resources.limits.cpu: must be a CPU quantity such as "250m" or "1"$/],
    ['bad memory quantity', { resources: { requests: { memory: '1GB' } } }, /^multi-agents\/planner: resources.requests.memory: must be a memory quantity/m],
    ['zero CPU', { resources: { requests: { cpu: '0m' } } }, /resources.requests.cpu: must be greater than 0/],
    ['request above limit', { resources: { requests: { memory: '2Gi' } } }, /resources.requests.memory \(2Gi\) must not exceed limits.memory \(1Gi\)/],
    ['invalid name', { name: 'Planner_1' }, /^multi-agents\/planner: name: must be a DNS-1035 label/m],
    ['name too long', { name: 'a'.repeat(51) }, /name: must be at most 50 characters/],
    ['invalid namespace', { namespace: 'Agents!' }, /namespace: must be a DNS-1123 label/],
    ['port out of range', { port: 70000 }, /^multi-agents\/planner: port: must be between 1 and 65535/m],
    ['port zero', { port: 0 }, /port: must be between 1 and 65535/],
    ['port taken by the sidecar', { port: SIDECAR_METRICS_PORT }, /^multi-agents\/planner: port \(9464\) is reserved for the sidecar/],
    ['env name not an identifier', { env: { 'MODEL-NAME': 'x' } }, /env.MODEL-NAME: environment variable names must be identifiers/],
    ['env name reserved', { env: { AGENT_ID: 'x' } }, /env.AGENT_ID: is set by AgentService itself/],
    ['secretEnv bad secret name', { secretEnv: { KEY: { secretName: 'Bad_Name', key: 'k' } } }, /secretEnv.KEY.secretName: must be a DNS-1123 subdomain/],
    ['label value too long', { labels: { team: 'x'.repeat(64) } }, /labels.team: label values must be at most 63 characters/],
    ['unknown prop', { replica: 2 }, /^multi-agents\/planner: unknown field "replica"$/m],
    ['sidecar cache too big for its memory limit', { sidecar: { cacheMaxBytes: 200 * 2 ** 20 } }, /sidecar.cacheMaxBytes \(209715200\) plus ~80 MiB of working memory does not fit the sidecar heap \(75% of resources.limits.memory 256Mi\)/],
    ['sidecar value limit above the cache size', { sidecar: { cacheMaxBytes: 4096, cacheMaxValueBytes: 8192 } }, /sidecar.cacheMaxValueBytes \(8192\) must not exceed cacheMaxBytes \(4096\)/],
    ['SLO of 100%', { slo: { availability: 100 } }, /slo.availability: must be below 100/],
    ['canary with the stable version', { canary: { image: 'ghcr.io/example/planner:1.0.0' } }, /canary.version \("1.0.0"\) must differ from the stable version/],
  ];

  test.each(cases)('%s', (_name, props, message) => {
    const app = Testing.app();
    const chart = new Chart(app, 'multi-agents', { namespace: 'multi-agents' });
    let error: unknown;
    try {
      new AgentService(chart, 'planner', { image: IMAGE, ...props } as AgentServiceProps);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(PropsValidationError);
    expect((error as Error).message).toMatch(message);
    // Nothing was written: the failed construct left no API objects behind.
    expect(chart.node.findAll().filter((c) => c !== chart)).toHaveLength(0);
    expect(Testing.synth(chart)).toEqual([]);
  });

  test('several problems are reported together', () => {
    const chart = new Chart(Testing.app(), 'multi-agents', { namespace: 'multi-agents' });
    expect(() => new AgentService(chart, 'planner', { image: 'x', port: -1, replicas: 0 })).toThrow(
      /image: .*\n.*port: must be between 1 and 65535\n.*replicas: must be a positive integer/,
    );
  });

  test('duplicate agent ids in one chart', () => {
    const chart = new Chart(Testing.app(), 'multi-agents', { namespace: 'multi-agents' });
    new AgentService(chart, 'planner', { image: IMAGE });
    expect(() => new AgentService(chart, 'planner2', { image: IMAGE, name: 'planner' })).toThrow(
      'multi-agents/planner2: name: agent id "planner" is already used in namespace "multi-agents" by multi-agents/planner',
    );
  });

  test('the same id in two charts is fine', () => {
    const app = new App();
    for (const ns of ['a', 'b']) new AgentService(new Chart(app, ns, { namespace: ns }), 'planner', { image: IMAGE });
    expect(app.charts).toHaveLength(2);
  });
});

describe('agent-aware autoscaling (KEDA, in-flight invocations)', () => {
  test('ScaledObject on the sidecar in-flight gauge instead of an HPA', () => {
    const { objects, agent } = chartWith({ autoscaling: { metric: 'inflight', targetPerReplica: 4, maxReplicas: 20 } });
    expect(byKind(objects, 'HorizontalPodAutoscaler')).toHaveLength(0);
    expect(one(objects, 'Deployment').spec.replicas).toBeUndefined();
    const so = one(objects, 'ScaledObject', 'planner-scaler');
    expect(so.apiVersion).toBe('keda.sh/v1alpha1');
    expect(so.spec).toMatchObject({
      scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'planner' },
      minReplicaCount: 2,
      maxReplicaCount: 20,
      advanced: { horizontalPodAutoscalerConfig: { name: 'planner-hpa' } },
    });
    expect(so.spec.triggers).toEqual([{
      type: 'prometheus',
      name: 'inflight',
      metricType: 'AverageValue',
      metadata: {
        serverAddress: 'http://prometheus-operated.monitoring.svc:9090',
        query: 'sum(agent_inflight_invocations{namespace="multi-agents",agent="planner"})',
        threshold: '4',
        activationThreshold: '0',
      },
    }]);
    expect(agent.spec.scaling).toMatchObject({ kind: 'inflight', targetPerReplica: 4, scaleToZero: false });
    expect(byKind(objects, 'PodDisruptionBudget')).toHaveLength(1);
  });

  test('scale to zero: minReplicaCount 0 and a request-rate trigger that wakes the agent', () => {
    const { objects } = chartWith({ autoscaling: { metric: 'inflight', scaleToZero: true, activationThreshold: 1 } });
    const so = one(objects, 'ScaledObject');
    expect(so.spec.minReplicaCount).toBe(0);
    expect(so.spec.triggers.map((t: any) => t.name)).toEqual(['inflight', 'requests']);
    expect(so.spec.triggers[0].metadata.activationThreshold).toBe('1');
    expect(so.spec.triggers[1].metadata.query).toContain('destination_service_name="planner"');
  });

  test('default target: 70% of maxConcurrentRequests', () => {
    const { agent } = chartWith({ maxConcurrentRequests: 20, autoscaling: { metric: 'inflight' } });
    expect(agent.spec.scaling).toMatchObject({ targetPerReplica: 14 });
  });

  test.each([
    [{ autoscaling: { targetPerReplica: 4 } }, /autoscaling.targetPerReplica: applies only to metric: 'inflight'/],
    [{ autoscaling: { metric: 'inflight', targetCpuPercent: 50 } }, /autoscaling.targetCpuPercent: does not apply to metric: 'inflight'/],
    [{ autoscaling: { metric: 'inflight', scaleToZero: true, minReplicas: 3 } }, /autoscaling.minReplicas: conflicts with scaleToZero/],
    [{ autoscaling: { metric: 'inflight' }, sidecar: false }, /autoscaling.metric: 'inflight' needs the sidecar/],
    [{ autoscaling: { metric: 'cpu' } }, /^multi-agents\/planner: autoscaling.metric: /m],
    [{ autoscaling: { metric: 'inflight', targetPerReplica: 0 } }, /autoscaling.targetPerReplica: /],
  ])('rejects %j', (props, message) => {
    const chart = new Chart(Testing.app(), 'multi-agents', { namespace: 'multi-agents' });
    expect(() => new AgentService(chart, 'planner', { image: IMAGE, ...(props as any) })).toThrow(message);
  });
});
