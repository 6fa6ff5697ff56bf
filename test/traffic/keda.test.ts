import * as fs from 'fs';
import * as path from 'path';
import * as YAML from 'yaml';
import { buildSystem } from '../../cli/render';
import { podLabelMeta, RelabelConfig, targetRelabelings } from '../../constructs/rules/scrape';
import { METRICS } from '../../sidecar/contract';
import { parseSystemSpec } from '../../system/system-spec';

// KEDA -> Prometheus is the cluster's business, but the query our ScaledObject runs must select
// the series the sidecar exports once the MonitoringStack scrape relabelling has labelled them.

/** Prometheus `replace` relabelling (the only action targetRelabelings uses). */
function relabel(meta: Record<string, string>, rules: readonly RelabelConfig[]): Record<string, string> {
  const labels = { ...meta };
  for (const r of rules) {
    expect(r.action ?? 'replace').toBe('replace');
    const value = (r.source_labels ?? []).map((l) => labels[l] ?? '').join(r.separator ?? ';');
    const m = new RegExp(`^(?:${r.regex ?? '(.*)'})$`).exec(value);
    if (!m || r.target_label === undefined) continue;
    labels[r.target_label] = (r.replacement ?? '$1').replace(/\$(\d)/g, (_x, i) => m[Number(i)] ?? '');
  }
  return Object.fromEntries(Object.entries(labels).filter(([k]) => !k.startsWith('__')));
}

function selector(query: string): { metric: string; matchers: Record<string, string> } {
  const m = /sum\(([a-z_:]+)\{([^}]*)\}\)/.exec(query);
  if (!m) throw new Error(`unexpected query ${query}`);
  const matchers = Object.fromEntries([...m[2].matchAll(/([a-z_]+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
  return { metric: m[1], matchers };
}

test('every ScaledObject in-flight query selects the relabelled sidecar series of its own agent only', () => {
  const parsed = parseSystemSpec(YAML.parse(fs.readFileSync(path.join(__dirname, '../../examples/system.yaml'), 'utf8')));
  if (!parsed.success) throw new Error('invalid example');
  const objects = buildSystem(parsed.data).objects.map((o) => o.json as any);
  const scaled = objects.filter((o) => o.kind === 'ScaledObject');
  expect(scaled.length).toBeGreaterThan(1);
  const deployments = objects.filter((o) => o.kind === 'Deployment');
  const series = deployments.map((d) => {
    const meta: Record<string, string> = { __meta_kubernetes_namespace: d.metadata.namespace, __meta_kubernetes_pod_name: `${d.metadata.name}-abc12` };
    for (const [k, v] of Object.entries(d.spec.template.metadata.labels as Record<string, string>)) meta[podLabelMeta(k)] = v;
    return { deployment: d.metadata.name as string, labels: relabel(meta, targetRelabelings(parsed.data.name)) };
  });
  for (const so of scaled) {
    const trigger = so.spec.triggers.find((t: any) => t.name === 'inflight');
    const { metric, matchers } = selector(trigger.metadata.query);
    expect(metric).toBe(METRICS.inflight);
    const matching = series.filter((s) => Object.entries(matchers).every(([k, v]) => s.labels[k] === v)).map((s) => s.deployment);
    const target = so.spec.scaleTargetRef.name;
    // The stable Deployment and its canary share the agent label: both carry in-flight calls.
    expect(matching).toContain(target);
    expect(matching.every((d) => d === target || d === `${target}-canary`)).toBe(true);
  }
});
