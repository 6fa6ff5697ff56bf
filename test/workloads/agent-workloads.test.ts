import { Chart, Testing } from 'cdk8s';
import { AgentService, AgentServiceProps, PropsValidationError } from '../../constructs';
import { validateManifests } from '../../testing';
import { fullAgentProps } from './fixtures';

function synth(props: Partial<AgentServiceProps>, base: AgentServiceProps = fullAgentProps) {
  const chart = new Chart(Testing.app(), 'research', { namespace: 'research', disableResourceNameHashes: true });
  const agent = new AgentService(chart, 'researcher', { ...base, ...props });
  const objects = Testing.synth(chart);
  const of = (kind: string, name?: string) => objects.filter((o) => o.kind === kind && (name === undefined || o.metadata.name === name));
  return { chart, agent, objects, of };
}

describe('every pod setting, persistence and tools', () => {
  const { chart, agent, objects, of } = synth({});
  const sts = of('StatefulSet')[0];
  const pod = sts.spec.template.spec;
  const main = pod.containers[0];

  test('the objects pass the validator (schemas, restricted PSS, resources, cross-object checks)', async () => {
    const result = await validateManifests(chart);
    expect(result.toString()).toMatch(/^OK: 0 errors, 0 warnings/);
    expect(objects.map((o) => `${o.kind}/${o.metadata.name}`).sort()).toEqual([
      'PodDisruptionBudget/researcher-pdb', 'Service/researcher', 'Service/researcher-headless', 'ServiceAccount/researcher', 'StatefulSet/researcher',
    ]);
  });

  test('persistence: a StatefulSet with a claim per replica and a headless Service; clients keep the normal Service', () => {
    expect(of('Deployment')).toEqual([]);
    expect(agent.statefulSet).toBeDefined();
    expect(agent.deployment).toBeUndefined();
    expect(agent.spec.workloadKind).toBe('StatefulSet');
    expect(sts.spec.serviceName).toBe('researcher-headless');
    expect(sts.spec.podManagementPolicy).toBe('Parallel');
    expect(sts.spec.volumeClaimTemplates).toEqual([{
      metadata: { name: 'data', labels: { 'app.kubernetes.io/name': 'researcher', 'app.kubernetes.io/instance': 'researcher' } },
      spec: { accessModes: ['ReadWriteOnce'], storageClassName: 'premium-rwo', resources: { requests: { storage: '20Gi' } } },
    }]);
    expect(sts.spec.persistentVolumeClaimRetentionPolicy).toEqual({ whenDeleted: 'Retain', whenScaled: 'Retain' });
    const headless = of('Service', 'researcher-headless')[0];
    expect(headless.spec.clusterIP).toBe('None');
    expect(headless.spec.selector).toEqual({ 'app.kubernetes.io/name': 'researcher', 'app.kubernetes.io/instance': 'researcher' });
    expect(of('Service', 'researcher')[0].spec.clusterIP).toBeUndefined();
    expect(main.volumeMounts).toContainEqual({ name: 'data', mountPath: '/data' });
    // The same probes and sidecar as a Deployment agent.
    expect(main.startupProbe.httpGet.path).toBe('/health');
    expect(pod.containers.map((c: { name: string }) => c.name)).toEqual(['agent', 'agent-sidecar']);
    expect(pod.topologySpreadConstraints[0].matchLabelKeys).toBeUndefined();
  });

  test('volumes and mounts with Kubernetes names; emptyDirs keep their size limits', () => {
    expect(pod.volumes.map((v: { name: string }) => v.name)).toEqual(['tmp', 'prompt', 'gcp-credentials', 'scratch', 'shm', 'models', 'identity']);
    expect(pod.volumes[1]).toEqual({ name: 'prompt', configMap: { name: 'researcher-prompt', items: [{ key: 'system.md', path: 'system.md' }], defaultMode: 0o444 } });
    expect(pod.volumes[4]).toEqual({ name: 'shm', emptyDir: { medium: 'Memory', sizeLimit: '1Gi' } });
    expect(pod.volumes[6].projected.sources[1]).toEqual({ downwardAPI: { items: [{ path: 'labels', fieldRef: { fieldPath: 'metadata.labels' } }] } });
    expect(main.volumeMounts).toContainEqual({ name: 'prompt', mountPath: '/etc/agent/prompt', readOnly: true });
  });

  test('command, args, envFrom, scheduling, runtime and priority classes, pull secrets, labels', () => {
    expect(main.command).toEqual(['python', '-m', 'researcher']);
    expect(main.args).toEqual(['--prompt', '/etc/agent/prompt/system.md']);
    expect(main.envFrom).toEqual([{ configMapRef: { name: 'researcher-settings' } }, { secretRef: { name: 'researcher-extra', optional: true }, prefix: 'EXTRA_' }]);
    expect(pod.imagePullSecrets).toEqual([{ name: 'registry-credentials' }]);
    expect(pod.nodeSelector).toEqual({ 'cloud.google.com/gke-accelerator': 'nvidia-l4' });
    expect(pod.tolerations).toEqual([{ key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' }]);
    expect(pod.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].weight).toBe(50);
    expect(pod.priorityClassName).toBe('agents-high');
    expect(pod.runtimeClassName).toBe('nvidia');
    expect(sts.spec.template.metadata.labels['azure.workload.identity/use']).toBe('true');
    expect(of('ServiceAccount')[0].metadata.annotations).toEqual({ 'iam.gke.io/gcp-service-account': 'researcher@example.iam.gserviceaccount.com' });
  });

  test('GPU and ephemeral storage: extended resources requested as limited', () => {
    expect(main.resources).toEqual({
      requests: { cpu: '1', memory: '4Gi', 'ephemeral-storage': '2Gi', 'nvidia.com/gpu': '1' },
      limits: { cpu: '4', memory: '16Gi', 'ephemeral-storage': '8Gi', 'nvidia.com/gpu': '1' },
    });
    expect(pod.containers[1].resources.limits['ephemeral-storage']).toBe('256Mi');
  });

  test('init containers get the restricted security context, default resources and /tmp', () => {
    const init = pod.initContainers[0];
    expect(init.securityContext).toEqual(main.securityContext);
    expect(init.resources).toEqual({
      requests: { cpu: '100m', memory: '128Mi', 'ephemeral-storage': '256Mi' },
      limits: { cpu: '500m', memory: '512Mi', 'ephemeral-storage': '1Gi' },
    });
    expect(init.volumeMounts).toEqual([{ name: 'tmp', mountPath: '/tmp' }, { name: 'data', mountPath: '/data' }]);
    expect(init.env).toContainEqual({ name: 'STORAGE_TOKEN', valueFrom: { secretKeyRef: { name: 'storage', key: 'token', optional: false } } });
  });

  test('tools: env for the agent, an agent edge, an mcp dependency and an egress host of this agent only', () => {
    const env = Object.fromEntries(main.env.map((e: { name: string; value?: string; valueFrom?: unknown }) => [e.name, e.value ?? e.valueFrom]));
    expect(env.MCP_SERVERS).toBe('search,files,github');
    expect(env.MCP_SEARCH_URL).toBe('http://search.research.svc.cluster.local:8080/mcp');
    expect(env.MCP_FILES_URL).toBe('http://mcp-files.research.svc.cluster.local:3000/mcp');
    expect(env.MCP_GITHUB_URL).toBe('https://api.githubcopilot.com/mcp/');
    expect(env.MCP_GITHUB_TOKEN).toEqual({ secretKeyRef: { name: 'github-mcp', key: 'token', optional: false } });
    expect(agent.spec.tools.filter((t) => t.kind === 'agent').map((t) => t.agent)).toEqual(['search']);
    expect(agent.spec.dependencies).toEqual([{ kind: 'mcp', service: 'mcp-files', namespace: 'research', port: 3000, source: 'tools.files' }]);
    expect(agent.spec.egressHosts).toEqual([{ host: 'api.githubcopilot.com', port: 443, source: 'tools.github' }]);
  });
});

describe('stateful agents scale like the others', () => {
  test('HPA and KEDA target the StatefulSet; the PDB selects its pods', async () => {
    const hpa = synth({ replicas: undefined, autoscaling: { minReplicas: 2, maxReplicas: 6 } });
    expect(hpa.of('HorizontalPodAutoscaler')[0].spec.scaleTargetRef).toEqual({ apiVersion: 'apps/v1', kind: 'StatefulSet', name: 'researcher' });
    expect(hpa.of('StatefulSet')[0].spec.replicas).toBeUndefined();
    expect((await validateManifests(hpa.chart)).problems).toEqual([]);
    const keda = synth({ replicas: undefined, autoscaling: { metric: 'inflight', scaleToZero: true } });
    expect(keda.of('ScaledObject')[0].spec.scaleTargetRef).toEqual({ apiVersion: 'apps/v1', kind: 'StatefulSet', name: 'researcher' });
    expect(keda.of('StatefulSet')[0].spec.replicas).toBeUndefined();
    expect(keda.of('PodDisruptionBudget')[0].spec.selector.matchLabels['cdk8s-agents.io/track']).toBe('stable');
    expect((await validateManifests(keda.chart)).problems).toEqual([]);
  });

  test('without persistence the pod settings go on the Deployment (and the canary)', async () => {
    const { persistence: _p, initContainers: _i, ...rest } = fullAgentProps;
    const { chart, of } = synth({ canary: { image: 'ghcr.io/example/researcher:2.2.0' } }, { ...rest, volumeMounts: rest.volumeMounts });
    expect(of('StatefulSet')).toEqual([]);
    for (const d of of('Deployment')) {
      expect(d.spec.template.spec.runtimeClassName).toBe('nvidia');
      expect(d.spec.template.spec.volumes).toHaveLength(7);
    }
    expect((await validateManifests(chart)).problems).toEqual([]);
  });
});

describe('bad pod settings: one message per problem, with the construct path and field, and nothing written', () => {
  const base: AgentServiceProps = { image: 'ghcr.io/example/researcher:2.1.0' };
  const cases: Array<[string, Partial<AgentServiceProps>, RegExp]> = [
    ['a mount without a volume', { volumeMounts: [{ name: 'prompt', mountPath: '/etc/prompt' }] }, /volumeMounts\[0\]\.name \("prompt"\) names no volume/],
    ['a GPU request without a limit', { resources: { requests: { 'nvidia.com/gpu': '1' } } }, /resources\.requests\.nvidia\.com\/gpu \(1\) needs limits\["nvidia\.com\/gpu"\]/],
    ['a GPU request different from its limit', { resources: { requests: { 'nvidia.com/gpu': '1' }, limits: { 'nvidia.com/gpu': '2' } } }, /must equal limits\["nvidia\.com\/gpu"\] \(2\)/],
    ['a fractional GPU', { resources: { limits: { 'nvidia.com/gpu': '0.5' } } }, /resources\.limits\.nvidia\.com\/gpu \("0\.5"\) must be a whole number/],
    ['an unknown resource name', { resources: { limits: { gpu: '1' } } }, /unknown field "resources\.limits\.gpu"/],
    ['a bad extended resource name', { resources: { limits: { 'kubernetes.io/gpu': '1' } } }, /resources\.limits\.kubernetes\.io\/gpu: is not a valid extended resource name/],
    ['an init container running as root', { initContainers: [{ name: 'setup', image: 'busybox:1.36', securityContext: { runAsUser: 0 } }] }, /initContainers\[0\]\.securityContext\.runAsUser \(0\) runs the init container as root/],
    ['an init container with a mutable image', { initContainers: [{ name: 'setup', image: 'busybox:latest' }] }, /initContainers\[0\]\.image: "busybox:latest" uses the mutable tag/],
    ['an init container named like the agent', { initContainers: [{ name: 'agent', image: 'busybox:1.36' }] }, /initContainers\[0\]\.name \("agent"\) is a container AgentService adds itself/],
    ['a volume with two sources', { volumes: [{ name: 'x', emptyDir: {}, configMap: { name: 'c' } }] }, /volumes\[0\]\.emptyDir: volume "x" takes one of/],
    ['a volume with no source', { volumes: [{ name: 'x' }] }, /volumes\[0\]: volume "x" needs one of configMap, secret, emptyDir, persistentVolumeClaim, projected/],
    ['the reserved tmp volume', { volumes: [{ name: 'tmp', emptyDir: {} }] }, /volumes\[0\]\.name \("tmp"\) is the agent's own \/tmp volume/],
    ['a mount over /tmp', { volumes: [{ name: 'x', emptyDir: {} }], volumeMounts: [{ name: 'x', mountPath: '/tmp/' }] }, /volumeMounts\[0\]\.mountPath \("\/tmp\/"\) is already mounted by AgentService/],
    ['a relative mount path', { volumes: [{ name: 'x', emptyDir: {} }], volumeMounts: [{ name: 'x', mountPath: 'data' }] }, /volumeMounts\[0\]\.mountPath: must be an absolute path/],
    ['emptyDirs larger than the ephemeral-storage limits', { volumes: [{ name: 'x', emptyDir: { sizeLimit: '10Gi' } }] }, /volumes: emptyDir sizeLimits \(10\.25Gi|volumes: emptyDir sizeLimits \(10496Mi/],
    ['a memory emptyDir above the memory limit', { volumes: [{ name: 'x', emptyDir: { medium: 'Memory', sizeLimit: '2Gi' } }] }, /memory-backed emptyDir sizeLimits \(2Gi\) exceed the agent's memory limit \(1Gi\)/],
    ['an ephemeral-storage request above its limit', { resources: { requests: { ephemeralStorage: '4Gi' } } }, /resources\.requests\.ephemeralStorage \(4Gi\) must not exceed limits\.ephemeralStorage \(1Gi\)/],
    ['a bad file mode', { volumes: [{ name: 'x', secret: { secretName: 's', defaultMode: 0o1777 } }] }, /volumes\[0\]\.secret\.defaultMode: must be a file mode/],
    ['envFrom with both refs', { envFrom: [{ configMapRef: { name: 'a' }, secretRef: { name: 'b' } }] }, /envFrom\[0\]\.secretRef: an envFrom entry takes one of/],
    ['a toleration value with Exists', { tolerations: [{ key: 'k', operator: 'Exists', value: 'v' }] }, /tolerations\[0\]\.value: must be omitted when operator is 'Exists'/],
    ['tolerationSeconds without NoExecute', { tolerations: [{ key: 'k', tolerationSeconds: 30 }] }, /tolerations\[0\]\.tolerationSeconds: applies only to effect 'NoExecute'/],
    ['an affinity weight out of range', { affinity: { podAntiAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 500, podAffinityTerm: { topologyKey: 'x' } }] } } }, /affinity\.podAntiAffinity\.preferredDuringSchedulingIgnoredDuringExecution\[0\]\.weight: must be between 1 and 100/],
    ['an unknown affinity field', { affinity: { nodeAffinty: {} } as never }, /unknown field "affinity\.nodeAffinty"/],
    ['a bad priority class name', { priorityClassName: 'High_Priority' }, /priorityClassName: must be a DNS-1123 subdomain/],
    ['a wrongly typed command', { command: 'python app.py' as never }, /command: Invalid input: expected array, received string/],
    ['ServiceAccount annotations on an existing ServiceAccount', { serviceAccountName: 'shared', serviceAccount: { annotations: { a: 'b' } } }, /serviceAccount\.annotations: apply only to the ServiceAccount AgentService creates/],
    ['a pod label AgentService owns', { podLabels: { 'app.kubernetes.io/version': 'x' } }, /podLabels\.app\.kubernetes\.io\/version: is set by AgentService/],
    ['persistence with a canary', { persistence: { size: '1Gi' }, canary: { image: 'ghcr.io/example/researcher:2.2.0' } }, /canary: conflicts with persistence/],
    ['persistence with a bad size', { persistence: { size: '10GB' } }, /persistence\.size: must be a memory quantity/],
    ['persistence at /tmp', { persistence: { size: '1Gi', mountPath: '/tmp' } }, /persistence\.mountPath \("\/tmp"\) is the agent's scratch volume/],
    ['a volume named like the persistence claim', { persistence: { size: '1Gi' }, volumes: [{ name: 'data', emptyDir: {} }] }, /volumes\[0\]\.name \("data"\) is the name of the persistence claim/],
    ['a tool with two targets', { tools: { search: { agent: 'search', url: 'https://x.example.com/mcp' } } }, /tools\.search\.url: a tool takes one of agent, service, url/],
    ['a plain-http remote tool', { tools: { search: { url: 'http://x.example.com/mcp' } } }, /tools\.search\.url: must be an https:\/\/ URL/],
    ['a service tool without a port', { tools: { files: { service: 'mcp-files' } } }, /tools\.files\.port: is required for a service tool/],
    ['a tool that is the agent itself', { tools: { me: { agent: 'researcher' } } }, /tools\.me\.agent \("researcher"\) is this agent itself/],
    ['an env var that a tool sets', { env: { MCP_SEARCH_URL: 'x' }, tools: { search: { agent: 'search' } } }, /env\.MCP_SEARCH_URL: is set by tools/],
    ['a bad tool name', { tools: { Search_Web: { agent: 'search' } } }, /tools\.Search_Web: tool names must be lower-case/],
  ];
  test.each(cases)('%s', (_name, props, message) => {
    const chart = new Chart(Testing.app(), 'research', { namespace: 'research', disableResourceNameHashes: true });
    let error: unknown;
    try {
      new AgentService(chart, 'researcher', { ...base, ...props });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(PropsValidationError);
    expect((error as Error).message).toMatch(/^research\/researcher: /);
    expect((error as Error).message).toMatch(message);
    expect(Testing.synth(chart)).toEqual([]);
  });

  test('all problems at once', () => {
    const chart = new Chart(Testing.app(), 'research', { namespace: 'research' });
    expect(() => new AgentService(chart, 'researcher', {
      ...base,
      volumeMounts: [{ name: 'missing', mountPath: '/a' }],
      resources: { requests: { 'nvidia.com/gpu': '1' } },
      initContainers: [{ name: 'setup', image: 'busybox:1.36', securityContext: { runAsUser: 0 } }],
    })).toThrow(/names no volume[\s\S]*needs limits[\s\S]*runs the init container as root/);
  });
});
