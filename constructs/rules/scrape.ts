/**
 * Scrape configuration of the sidecar's `metrics` port, as plain data: the relabelling that
 * puts the agent labels on every series, shared by the ServiceMonitor/PodMonitor and by the
 * plain Prometheus `scrape_configs` (kubernetes_sd) for clusters without the operator. Pure.
 */
import { SIDECAR_PATHS, TARGET_LABELS } from '../../sidecar/contract';
import { MANAGED_BY } from '../spec';
import { AgentSpec } from '../spec';
import { escapeRegex, jobName, systemsOf } from './context';
import { MonitoringOptions, resolveOptions } from './options';

/** A relabel rule in Prometheus config spelling (snake_case). */
export interface RelabelConfig {
  readonly source_labels?: readonly string[];
  readonly separator?: string;
  readonly regex?: string;
  readonly target_label?: string;
  readonly replacement?: string;
  readonly action?: 'replace' | 'keep' | 'drop' | 'labeldrop' | 'labelkeep' | 'labelmap' | 'hashmod';
}

/** One `scrape_configs` entry. */
export interface ScrapeConfig {
  readonly job_name: string;
  readonly scrape_interval: string;
  readonly metrics_path: string;
  readonly kubernetes_sd_configs?: readonly { role: 'pod'; namespaces: { names: readonly string[] } }[];
  readonly static_configs?: readonly { targets: readonly string[]; labels?: Record<string, string> }[];
  readonly relabel_configs: readonly RelabelConfig[];
  readonly metric_relabel_configs: readonly RelabelConfig[];
}

/** Options of the scrape configuration. */
export interface ScrapeOptions extends MonitoringOptions {
  /** Scrape interval. @default '30s' */
  readonly interval?: string;
}

/** Pod labels that become series labels (Kubernetes SD meta label -> target label). */
export const POD_LABEL_TARGETS: readonly (readonly [string, string])[] = [
  ['app.kubernetes.io/name', TARGET_LABELS.agent],
  ['app.kubernetes.io/component', TARGET_LABELS.component],
  ['app.kubernetes.io/part-of', TARGET_LABELS.system],
];

/**
 * Labels that carry per-request identifiers: dropped from every scraped series, so a
 * misbehaving exporter cannot turn conversation or request ids into unbounded series.
 */
export const UNBOUNDED_ID_LABELS: readonly string[] = [
  'conversation_id',
  'gen_ai_conversation_id',
  'request_id',
  'gen_ai_response_id',
  'tool_call_id',
  'gen_ai_tool_call_id',
  'session_id',
  'trace_id',
  'span_id',
];

/** `__meta_kubernetes_pod_label_app_kubernetes_io_name` for `app.kubernetes.io/name`. */
export function podLabelMeta(label: string): string {
  return `__meta_kubernetes_pod_label_${label.replace(/[^a-zA-Z0-9_]/g, '_')}`;
}

/** Relabelling from Kubernetes SD meta labels to the target labels of sidecar/contract.ts. */
export function targetRelabelings(system: string, options: MonitoringOptions = {}): RelabelConfig[] {
  const opts = resolveOptions(options);
  return [
    ...POD_LABEL_TARGETS.map(([label, target]) => ({ source_labels: [podLabelMeta(label)], target_label: target, action: 'replace' as const })),
    { source_labels: ['__meta_kubernetes_namespace'], target_label: TARGET_LABELS.namespace, action: 'replace' },
    { source_labels: ['__meta_kubernetes_pod_name'], target_label: TARGET_LABELS.pod, action: 'replace' },
    // One job per system, whatever the operator or the SD names it: alerts select on it.
    { target_label: 'job', replacement: jobName(opts, system), action: 'replace' },
    ...(opts.cluster ? [{ target_label: 'cluster', replacement: opts.cluster, action: 'replace' as const }] : []),
  ];
}

/** Metric relabelling applied to every scraped series. */
export function metricRelabelings(): RelabelConfig[] {
  return [{ regex: UNBOUNDED_ID_LABELS.join('|'), action: 'labeldrop' }];
}

/** Plain Prometheus `scrape_configs` (kubernetes_sd, role pod), one job per system. */
export function scrapeConfigs(specs: readonly AgentSpec[], options: ScrapeOptions = {}): ScrapeConfig[] {
  const opts = resolveOptions(options);
  return [...systemsOf(specs).entries()].map(([system, list]) => ({
    job_name: jobName(opts, system),
    scrape_interval: options.interval ?? '30s',
    metrics_path: SIDECAR_PATHS.metrics,
    kubernetes_sd_configs: [{ role: 'pod', namespaces: { names: [...new Set(list.map((s) => s.namespace))].sort() } }],
    relabel_configs: [
      {
        source_labels: [podLabelMeta('app.kubernetes.io/part-of'), podLabelMeta('app.kubernetes.io/managed-by')],
        separator: ';',
        regex: `${escapeRegex(system)};${escapeRegex(MANAGED_BY)}`,
        action: 'keep',
      },
      { source_labels: ['__meta_kubernetes_pod_container_port_name'], regex: 'metrics', action: 'keep' },
      ...targetRelabelings(system, options),
    ],
    metric_relabel_configs: metricRelabelings(),
  }));
}

/**
 * The scrape config of one system for a Prometheus without Kubernetes (tests, local runs):
 * the same relabelling, fed by static targets that carry the meta labels Kubernetes SD would set.
 */
export function staticScrapeConfig(
  system: string,
  targets: readonly { address: string; spec: AgentSpec; pod: string }[],
  options: ScrapeOptions = {},
): ScrapeConfig {
  const opts = resolveOptions(options);
  return {
    job_name: jobName(opts, system),
    scrape_interval: options.interval ?? '30s',
    metrics_path: SIDECAR_PATHS.metrics,
    static_configs: targets.map((t) => ({
      targets: [t.address],
      labels: {
        ...Object.fromEntries(Object.entries(t.spec.labels).map(([k, v]) => [podLabelMeta(k), v])),
        __meta_kubernetes_namespace: t.spec.namespace,
        __meta_kubernetes_pod_name: t.pod,
        __meta_kubernetes_pod_container_port_name: 'metrics',
      },
    })),
    relabel_configs: scrapeConfigs([targets[0].spec], options)[0].relabel_configs,
    metric_relabel_configs: metricRelabelings(),
  };
}
