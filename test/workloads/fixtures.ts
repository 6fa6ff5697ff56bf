import { AgentServiceProps } from '../../constructs';

/**
 * A realistic agent using every pod setting: a system prompt from a ConfigMap, a model key
 * Secret, a GPU, workload identity, an init container, per-replica storage and MCP tools.
 * The same agent is written in system.yaml form in full-agent.system.yaml.
 */
export const fullAgentProps: AgentServiceProps = {
  image: 'ghcr.io/example/researcher:2.1.0',
  team: 'research',
  port: 8080,
  replicas: 2,
  command: ['python', '-m', 'researcher'],
  args: ['--prompt', '/etc/agent/prompt/system.md'],
  env: { MODEL_BASE_URL: 'http://model-server.research.svc.cluster.local:8000/v1' },
  secretEnv: { OPENAI_API_KEY: { secretName: 'model-keys', key: 'openai' } },
  envFrom: [{ configMapRef: { name: 'researcher-settings' } }, { secretRef: { name: 'researcher-extra', optional: true }, prefix: 'EXTRA_' }],
  resources: {
    requests: { cpu: '1', memory: '4Gi', ephemeralStorage: '2Gi' },
    limits: { cpu: '4', memory: '16Gi', ephemeralStorage: '8Gi', 'nvidia.com/gpu': '1' },
  },
  volumes: [
    { name: 'prompt', configMap: { name: 'researcher-prompt', items: [{ key: 'system.md', path: 'system.md' }], defaultMode: 0o444 } },
    { name: 'gcp-credentials', secret: { secretName: 'gcp-credentials', defaultMode: 0o440 } },
    { name: 'scratch', emptyDir: { sizeLimit: '4Gi' } },
    { name: 'shm', emptyDir: { medium: 'Memory', sizeLimit: '1Gi' } },
    { name: 'models', persistentVolumeClaim: { claimName: 'shared-models', readOnly: true } },
    {
      name: 'identity',
      projected: {
        sources: [
          { serviceAccountToken: { path: 'token', audience: 'sts.amazonaws.com', expirationSeconds: 3600 } },
          { downwardAPI: { items: [{ path: 'labels', fieldRef: { fieldPath: 'metadata.labels' } }] } },
          { configMap: { name: 'researcher-prompt', items: [{ key: 'tools.json', path: 'tools.json' }] } },
        ],
      },
    },
  ],
  volumeMounts: [
    { name: 'prompt', mountPath: '/etc/agent/prompt', readOnly: true },
    { name: 'gcp-credentials', mountPath: '/var/run/secrets/gcp', readOnly: true },
    { name: 'scratch', mountPath: '/scratch' },
    { name: 'shm', mountPath: '/dev/shm' },
    { name: 'models', mountPath: '/models', readOnly: true },
    { name: 'identity', mountPath: '/var/run/secrets/identity', readOnly: true },
  ],
  imagePullSecrets: [{ name: 'registry-credentials' }],
  nodeSelector: { 'cloud.google.com/gke-accelerator': 'nvidia-l4' },
  tolerations: [{ key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' }],
  affinity: {
    nodeAffinity: {
      requiredDuringSchedulingIgnoredDuringExecution: {
        nodeSelectorTerms: [{ matchExpressions: [{ key: 'kubernetes.io/arch', operator: 'In', values: ['amd64'] }] }],
      },
    },
    podAntiAffinity: {
      preferredDuringSchedulingIgnoredDuringExecution: [{
        weight: 50,
        podAffinityTerm: { topologyKey: 'kubernetes.io/hostname', labelSelector: { matchLabels: { 'app.kubernetes.io/name': 'researcher' } } },
      }],
    },
  },
  priorityClassName: 'agents-high',
  runtimeClassName: 'nvidia',
  serviceAccount: { annotations: { 'iam.gke.io/gcp-service-account': 'researcher@example.iam.gserviceaccount.com' } },
  podLabels: { 'azure.workload.identity/use': 'true' },
  annotations: { 'example.com/owner': 'research' },
  initContainers: [{
    name: 'fetch-index',
    image: 'ghcr.io/example/index-fetcher:1.0.3',
    args: ['--out', '/data/index'],
    env: { INDEX_URL: 'https://storage.example.com/index.tar' },
    secretEnv: { STORAGE_TOKEN: { secretName: 'storage', key: 'token' } },
    volumeMounts: [{ name: 'data', mountPath: '/data' }],
    resources: { limits: { memory: '512Mi' }, requests: { memory: '128Mi' } },
  }],
  persistence: { size: '20Gi', storageClass: 'premium-rwo', mountPath: '/data' },
  tools: {
    search: { agent: 'search' },
    files: { service: 'mcp-files', port: 3000 },
    github: { url: 'https://api.githubcopilot.com/mcp/', tokenSecret: { secretName: 'github-mcp', key: 'token' } },
  },
};
