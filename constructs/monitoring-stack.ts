import { Chart } from 'cdk8s';
import * as kplus from 'cdk8s-plus-28';
import { Construct } from 'constructs';
import * as YAML from 'yaml';
import { z } from 'zod';
import {
  GrafanaDashboard,
} from '../imports/grafanadashboard-grafana.integreatly.org';
import {
  PodMonitor,
  PodMonitorSpecPodMetricsEndpoints,
  PodMonitorSpecPodMetricsEndpointsMetricRelabelings,
  PodMonitorSpecPodMetricsEndpointsRelabelings,
} from '../imports/podmonitor-monitoring.coreos.com';
import { PrometheusRule, PrometheusRuleSpecGroupsRulesExpr } from '../imports/prometheusrule-monitoring.coreos.com';
import {
  ServiceMonitor,
  ServiceMonitorSpecEndpoints,
  ServiceMonitorSpecEndpointsMetricRelabelings,
  ServiceMonitorSpecEndpointsRelabelings,
} from '../imports/servicemonitor-monitoring.coreos.com';
import { SIDECAR_PATHS } from '../sidecar/contract';
import { istioTlsFiles, meshTlsSchema, operatorTls, promConfigTls } from './scrape-tls';
import { SERVICE_PORT_NAMES } from './service-ports';
import { AgentService } from './agent-service';
import { agentDashboard, Dashboard, dashboardUid } from './dashboards';
import {
  CONFIGURABLE_ALERT_NAMES,
  AlertDefinition,
  isAlertingRule,
  metricRelabelings,
  MonitoringOptions,
  monitoringOptionsSchema,
  promtoolSuites,
  PromtoolSuite,
  promtoolTestFile,
  PromtoolTest,
  RelabelConfig,
  RuleGroup,
  ruleGroups,
  ScrapeConfig,
  scrapeConfigs,
  targetRelabelings,
} from './rules';
import { systemsOf } from './rules/context';
import { AgentSpec, MANAGED_BY } from './spec';
import { dns1123Label, duration, labelMap, parseProps, PropsValidationError } from './validation';

/** How Prometheus discovers the sidecars. */
export enum ScrapeKind {
  /** A ServiceMonitor per system, selecting the agents' Services (port `metrics`). */
  SERVICE_MONITOR = 'ServiceMonitor',
  /** A PodMonitor per system, selecting the agents' pods (container port `metrics`). */
  POD_MONITOR = 'PodMonitor',
}

/** Where the dashboard goes. */
export interface MonitoringDashboardOptions {
  /** A ConfigMap labelled `grafana_dashboard: "1"` for the Grafana sidecar. @default true */
  readonly configMap?: boolean;
  /** Folder annotation (`grafana_folder`) for the Grafana sidecar. @default none */
  readonly folder?: string;
  /**
   * Also a grafana-operator `GrafanaDashboard` that loads the ConfigMap, for Grafana
   * instances matching these labels. @default none
   */
  readonly grafanaInstanceSelector?: Record<string, string>;
  /** Dashboard title. @default 'Agents: <system>' */
  readonly title?: string;
}

/** Props of MonitoringStack. Every MonitoringOptions field (thresholds, severities, ...) applies. */
export interface MonitoringStackProps extends MonitoringOptions {
  /** The agents to monitor (agents without the sidecar are skipped: they export no metrics). */
  readonly services: readonly AgentService[];
  /** Namespace of the monitoring objects. @default the chart's namespace, else the first agent's */
  readonly namespace?: string;
  /** ServiceMonitor or PodMonitor. @default ScrapeKind.SERVICE_MONITOR */
  readonly scrape?: ScrapeKind;
  /** Scrape interval. @default '30s' */
  readonly interval?: string;
  /**
   * Labels on every object the stack creates; kube-prometheus-stack only selects
   * ServiceMonitors and PrometheusRules carrying its release label (`{ release: 'kube-prometheus-stack' }`).
   * @default {}
   */
  readonly labels?: Record<string, string>;
  /** The dashboard; `false` for none. @default a ConfigMap per system */
  readonly dashboard?: boolean | MonitoringDashboardOptions;
  /** Custom alerts (thresholdAlert, rateOfChangeAlert), added as group `custom-alerts` to the first system's PrometheusRule. @default [] */
  readonly customAlerts?: readonly AlertDefinition[];
  /**
   * Also emit a ConfigMap `<system>-agents-prometheus` holding the plain `scrape_configs`
   * (kubernetes_sd) and the rules file, for a Prometheus without the operator. @default false
   */
  readonly prometheusConfig?: boolean;
  /**
   * Scrape over Istio mTLS with the certificate Istio writes for Prometheus (`scheme: https`, a
   * tlsConfig with `<certDir>/root-cert.pem`, `cert-chain.pem`, `key.pem`): keeps STRICT mTLS on the
   * metrics port and lets the AuthorizationPolicy check Prometheus' namespace. `true` uses
   * '/etc/prom-certs' (Istio's Prometheus integration docs). See docs/mesh-policy.md.
   * @default false (plain HTTP: Prometheus in the mesh with a capturing sidecar, or MeshPolicy `prometheus.plaintext`)
   */
  readonly meshTls?: boolean | { readonly certDir?: string };
}

/** zod schema of MonitoringStackProps (AgentSystem derives its `monitoring:` schema from it). */
export const monitoringStackPropsSchema = monitoringOptionsSchema.extend({
  services: z
    .array(z.custom<AgentService>((v) => v instanceof AgentService, 'must be an AgentService'))
    .min(1, 'must list at least one AgentService'),
  namespace: dns1123Label().optional(),
  scrape: z.enum([ScrapeKind.SERVICE_MONITOR, ScrapeKind.POD_MONITOR]).optional(),
  interval: duration().optional(),
  labels: labelMap().optional(),
  dashboard: z
    .union([
      z.boolean(),
      z.strictObject({
        configMap: z.boolean().optional(),
        folder: z.string().min(1).optional(),
        grafanaInstanceSelector: labelMap().optional(),
        title: z.string().min(1).optional(),
      }),
    ])
    .optional(),
  customAlerts: z.array(z.custom<AlertDefinition>((v) => typeof v === 'object' && v !== null && typeof (v as AlertDefinition).alert === 'string')).optional(),
  prometheusConfig: z.boolean().optional(),
  meshTls: meshTlsSchema.optional(),
});

/** Objects of one system. */
export interface SystemMonitoring {
  readonly system: string;
  readonly specs: readonly AgentSpec[];
  readonly serviceMonitor?: ServiceMonitor;
  readonly podMonitor?: PodMonitor;
  readonly prometheusRule: PrometheusRule;
  /** Per-agent constants of systems with more than INVENTORY_CHUNK agents, one object per chunk. */
  readonly inventoryRules: readonly PrometheusRule[];
  readonly ruleGroups: readonly RuleGroup[];
  readonly dashboard?: Dashboard;
  readonly dashboardConfigMap?: kplus.ConfigMap;
  readonly grafanaDashboard?: GrafanaDashboard;
}

/**
 * Prometheus and Grafana for a set of agents: per system a ServiceMonitor (or PodMonitor)
 * on the sidecar's `metrics` port, a PrometheusRule with recording rules, alerts and SLO
 * burn-rate alerts, and a dashboard as a Grafana-sidecar ConfigMap (optionally a GrafanaDashboard).
 */
export class MonitoringStack extends Construct {
  /** Every rule group of the stack, per system: inventory, recording, SLO, alerts (then custom alerts). */
  public readonly ruleGroups: readonly RuleGroup[];
  /** Plain Prometheus `scrape_configs` equivalent to the monitors, for clusters without the operator. */
  public readonly scrapeConfigs: readonly ScrapeConfig[];
  /** Per-system objects. */
  public readonly systems: readonly SystemMonitoring[];
  /** The dashboards, one per system. */
  public readonly dashboards: readonly Dashboard[];
  /** The monitored agents (sidecar enabled). */
  public readonly specs: readonly AgentSpec[];
  /** The options the rules were generated with (for promtool tests and docs). */
  public readonly options: MonitoringOptions;

  constructor(scope: Construct, id: string, props: MonitoringStackProps) {
    super(scope, id);
    const p = parseProps(monitoringStackPropsSchema, props, this.node.path);
    const chart = Chart.of(this);
    const all = p.services.map((s) => s.spec);
    const bySystem = systemsOf(all);
    if (bySystem.size === 0) {
      throw new PropsValidationError(this.node.path, ['services: none of the agents runs the sidecar, so there is nothing to scrape']);
    }
    const monitored = [...bySystem.values()].flat();
    const problems: string[] = [];
    for (const key of Object.keys(p.overrides ?? {})) {
      if (!monitored.some((s) => s.name === key || `${s.namespace}/${s.name}` === key)) {
        const names = monitored.slice(0, 10).map((s) => s.name).join(', ') + (monitored.length > 10 ? ', ...' : '');
        problems.push(`overrides.${key}: no monitored agent is named "${key}" (agents: ${names})`);
      }
    }
    (p.customAlerts ?? []).forEach((a, i) => {
      if ((CONFIGURABLE_ALERT_NAMES as readonly string[]).includes(a.alert)) problems.push(`customAlerts[${i}].alert: "${a.alert}" is a built-in alert name`);
    });
    if (problems.length > 0) throw new PropsValidationError(this.node.path, problems);
    const namespace = p.namespace ?? chart.namespace ?? all[0].namespace;
    const options: MonitoringOptions = pickOptions(props);
    this.options = options;
    this.specs = monitored;
    const labels = { 'app.kubernetes.io/managed-by': MANAGED_BY, 'app.kubernetes.io/component': 'monitoring', ...(p.labels ?? {}) };
    const dash = p.dashboard === false ? undefined : p.dashboard === true || p.dashboard === undefined ? {} : p.dashboard;
    const interval = p.interval ?? '30s';
    const tls = istioTlsFiles(p.meshTls);
    const withTls = (configs: ScrapeConfig[]): ScrapeConfig[] => configs.map((c) => ({ ...c, ...promConfigTls(tls) }));

    const systems: SystemMonitoring[] = [];
    const groups: RuleGroup[] = [];
    let first = true;
    for (const [system, specs] of bySystem) {
      const name = `${system}-agents`;
      const namespaces = [...new Set(specs.map((s) => s.namespace))].sort();
      const meta = (suffix = '') => ({ name: `${name}${suffix}`, namespace, labels: { ...labels, 'app.kubernetes.io/part-of': system } });
      const relabelings = targetRelabelings(system, options);
      const selector = { matchLabels: { 'app.kubernetes.io/part-of': system, 'app.kubernetes.io/managed-by': MANAGED_BY } };

      let serviceMonitor: ServiceMonitor | undefined;
      let podMonitor: PodMonitor | undefined;
      if ((p.scrape ?? ScrapeKind.SERVICE_MONITOR) === ScrapeKind.SERVICE_MONITOR) {
        serviceMonitor = new ServiceMonitor(this, `${system}ServiceMonitor`, {
          metadata: meta(),
          spec: {
            selector,
            namespaceSelector: { matchNames: namespaces },
            endpoints: [
              {
                port: SERVICE_PORT_NAMES.metrics,
                path: SIDECAR_PATHS.metrics,
                interval,
                ...(operatorTls(tls) as Pick<ServiceMonitorSpecEndpoints, 'scheme' | 'tlsConfig'>),
                // The generated enums spell the same strings as the Prometheus config.
                relabelings: relabelings.map(toOperatorRelabel) as unknown as ServiceMonitorSpecEndpointsRelabelings[],
                metricRelabelings: metricRelabelings().map(toOperatorRelabel) as unknown as ServiceMonitorSpecEndpointsMetricRelabelings[],
              },
            ],
          },
        });
      } else {
        podMonitor = new PodMonitor(this, `${system}PodMonitor`, {
          metadata: meta(),
          spec: {
            selector,
            namespaceSelector: { matchNames: namespaces },
            podMetricsEndpoints: [
              {
                port: 'metrics',
                path: SIDECAR_PATHS.metrics,
                interval,
                ...(operatorTls(tls) as Pick<PodMonitorSpecPodMetricsEndpoints, 'scheme' | 'tlsConfig'>),
                relabelings: relabelings.map(toOperatorRelabel) as unknown as PodMonitorSpecPodMetricsEndpointsRelabelings[],
                metricRelabelings: metricRelabelings().map(toOperatorRelabel) as unknown as PodMonitorSpecPodMetricsEndpointsMetricRelabelings[],
              },
            ],
          },
        });
      }

      const systemGroups = ruleGroups(specs, options, first ? p.customAlerts ?? [] : []);
      first = false;
      groups.push(...systemGroups);
      // Large systems: each chunk of per-agent constants gets its own object, so no object
      // outgrows what `kubectl apply` can store in its last-applied annotation (256 KiB).
      const inventory = systemGroups.filter((g) => /\.inventory-\d+$/.test(g.name));
      const prometheusRule = new PrometheusRule(this, `${system}PrometheusRule`, {
        metadata: meta(),
        spec: { groups: systemGroups.filter((g) => !inventory.includes(g)).map(toOperatorGroup) },
      });
      const inventoryRules = inventory.map(
        (g, i) => new PrometheusRule(this, `${system}PrometheusRuleInventory${i + 1}`, { metadata: meta(`-inventory-${i + 1}`), spec: { groups: [toOperatorGroup(g)] } }),
      );

      let dashboard: Dashboard | undefined;
      let dashboardConfigMap: kplus.ConfigMap | undefined;
      let grafanaDashboard: GrafanaDashboard | undefined;
      if (dash) {
        dashboard = agentDashboard(specs, { ...options, title: dash.title });
        const key = `${name}.json`;
        if (dash.configMap !== false || dash.grafanaInstanceSelector) {
          const m = meta('-dashboard');
          dashboardConfigMap = new kplus.ConfigMap(this, `${system}DashboardConfigMap`, {
            metadata: {
              ...m,
              labels: { ...m.labels, grafana_dashboard: '1' },
              annotations: dash.folder ? { grafana_folder: dash.folder } : undefined,
            },
            data: { [key]: JSON.stringify(dashboard, null, 2) },
          });
        }
        if (dash.grafanaInstanceSelector) {
          grafanaDashboard = new GrafanaDashboard(this, `${system}GrafanaDashboard`, {
            metadata: meta(),
            spec: {
              instanceSelector: { matchLabels: { ...dash.grafanaInstanceSelector } },
              configMapRef: { name: `${name}-dashboard`, key },
              uid: dashboardUid(system),
              ...(dash.folder ? { folder: dash.folder } : {}),
            },
          });
        }
      }

      if (p.prometheusConfig) {
        new kplus.ConfigMap(this, `${system}PrometheusConfig`, {
          metadata: meta('-prometheus'),
          data: {
            'scrape-configs.yaml': YAML.stringify({ scrape_configs: withTls(scrapeConfigs(specs, { ...options, interval })) }, { lineWidth: 0 }),
            [`${name}.rules.yaml`]: YAML.stringify({ groups: systemGroups }, { lineWidth: 0 }),
          },
        });
      }

      systems.push({ system, specs, serviceMonitor, podMonitor, prometheusRule, inventoryRules, ruleGroups: systemGroups, dashboard, dashboardConfigMap, grafanaDashboard });
    }
    this.systems = systems;
    this.ruleGroups = groups;
    this.dashboards = systems.map((s) => s.dashboard).filter((d): d is Dashboard => !!d);
    this.scrapeConfigs = withTls(scrapeConfigs(this.specs, { ...options, interval }));
  }

  /** promtool unit-test suites of the built-in alerts, one per system (rules + tests). */
  public promtoolSuites(): PromtoolSuite[] {
    return promtoolSuites(this.specs, { ...this.options, timeScale: 1 });
  }

  /** The generated promtool tests of every system (each fires and silences every alert). */
  public promtoolTests(): PromtoolTest[] {
    return this.promtoolSuites().flatMap((s) => [...s.tests]);
  }

  /**
   * promtool files per system, keyed by file name: `<system>.rules.yaml` (the rule groups) and
   * `<system>.test.yaml` (unit tests). Write them to a directory and run
   * `promtool test rules <dir>/*.test.yaml`.
   */
  public promtoolFiles(header = ''): Record<string, string> {
    const out: Record<string, string> = {};
    for (const suite of this.promtoolSuites()) {
      const rules = `${suite.system}.rules.yaml`;
      out[rules] = header + YAML.stringify({ groups: suite.ruleGroups }, { lineWidth: 0 });
      out[`${suite.system}.test.yaml`] = header + YAML.stringify(promtoolTestFile(suite, rules), { lineWidth: 0 });
    }
    return out;
  }

  /** Every alert name of the stack. */
  public alertNames(): string[] {
    return [...new Set(this.ruleGroups.flatMap((g) => g.rules.filter(isAlertingRule).map((r) => r.alert)))];
  }
}

/** The MonitoringOptions fields of the props (what the pure rule builders take). */
function pickOptions(p: MonitoringStackProps): MonitoringOptions {
  const keys = Object.keys(monitoringOptionsSchema.shape) as (keyof MonitoringOptions)[];
  return Object.fromEntries(keys.filter((k) => p[k] !== undefined).map((k) => [k, p[k]])) as MonitoringOptions;
}

/** Prometheus config spelling (snake_case) to the operator's CRD spelling (camelCase). */
function toOperatorRelabel(r: RelabelConfig) {
  return {
    ...(r.source_labels ? { sourceLabels: [...r.source_labels] } : {}),
    ...(r.separator !== undefined ? { separator: r.separator } : {}),
    ...(r.regex !== undefined ? { regex: r.regex } : {}),
    ...(r.target_label !== undefined ? { targetLabel: r.target_label } : {}),
    ...(r.replacement !== undefined ? { replacement: r.replacement } : {}),
    ...(r.action ? { action: r.action } : {}),
  };
}

function toOperatorGroup(g: RuleGroup) {
  return {
    name: g.name,
    ...(g.interval ? { interval: g.interval } : {}),
    rules: g.rules.map((r) => ({
      ...(isAlertingRule(r) ? { alert: r.alert } : { record: r.record }),
      expr: PrometheusRuleSpecGroupsRulesExpr.fromString(r.expr),
      ...(isAlertingRule(r) && r.for ? { for: r.for } : {}),
      ...(r.labels ? { labels: { ...r.labels } } : {}),
      ...(isAlertingRule(r) && r.annotations ? { annotations: { ...r.annotations } } : {}),
    })),
  };
}

