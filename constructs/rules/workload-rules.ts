/**
 * Workload alerts of the agents (kubernetes-mixin's apps/resource alerts, scoped to each agent's
 * Deployment or StatefulSet and its pods), as one group per system, `<system>-agents.workload`,
 * evaluated after the inventory group (it joins `agent:info:static`). Pure.
 */
import { AgentSpec } from '../spec';
import { parseDuration } from '../validation';
import { renderValue, TemplateVars } from './catalog';
import { FamilyAlert, familyAlert } from './family-alert';
import { containerSel, group, infoLabels, num, promRegex, rec, SystemContext, win } from './context';
import type { PromtoolAlert, PromtoolInputSeries, PromtoolTest } from './promtool';
import { Labels, series } from './promtool-series';
import { RecordingRule, RuleGroup } from './types';
import { WAITING_REASONS, WORKLOAD_ALERT_DOCS, WORKLOAD_ALERT_THRESHOLDS, WorkloadAlertName } from './workload-catalog';

const hasKind = (ctx: SystemContext, kind: AgentSpec['workloadKind']) => ctx.specs.some((s) => s.workloadKind === kind);

function recording(ctx: SystemContext): RecordingRule[] {
  const ns = `namespace=~"${ctx.namespaces}"`;
  const cluster = ctx.opts.cluster ? 'cluster, ' : '';
  const info = rec(ctx, 'agent:info:static');
  const toInfo = `* on (namespace, agent) group_left(${cluster}system) ${info}`;
  const podMap = `* on (namespace, pod) group_left(${cluster}system, agent) ${rec(ctx, 'agent_pod:owner:info')}`;
  const deploy = hasKind(ctx, 'Deployment');
  const sts = hasKind(ctx, 'StatefulSet');
  /** Per agent: `max by (namespace, agent)` of a kube-state-metrics workload series, labelled by its Deployment or StatefulSet name. */
  const ksm = (metric: string, obj: string, fn = (x: string) => x) =>
    `max by (namespace, agent) (label_replace(${fn(`${metric}{${ns}}`)}, "agent", "$1", "${obj}", "(.+)"))`;
  /** Over the agent's Deployment and/or StatefulSet (whichever kinds the system has). */
  const perWorkload = (d: (obj: string) => string, s: (obj: string) => string) => {
    const parts = [...(deploy ? [`(${d('deployment')})`] : []), ...(sts ? [`(${s('statefulset')})`] : [])];
    return `max by (namespace, agent) (${parts.join(' or ')}) ${toInfo}`;
  };
  const owners = [
    ...(deploy ? [`label_replace(kube_pod_owner{${ns}, owner_kind="ReplicaSet"}, "agent", "$1", "owner_name", "(.+)-[a-z0-9]+")`] : []),
    ...(sts ? [`label_replace(kube_pod_owner{${ns}, owner_kind="StatefulSet"}, "agent", "$1", "owner_name", "(.+)")`] : []),
  ];
  const w5 = win(ctx, '5m');
  const w10 = win(ctx, '10m');
  const waitingReason = `reason=~"${promRegex(WAITING_REASONS)}"`;
  return [
    { record: 'agent_pod:owner:info', expr: `group by (namespace, pod, agent) (${owners.join(' or ')}) ${toInfo}` },
    {
      record: 'agent_pod:not_ready:max',
      expr:
        `(max by (namespace, pod) (kube_pod_status_phase{${ns}, phase=~"Pending|Unknown|Failed"}) == 1` +
        ` or max by (namespace, pod) (kube_pod_status_ready{${ns}, condition="false"}) == 1) ${podMap}`,
    },
    {
      record: 'agent:workload_generation_mismatch:max',
      expr: perWorkload(
        (o) => `${ksm('kube_deployment_status_observed_generation', o)} != bool ${ksm('kube_deployment_metadata_generation', o)}`,
        (o) => `${ksm('kube_statefulset_status_observed_generation', o)} != bool ${ksm('kube_statefulset_metadata_generation', o)}`,
      ),
    },
    // kubernetes-mixin KubeDeploymentRolloutStuck: the controller gave up (progressDeadlineSeconds). StatefulSets have no such condition.
    ...(deploy
      ? [{
          record: 'agent:deployment_progressing_false:max',
          expr: `max by (namespace, agent) (label_replace(kube_deployment_status_condition{${ns}, condition="Progressing", status="false"}, "agent", "$1", "deployment", "(.+)")) ${toInfo}`,
        }]
      : []),
    {
      record: 'agent:workload_replicas_missing:max',
      expr: perWorkload(
        (o) => `${ksm('kube_deployment_spec_replicas', o)} - ${ksm('kube_deployment_status_replicas_available', o)}`,
        (o) => `${ksm('kube_statefulset_replicas', o)} - ${ksm('kube_statefulset_status_replicas_ready', o)}`,
      ),
    },
    {
      record: 'agent:workload_replicas_updated_changes:max10m',
      expr: perWorkload(
        (o) => ksm('kube_deployment_status_replicas_updated', o, (x) => `changes(${x}[${w10}])`),
        (o) => ksm('kube_statefulset_status_replicas_updated', o, (x) => `changes(${x}[${w10}])`),
      ),
    },
    {
      record: 'agent_pod_container:waiting_reason:max5m',
      // Init containers of the agent's pods too, whatever their name (the pod map scopes them to the agent).
      expr:
        `max by (namespace, pod, container, reason) (max_over_time(kube_pod_container_status_waiting_reason${containerSel(ctx, waitingReason)}[${w5}])` +
        ` or max_over_time(kube_pod_init_container_status_waiting_reason{${ns}, ${waitingReason}}[${w5}])) ${podMap}`,
    },
    {
      record: 'agent_pod_container:cpu_cfs_throttled:ratio_rate5m',
      expr:
        `(sum by (namespace, pod, container) (increase(container_cpu_cfs_throttled_periods_total${containerSel(ctx)}[${w5}]))` +
        ` / sum by (namespace, pod, container) (increase(container_cpu_cfs_periods_total${containerSel(ctx)}[${w5}]))) ${podMap}`,
    },
    {
      record: 'agent:pdb_disruptions_allowed:min',
      expr: `min by (namespace, agent) (label_replace(kube_poddisruptionbudget_status_pod_disruptions_allowed{${ns}}, "agent", "$1", "poddisruptionbudget", "(.+)-pdb")) ${toInfo}`,
    },
    {
      record: 'agent:pdb_desired_healthy:max',
      expr: `max by (namespace, agent) (label_replace(kube_poddisruptionbudget_status_desired_healthy{${ns}}, "agent", "$1", "poddisruptionbudget", "(.+)-pdb")) ${toInfo}`,
    },
  ];
}

/** One workload alert rule with what its promtool tests need. */
type WorkloadAlert = FamilyAlert<WorkloadAlertName>;

function alerts(ctx: SystemContext): WorkloadAlert[] {
  const { on } = ctx;
  const info = rec(ctx, 'agent:info:static');
  const withInfo = (expr: string) => `(${expr}) * on(${on}) group_left(component, team) ${info}`;
  const out: WorkloadAlert[] = [];
  const add = (name: WorkloadAlertName, expr: string) => {
    const a = familyAlert(ctx, WORKLOAD_ALERT_DOCS[name], expr);
    if (a) out.push(a);
  };
  add('AgentPodNotReady', withInfo(`${rec(ctx, 'agent_pod:not_ready:max')} > 0`));
  const notProgressing = hasKind(ctx, 'Deployment') ? ` or on(${on}) ${rec(ctx, 'agent:deployment_progressing_false:max')} > 0` : '';
  add('AgentRolloutStuck', withInfo(`${rec(ctx, 'agent:workload_generation_mismatch:max')} > 0${notProgressing}`));
  add(
    'AgentReplicasMismatch',
    withInfo(`${rec(ctx, 'agent:workload_replicas_missing:max')} > 0 and on(${on}) ${rec(ctx, 'agent:workload_replicas_updated_changes:max10m')} == 0`),
  );
  add('AgentContainerWaiting', withInfo(`${rec(ctx, 'agent_pod_container:waiting_reason:max5m')} > 0`));
  add('AgentCpuThrottlingHigh', withInfo(`${rec(ctx, 'agent_pod_container:cpu_cfs_throttled:ratio_rate5m')} > ${num(WORKLOAD_ALERT_THRESHOLDS.cpuThrottlingRatio)}`));
  add('AgentPdbBlocksDisruptions', withInfo(`${rec(ctx, 'agent:pdb_desired_healthy:max')} > 0 and on(${on}) ${rec(ctx, 'agent:pdb_disruptions_allowed:min')} == 0`));
  return out;
}

/** The `<system>-agents.workload` group (recorded series and the workload alerts). */
export function workloadRuleGroup(ctx: SystemContext): RuleGroup {
  return group(ctx, `${ctx.system}-agents.workload`, [...recording(ctx), ...alerts(ctx).map((a) => a.rule)]);
}

// ---------------------------------------------------------------------------------------------
// promtool tests: each workload alert fires once and stays silent once, per workload kind
// ---------------------------------------------------------------------------------------------

const KSM_JOB = { job: 'kube-state-metrics' };
const CADVISOR_JOB = { job: 'kubelet', metrics_path: '/metrics/cadvisor' };

/** promtool tests for the workload alerts of one system (`timeScale` 1). */
export function workloadPromtoolTests(ctx: SystemContext): PromtoolTest[] {
  const subjects = (['Deployment', 'StatefulSet'] as const).map((k) => ctx.specs.find((s) => s.workloadKind === k)).filter((s): s is AgentSpec => !!s);
  const tests: PromtoolTest[] = [];
  for (const a of alerts(ctx)) {
    const doc = WORKLOAD_ALERT_DOCS[a.name];
    const forMin = Math.ceil(parseDuration(a.params.for) / 60);
    const evalMin = forMin + 12;
    const len = evalMin + 2;
    const g = (v: number) => `${num(v)}x${len}`;
    for (const s of subjects) {
      const sts = s.workloadKind === 'StatefulSet';
      const kind = sts ? 'statefulset' : 'deployment';
      const pod = sts ? `${s.names.deployment}-0` : `${s.names.deployment}-7d9f8b6c5-x2x4z`;
      const podL = { ...KSM_JOB, namespace: s.namespace, pod };
      const owner: PromtoolInputSeries = {
        series: series('kube_pod_owner', { ...podL, owner_kind: sts ? 'StatefulSet' : 'ReplicaSet', owner_name: sts ? s.names.deployment : `${s.names.deployment}-7d9f8b6c5`, owner_is_controller: 'true' }),
        values: g(1),
      };
      const wl = { ...KSM_JOB, namespace: s.namespace, [kind]: s.names.deployment };
      const expected = (value: number, extra: Labels = {}): PromtoolAlert => {
        const vars: TemplateVars = { agent: s.name, namespace: s.namespace, pod: extra.pod ?? '', container: extra.container ?? '', value: renderValue(doc.valueFormat, value) };
        const fill = (t: string) => t.replace('{{ $labels.reason }}', extra.reason ?? '');
        return {
          exp_labels: { ...infoLabels(ctx, s), ...extra, ...(a.rule.labels ?? {}) },
          exp_annotations: { summary: fill(doc.summary(vars, a.params)), description: fill(doc.description(vars, a.params)), runbook_url: a.rule.annotations!.runbook_url },
        };
      };
      const push = (name: string, input: PromtoolInputSeries[], exp: PromtoolAlert[]) =>
        tests.push({
          name: `${a.name}: ${name} (${s.workloadKind} ${s.name})`,
          interval: '1m',
          input_series: input,
          alert_rule_test: [{ eval_time: `${evalMin}m`, alertname: a.name, exp_alerts: exp }],
        });
      switch (a.name) {
        case 'AgentPodNotReady': {
          const podState = (phase: string, ready: boolean) => [
            owner,
            ...['Pending', 'Running', 'Succeeded', 'Failed', 'Unknown'].map((p) => ({ series: series('kube_pod_status_phase', { ...podL, phase: p }), values: g(p === phase ? 1 : 0) })),
            ...['true', 'false', 'unknown'].map((c) => ({ series: series('kube_pod_status_ready', { ...podL, condition: c }), values: g((c === 'true') === ready && c !== 'unknown' ? 1 : 0) })),
          ];
          push(`fires for a running pod that is not ready for ${a.params.for}`, podState('Running', false), [expected(1, { pod })]);
          push(`fires for a pod Pending for ${a.params.for}`, podState('Pending', false), [expected(1, { pod })]);
          push('silent for a running, ready pod', podState('Running', true), []);
          break;
        }
        case 'AgentRolloutStuck': {
          const gens = (observed: number) => [
            { series: series(`kube_${kind}_metadata_generation`, wl), values: g(4) },
            { series: series(`kube_${kind}_status_observed_generation`, wl), values: g(observed) },
          ];
          push('fires when the observed generation lags behind', gens(3), [expected(1)]);
          push('silent when the generation is observed', gens(4), []);
          if (!sts) {
            // kube-state-metrics exports every condition with status true/false/unknown, 1 for the current one.
            const progressing = (status: 'true' | 'false') => [
              ...gens(4),
              ...['true', 'false', 'unknown'].map((v) => ({ series: series('kube_deployment_status_condition', { ...wl, condition: 'Progressing', status: v }), values: g(v === status ? 1 : 0) })),
              { series: series('kube_deployment_status_condition', { ...wl, condition: 'Available', status: 'false' }), values: g(1) },
            ];
            push('fires when the Deployment is not progressing (Progressing=False: progress deadline exceeded)', progressing('false'), [expected(1)]);
            push('silent while the Deployment is progressing (Progressing=True, even while unavailable)', progressing('true'), []);
          }
          break;
        }
        case 'AgentReplicasMismatch': {
          const spec = sts ? 'kube_statefulset_replicas' : 'kube_deployment_spec_replicas';
          const have = sts ? 'kube_statefulset_status_replicas_ready' : 'kube_deployment_status_replicas_available';
          const reps = (available: number, updated: string) => [
            { series: series(spec, wl), values: g(3) },
            { series: series(have, wl), values: g(available) },
            { series: series(`kube_${kind}_status_replicas_updated`, wl), values: updated },
          ];
          push('fires when 2 of 3 replicas are missing and the rollout makes no progress', reps(1, g(1)), [expected(2)]);
          push('silent while the rollout progresses', reps(1, `0+1x${len}`), []);
          push('silent when every replica is available', reps(3, g(3)), []);
          break;
        }
        case 'AgentContainerWaiting': {
          const waiting = (reason: string, v: number) => [
            owner,
            { series: series('kube_pod_container_status_waiting_reason', { ...podL, container: 'agent', reason }), values: g(v) },
          ];
          push('fires for an image that cannot be pulled', waiting('ImagePullBackOff', 1), [expected(1, { pod, container: 'agent', reason: 'ImagePullBackOff' })]);
          push('silent while the container is being created', waiting('ContainerCreating', 1), []);
          push('silent when the container is not waiting', waiting('CrashLoopBackOff', 0), []);
          // Init containers: the agent's own, else the mesh's (istio-init); any name counts.
          const init = s.pod.initContainers[0]?.name ?? 'istio-init';
          const initWaiting = (reason: string, v: number) => [
            owner,
            { series: series('kube_pod_init_container_status_waiting_reason', { ...podL, container: init, reason }), values: g(v) },
          ];
          push(`fires for init container ${init} in CrashLoopBackOff`, initWaiting('CrashLoopBackOff', 1), [expected(1, { pod, container: init, reason: 'CrashLoopBackOff' })]);
          push(`silent while init container ${init} waits for the one before it (PodInitializing)`, initWaiting('PodInitializing', 1), []);
          break;
        }
        case 'AgentCpuThrottlingHigh': {
          const cpu = (throttledPerMin: number) => [
            owner,
            { series: series('container_cpu_cfs_periods_total', { ...CADVISOR_JOB, namespace: s.namespace, pod, container: 'agent-sidecar' }), values: `0+600x${len}` },
            { series: series('container_cpu_cfs_throttled_periods_total', { ...CADVISOR_JOB, namespace: s.namespace, pod, container: 'agent-sidecar' }), values: `0+${num(throttledPerMin)}x${len}` },
          ];
          push('fires when 50% of the CFS periods are throttled', cpu(300), [expected(0.5, { pod, container: 'agent-sidecar' })]);
          push('silent at 10% throttling', cpu(60), []);
          break;
        }
        case 'AgentPdbBlocksDisruptions': {
          const pdb = { ...KSM_JOB, namespace: s.namespace, poddisruptionbudget: s.names.pdb };
          const budget = (allowed: number) => [
            { series: series('kube_poddisruptionbudget_status_desired_healthy', pdb), values: g(2) },
            { series: series('kube_poddisruptionbudget_status_pod_disruptions_allowed', pdb), values: g(allowed) },
          ];
          push(`fires when no disruption is allowed for ${a.params.for}`, budget(0), [expected(2)]);
          push('silent when one disruption is allowed', budget(1), []);
          break;
        }
      }
    }
  }
  return tests;
}
