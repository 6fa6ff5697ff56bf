/**
 * Workload alerts of the agents, after kubernetes-mixin's apps and resource alerts
 * (KubePodNotReady, KubeDeploymentGenerationMismatch, KubeDeploymentRolloutStuck, KubeDeploymentReplicasMismatch,
 * KubeStatefulSet*, KubeContainerWaiting / KubePodCrashLooping, CPUThrottlingHigh,
 * KubePdbNotEnoughHealthyPods), scoped to each agent's workload and pods. Data only: the rules,
 * runbooks and doc tables are generated from here.
 */
import type { AlertDoc } from './catalog';

export const WORKLOAD_ALERT_NAMES = [
  'AgentPodNotReady',
  'AgentRolloutStuck',
  'AgentReplicasMismatch',
  'AgentContainerWaiting',
  'AgentCpuThrottlingHigh',
  'AgentPdbBlocksDisruptions',
] as const;
export type WorkloadAlertName = (typeof WORKLOAD_ALERT_NAMES)[number];

/** Fixed thresholds of the workload alerts (kubernetes-mixin's). */
export const WORKLOAD_ALERT_THRESHOLDS = {
  /** AgentCpuThrottlingHigh: share of CFS periods throttled over 5m (CPUThrottlingHigh's 25%). */
  cpuThrottlingRatio: 0.25,
} as const;

/** Waiting reasons that do not resolve by themselves (AgentContainerWaiting). */
export const WAITING_REASONS = ['CrashLoopBackOff', 'ImagePullBackOff', 'ErrImagePull', 'CreateContainerConfigError', 'CreateContainerError', 'InvalidImageName'] as const;

type WorkloadAlertDoc = Omit<AlertDoc, 'name'> & { readonly name: WorkloadAlertName };

const q = (name: string) => `\`${name}\``;
const KSM = 'Needs kube-state-metrics (kube-prometheus-stack scrapes it).';
const WORKLOAD = 'the agent\'s Deployment, or its StatefulSet for a stateful agent (`persistence`; AgentSpec `workloadKind`), named like the agent';

export const WORKLOAD_ALERT_DOCS: Readonly<Record<WorkloadAlertName, WorkloadAlertDoc>> = {
  AgentPodNotReady: {
    name: 'AgentPodNotReady',
    level: 'warning',
    for: '15m',
    valueFormat: 'count',
    summary: (v) => `Pod ${v.pod} of agent ${v.agent} is not ready`,
    description: (v, p) =>
      `Pod ${v.pod} of agent ${v.agent} in namespace ${v.namespace} has been Pending, Unknown, Failed or not ready for ${p.for}.`,
    brief: 'a pod of the agent Pending / Unknown / Failed or not ready for 15m (kubernetes-mixin KubePodNotReady)',
    meaning:
      `${q('kube_pod_status_phase{phase=~"Pending|Unknown|Failed"}')} or ${q('kube_pod_status_ready{condition="false"}')} is 1 for a pod owned by the agent's workload (${q('kube_pod_owner')}: a ReplicaSet ${q('<agent>-<hash>')} or the StatefulSet ${q('<agent>')}). ${KSM}`,
    impact: 'The pod takes no traffic: the agent runs with less capacity than it should, or not at all.',
    diagnosis: [
      'kubectl -n <namespace> describe pod <pod>   # events: scheduling, image pulls, failing readiness probe',
      'kubectl -n <namespace> get events --field-selector involvedObject.name=<pod>',
      'kubectl -n <namespace> logs <pod> -c agent-sidecar --tail=100',
    ],
    mitigation: [
      'Pending: free capacity or fix the quota / node selector / PVC binding shown in the events.',
      'Not ready: the readiness probe fails; see the sidecar and agent logs (the sidecar reports the agent unreachable).',
      'A bad release: `kubectl -n <namespace> rollout undo deploy/<agent>`.',
    ],
  },
  AgentRolloutStuck: {
    name: 'AgentRolloutStuck',
    level: 'warning',
    for: '15m',
    valueFormat: 'count',
    summary: (v) => `Rollout of agent ${v.agent} is stuck`,
    description: (v, p) =>
      `The rollout of the workload of agent ${v.agent} in namespace ${v.namespace} has been stuck for ${p.for}: the controller has not observed its latest generation, or the Deployment is not progressing (progress deadline exceeded).`,
    brief: 'observed generation of the agent\'s Deployment / StatefulSet behind its metadata generation, or the Deployment\'s Progressing condition False, for 15m (kubernetes-mixin Kube*GenerationMismatch, KubeDeploymentRolloutStuck)',
    meaning:
      `Either ${q('kube_deployment_status_observed_generation')} differs from ${q('kube_deployment_metadata_generation')} (or the ${q('kube_statefulset_*')} pair) for ${WORKLOAD}: a change was applied but the controller has not picked it up; ` +
      `or, for a Deployment, ${q('kube_deployment_status_condition{condition="Progressing", status="false"}')} is 1 (kubernetes-mixin KubeDeploymentRolloutStuck): the new ReplicaSet made no progress within ${q('progressDeadlineSeconds')} (default 600 s), reason ${q('ProgressDeadlineExceeded')}, or it cannot create pods (${q('ReplicaSetCreateError')}: quota, admission). ` +
      `StatefulSets have no Progressing condition; a stalled StatefulSet rollout shows as [AgentReplicasMismatch](agent-replicas-mismatch.md). ${KSM}`,
    impact: 'The spec in Git is not what runs: a fix or a rollback does not take effect, or old and new pods run side by side until someone acts.',
    diagnosis: [
      'kubectl -n <namespace> rollout status deploy/<agent>   # "exceeded its progress deadline"',
      'kubectl -n <namespace> get deploy/<agent> -o jsonpath=\'{.metadata.generation} {.status.observedGeneration} {.status.conditions[?(@.type=="Progressing")].reason}\'',
      'kubectl -n <namespace> describe rs -l app.kubernetes.io/name=<agent>   # FailedCreate events: quota, admission webhooks',
      'kubectl -n kube-system logs deploy/kube-controller-manager | grep <agent>   # managed clusters: the provider\'s control-plane logs',
    ],
    mitigation: [
      'ProgressDeadlineExceeded: the new pods never become available; fix them (see [AgentContainerWaiting](agent-container-waiting.md), [AgentPodNotReady](agent-pod-not-ready.md)) or `kubectl rollout undo deploy/<agent>`.',
      'ReplicaSetCreateError: raise the namespace quota or fix the admission webhook that rejects the pods.',
      'Generation not observed: a paused rollout (`kubectl rollout resume deploy/<agent>`), or an unhealthy controller manager.',
    ],
  },
  AgentReplicasMismatch: {
    name: 'AgentReplicasMismatch',
    level: 'warning',
    for: '15m',
    valueFormat: 'count',
    summary: (v) => `Agent ${v.agent} runs ${v.value} replicas fewer than it wants`,
    description: (v, p) =>
      `The workload of agent ${v.agent} in namespace ${v.namespace} has had ${v.value} fewer available replicas than desired for ${p.for}, with no rollout progress in 10 minutes.`,
    brief: 'desired replicas above available (Deployment) or ready (StatefulSet) replicas with no progress in 10m, for 15m (kubernetes-mixin Kube*ReplicasMismatch)',
    meaning:
      `${q('kube_deployment_spec_replicas - kube_deployment_status_replicas_available')} (or ${q('kube_statefulset_replicas - kube_statefulset_status_replicas_ready')}) is above 0 for ${WORKLOAD}, and the updated replicas did not change in 10 minutes (${q('changes(..._status_replicas_updated[10m]) == 0')}), so a rollout in progress does not fire it. The value is the number of missing replicas. ${KSM}`,
    impact: 'Less capacity than planned; a rollout that stalls half-way leaves old and new versions side by side.',
    diagnosis: [
      'kubectl -n <namespace> rollout status deploy/<agent>   # or sts/<agent>',
      'kubectl -n <namespace> get pods -l app.kubernetes.io/name=<agent>   # see AgentPodNotReady / AgentContainerWaiting',
    ],
    mitigation: [
      'Fix what keeps the new pods from becoming available (see [AgentPodNotReady](agent-pod-not-ready.md), [AgentContainerWaiting](agent-container-waiting.md)), or `kubectl rollout undo`.',
      'Quota or capacity: `kubectl -n <namespace> describe resourcequota`, cluster autoscaler events.',
    ],
  },
  AgentContainerWaiting: {
    name: 'AgentContainerWaiting',
    level: 'warning',
    for: '15m',
    valueFormat: 'count',
    summary: (v) => `Container ${v.container} of agent ${v.agent} is waiting: {{ $labels.reason }}`,
    description: (v, p) =>
      `Container ${v.container} of pod ${v.pod} (agent ${v.agent}, namespace ${v.namespace}) has been waiting with reason {{ $labels.reason }} for ${p.for}.`,
    brief: `the \`agent\` or \`agent-sidecar\` container, or an init container of the agent's pods, waiting with ${WAITING_REASONS.join(', ')} for 15m (kubernetes-mixin KubePodCrashLooping / KubeContainerWaiting)`,
    meaning:
      `${q('max_over_time(kube_pod_container_status_waiting_reason[5m])')} is 1 for one of the reasons that do not resolve by themselves (${WAITING_REASONS.map(q).join(', ')}); the 5m max keeps a crash loop that is briefly running between back-offs firing, as KubePodCrashLooping does. ` +
      `Init containers count too, whatever their name (the agent's ${q('initContainers')}, the mesh's ${q('istio-init')}): ${q('kube_pod_init_container_status_waiting_reason')} (experimental in kube-state-metrics); the pod then shows ${q('Init:CrashLoopBackOff')} or ${q('Init:ImagePullBackOff')} and no other container starts. The ${q('container')} label names the container. ` +
      `kubernetes-mixin's KubeContainerWaiting waits 1h for any reason; these reasons need a human, so this fires after 15m (${q('ContainerCreating')} is not one of them). ${KSM}`,
    impact: 'The container never starts: the pod is not ready and the agent runs with less capacity, or none.',
    diagnosis: [
      'kubectl -n <namespace> describe pod <pod>   # Events and the container\'s State/Last State',
      'kubectl -n <namespace> logs <pod> -c <container> --previous   # CrashLoopBackOff (init containers too)',
      'kubectl -n <namespace> get pod <pod> -o jsonpath=\'{.status.initContainerStatuses[*].state}\'   # an init container stuck',
    ],
    mitigation: [
      'ImagePullBackOff / ErrImagePull / InvalidImageName: fix the image reference or tag, or the pull secret and registry access.',
      'CreateContainerConfigError: a referenced Secret or ConfigMap (key) is missing; create it or fix the reference.',
      'CrashLoopBackOff: see [AgentRestarting](agent-restarting.md); roll back with `kubectl rollout undo`.',
      'An init container crash-looping: it exits non-zero (a dependency it waits for is missing, a migration fails); fix what it needs or its command. Its image must be pullable like the others.',
    ],
  },
  AgentCpuThrottlingHigh: {
    name: 'AgentCpuThrottlingHigh',
    level: 'info',
    for: '15m',
    valueFormat: 'percent',
    summary: (v) => `Container ${v.container} of agent ${v.agent} is CPU-throttled ${v.value} of the time`,
    description: (v) =>
      `${v.value} of the CFS periods of container ${v.container} in pod ${v.pod} (agent ${v.agent}, namespace ${v.namespace}) were throttled over the last 5 minutes.`,
    brief: `share of throttled CFS periods over 5m above ${WORKLOAD_ALERT_THRESHOLDS.cpuThrottlingRatio * 100}% (cAdvisor; kubernetes-mixin CPUThrottlingHigh)`,
    meaning:
      `${q('increase(container_cpu_cfs_throttled_periods_total[5m]) / increase(container_cpu_cfs_periods_total[5m])')} for the ${q('agent')} or ${q('agent-sidecar')} container is above 25%. Throttling happens in bursts well below the average limit, so it can fire while [AgentHighCpu](agent-high-cpu.md) does not. Needs cAdvisor (kubelet) metrics.`,
    impact: 'Requests wait for CPU in every throttled period: latency rises, probes may time out. Informational.',
    diagnosis: [
      'PromQL: agent_pod_container:cpu_cfs_throttled:ratio_rate5m{agent="<agent>"}',
      'PromQL: agent_pod_container:cpu_usage:ratio_limit{agent="<agent>"}',
    ],
    mitigation: [
      'Raise `resources.limits.cpu` (or the sidecar\'s), or remove the CPU limit if your policy allows it; scale out if usage is high too.',
    ],
  },
  AgentPdbBlocksDisruptions: {
    name: 'AgentPdbBlocksDisruptions',
    level: 'warning',
    for: '1h',
    valueFormat: 'count',
    summary: (v) => `The PodDisruptionBudget of agent ${v.agent} allows no disruption`,
    description: (v, p) =>
      `The PodDisruptionBudget of agent ${v.agent} in namespace ${v.namespace} has allowed 0 disruptions for ${p.for} while it wants ${v.value} healthy pods: node drains and cluster upgrades are blocked.`,
    brief: 'the agent\'s PodDisruptionBudget allows 0 disruptions with desired healthy > 0 for 1h (kube-state-metrics)',
    meaning:
      `${q('kube_poddisruptionbudget_status_pod_disruptions_allowed == 0')} and ${q('kube_poddisruptionbudget_status_desired_healthy > 0')} for the PDB ${q('<agent>-pdb')}: too few pods are healthy (see kubernetes-mixin KubePdbNotEnoughHealthyPods), or the budget leaves no room at the current replica count. The value is the desired healthy count. ${KSM}`,
    impact: '`kubectl drain` and node upgrades wait forever on the agent\'s pods; maintenance stalls.',
    diagnosis: [
      'kubectl -n <namespace> get pdb <agent>-pdb -o wide',
      'kubectl -n <namespace> get pods -l app.kubernetes.io/name=<agent>   # unhealthy pods count against the budget',
    ],
    mitigation: [
      'Fix the unhealthy pods (see [AgentPodNotReady](agent-pod-not-ready.md)), or raise the replicas so the budget leaves room.',
    ],
  },
};

/** What each recorded series of the workload group means. */
export const WORKLOAD_RECORDING_RULE_DOCS: Readonly<Record<string, string>> = {
  'agent_pod:owner:info': 'Constant 1 per pod of an agent (`kube_pod_owner`: ReplicaSet `<agent>-<hash>` or StatefulSet `<agent>`), mapping namespace/pod to the agent.',
  'agent_pod:not_ready:max': 'Per pod: 1 when Pending, Unknown, Failed or not ready (`kube_pod_status_phase`, `kube_pod_status_ready`).',
  'agent:workload_generation_mismatch:max': '1 when the workload\'s observed generation differs from its metadata generation.',
  'agent:deployment_progressing_false:max': '1 when the agent\'s Deployment has condition Progressing=False (`kube_deployment_status_condition`: progress deadline exceeded, or pods cannot be created).',
  'agent:workload_replicas_missing:max': 'Desired minus available (Deployment) or ready (StatefulSet) replicas of the workload.',
  'agent:workload_replicas_updated_changes:max10m': 'Changes of the updated replicas of the workload over 10m (0 = the rollout makes no progress).',
  'agent_pod_container:waiting_reason:max5m': 'Per pod, container (`agent`, `agent-sidecar`, and every init container) and `reason`: 1 when the container waited with a reason that needs a human in the last 5m.',
  'agent_pod_container:cpu_cfs_throttled:ratio_rate5m': 'Per pod and container: throttled / all CFS periods over 5m (cAdvisor).',
  'agent:pdb_disruptions_allowed:min': 'Disruptions the agent\'s PodDisruptionBudget allows now.',
  'agent:pdb_desired_healthy:max': 'Healthy pods the agent\'s PodDisruptionBudget wants.',
};
