import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { knownKinds, selectorMatches, validateManifests } from '../../testing';
import { formatPath, pointerToSegments } from '../../testing/paths';
import { isPromDuration } from '../../testing/prometheus';
import { coreSchemas, crdSchemas, loadKubernetesModels, structuralToAjv } from '../../testing/schemas';

const ROOT = path.join(__dirname, '..', '..');
const SHARED_CRDS = path.join(ROOT, '..', 'shared', 'crds');

describe('generated schema data', () => {
  test('covers the core kinds and every served version of the pinned CRDs, with provenance', () => {
    const kinds = knownKinds();
    for (const k of [
      'apps/v1/Deployment',
      'v1/Service',
      'v1/ServiceAccount',
      'autoscaling/v2/HorizontalPodAutoscaler',
      'policy/v1/PodDisruptionBudget',
      'v1/ConfigMap',
      'networking.k8s.io/v1/NetworkPolicy',
      'networking.istio.io/v1/VirtualService',
      'networking.istio.io/v1/DestinationRule',
      'networking.istio.io/v1/ServiceEntry',
      'security.istio.io/v1/PeerAuthentication',
      'security.istio.io/v1/AuthorizationPolicy',
      'telemetry.istio.io/v1/Telemetry',
      'monitoring.coreos.com/v1/ServiceMonitor',
      'monitoring.coreos.com/v1/PodMonitor',
      'monitoring.coreos.com/v1/PrometheusRule',
      'monitoring.coreos.com/v1/Probe',
      'grafana.integreatly.org/v1beta1/GrafanaDashboard',
      'keda.sh/v1alpha1/ScaledObject',
      'gateway.networking.k8s.io/v1/HTTPRoute',
      'gateway.networking.k8s.io/v1/Gateway',
    ]) {
      expect(kinds).toContain(k);
    }
    const sources = crdSchemas().sources as Array<Record<string, string>>;
    expect(sources.map((s) => s.file).sort()).toEqual([
      'gateway.networking.k8s.io_gatewayclasses.yaml',
      'gateway.networking.k8s.io_gateways.yaml',
      'gateway.networking.k8s.io_httproutes.yaml',
      'gateway.networking.k8s.io_referencegrants.yaml',
      'grafana.integreatly.org_grafanadashboards.yaml',
      'istio-crds.yaml',
      'keda.sh_scaledobjects.yaml',
      'monitoring.coreos.com_podmonitors.yaml',
      'monitoring.coreos.com_probes.yaml',
      'monitoring.coreos.com_prometheusrules.yaml',
      'monitoring.coreos.com_servicemonitors.yaml',
    ]);
    for (const s of sources) {
      expect(s.repository).toMatch(/^https:\/\/github\.com\//);
      expect(s.tag).toBeTruthy();
      expect(s.commit).toMatch(/^[0-9a-f]{40}$/);
      expect(s.sha256).toMatch(/^[0-9a-f]{64}$/);
      expect(s.path).toMatch(/\.ya?ml$/);
    }
    expect(JSON.stringify(crdSchemas().kinds)).not.toMatch(/"description":"/);
  });

  const shared = fs.existsSync(SHARED_CRDS) ? test : test.skip;
  shared('the committed data is what the script generates from the CRD folder (--check)', () => {
    const r = spawnSync(process.execPath, [path.join(ROOT, 'scripts', 'extract-crd-schemas.js'), '--check', SHARED_CRDS], { encoding: 'utf8', timeout: 60_000 });
    expect(r.stderr).toBe('');
    expect(r.stdout).toContain('crds.json is up to date');
    expect(r.stdout).toContain('k8s.json is up to date');
    expect(r.status).toBe(0);
  });
});

describe('structural schema semantics', () => {
  test('unknown fields are errors unless x-kubernetes-preserve-unknown-fields', () => {
    const s = structuralToAjv({
      type: 'object',
      properties: {
        spec: {
          type: 'object',
          properties: { free: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true }, closed: { type: 'object' }, port: { 'x-kubernetes-int-or-string': true, anyOf: [{ type: 'integer' }, { type: 'string' }] } },
        },
      },
    });
    expect(s.properties.spec.additionalProperties).toBe(false);
    expect(s.properties.spec.properties.free.additionalProperties).toBeUndefined();
    expect(s.properties.spec.properties.closed.additionalProperties).toBe(false);
    expect(s.properties.spec.properties.port).toEqual({ type: ['integer', 'string'] });
    expect(s.properties.metadata).toEqual({ $ref: 'k8s#/definitions/ObjectMeta' });
  });

  test('preserved fields accept anything; int-or-string accepts both and nothing else', async () => {
    const wasm = {
      apiVersion: 'extensions.istio.io/v1alpha1',
      kind: 'WasmPlugin',
      metadata: { name: 'w', namespace: 'agents' },
      spec: { url: 'oci://example/plugin:1', pluginConfig: { anything: { nested: [1, 'x'] } } },
    };
    expect((await validateManifests([wasm])).problems).toEqual([]);
    const sm = (targetPort: unknown) => ({
      apiVersion: 'monitoring.coreos.com/v1',
      kind: 'ServiceMonitor',
      metadata: { name: 'sm', namespace: 'agents' },
      spec: { selector: {}, endpoints: [{ targetPort }] },
    });
    expect((await validateManifests([sm(9464)])).problems).toEqual([]);
    expect((await validateManifests([sm('metrics')])).problems).toEqual([]);
    const bad = await validateManifests([sm(true)]);
    expect(bad.problems.map((p) => [p.rule, p.path])).toEqual([['schema/type', 'spec.endpoints[0].targetPort']]);
    expect(bad.problems[0].message).toBe('must be integer or string (got boolean true)');
  });

  test('Go regex inline flags in CRD patterns are honoured ((?i) in partial_response_strategy)', async () => {
    const rule = (strategy: string) => ({
      apiVersion: 'monitoring.coreos.com/v1',
      kind: 'PrometheusRule',
      metadata: { name: 'r', namespace: 'agents' },
      spec: { groups: [{ name: 'g', partial_response_strategy: strategy, rules: [{ record: 'a:b:c', expr: 'up' }] }] },
    });
    expect((await validateManifests([rule('WARN')], { promtool: false })).problems).toEqual([]);
    expect((await validateManifests([rule('ignore')], { promtool: false })).problems.map((p) => p.path)).toEqual(['spec.groups[0].partial_response_strategy']);
  });

  test('a kubernetes-models format error (int32) is reported', async () => {
    const svc = { apiVersion: 'v1', kind: 'Service', metadata: { name: 's' }, spec: { ports: [{ port: 1.5 }] } };
    const r = await validateManifests([svc]);
    expect(r.problems.map((p) => [p.rule, p.path])).toEqual([['schema/type', 'spec.ports[0].port']]);
    const big = { ...svc, spec: { ports: [{ port: 3_000_000_000 }] } };
    const r2 = await validateManifests([big]);
    expect(r2.problems.map((p) => [p.rule, p.path, p.message])).toEqual([['schema/format', 'spec.ports[0].port', 'must be a valid int32 (got 3000000000)']]);
  });

  test('every core kind has its kubernetes-models validator (a missing one would drop type and format checks silently)', async () => {
    expect(await loadKubernetesModels()).toBeUndefined();
  });

  test('an int64 field must be an integer', async () => {
    const pod = (v: number) => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p' }, spec: { containers: [{ name: 'c', image: 'i' }], terminationGracePeriodSeconds: v } });
    const r = await validateManifests([pod(30.5)], { promtool: false });
    expect(r.problems.filter((p) => p.rule.startsWith('schema/')).map((p) => [p.rule, p.path])).toEqual([['schema/type', 'spec.terminationGracePeriodSeconds']]);
    const ok = await validateManifests([pod(2 ** 40)], { promtool: false });
    expect(ok.problems.filter((p) => p.rule.startsWith('schema/'))).toEqual([]);
  });

  test('fixes for the newer API: required spec of HPA and CronJob, optional NetworkPolicy podSelector, post-1.33 fields not unknown', async () => {
    const schema = (r: Awaited<ReturnType<typeof validateManifests>>) => r.problems.filter((p) => p.rule.startsWith('schema/')).map((p) => [p.rule, p.path]);
    const hpa = { apiVersion: 'autoscaling/v2', kind: 'HorizontalPodAutoscaler', metadata: { name: 'h' } };
    const cron = { apiVersion: 'batch/v1', kind: 'CronJob', metadata: { name: 'c' } };
    expect(schema(await validateManifests([hpa, cron], { promtool: false }))).toEqual([
      ['schema/required', 'spec'],
      ['schema/required', 'spec'],
    ]);
    const np = { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: 'n' }, spec: { policyTypes: ['Ingress'] } };
    expect(schema(await validateManifests([np], { promtool: false }))).toEqual([]);
    const pod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'p' },
      spec: { hostnameOverride: 'h', containers: [{ name: 'c', image: 'i', restartPolicyRules: [{ action: 'Restart', exitCodes: { operator: 'In', values: [42] } }] }] },
    };
    expect(schema(await validateManifests([pod], { promtool: false }))).toEqual([]);
    expect(coreSchemas().fixes).toBeDefined();
  });
});

describe('helpers', () => {
  test('field paths', () => {
    expect(formatPath(['spec', 'http', 0, 'retries', 'perTryTimout'])).toBe('spec.http[0].retries.perTryTimout');
    expect(formatPath(['metadata', 'labels', 'app.kubernetes.io/name'])).toBe('metadata.labels["app.kubernetes.io/name"]');
    expect(pointerToSegments('/spec/ports/0/name', { spec: { ports: [{}] } })).toEqual(['spec', 'ports', 0, 'name']);
    expect(pointerToSegments('/data/0', { data: { '0': 'x' } })).toEqual(['data', '0']);
    expect(pointerToSegments('/metadata/labels/a~1b', {})).toEqual(['metadata', 'labels', 'a/b']);
  });

  test('Prometheus durations', () => {
    for (const ok of ['0', '5m', '1h30m', '90s', '1d', '2w', '1y', '500ms', '1h0m0s']) expect(isPromDuration(ok)).toBe(true);
    for (const bad of ['', '5', '5 minutes', '1.5m', '5mm', '-1m', 'm', '30S', '1m1h']) expect(isPromDuration(bad)).toBe(false);
  });

  test('label selectors', () => {
    const labels = { app: 'planner', tier: 'agents' };
    expect(selectorMatches({}, labels)).toBe(true);
    expect(selectorMatches({ matchLabels: { app: 'planner' } }, labels)).toBe(true);
    expect(selectorMatches({ matchLabels: { app: 'coder' } }, labels)).toBe(false);
    expect(selectorMatches({ matchExpressions: [{ key: 'app', operator: 'In', values: ['coder', 'planner'] }] }, labels)).toBe(true);
    expect(selectorMatches({ matchExpressions: [{ key: 'app', operator: 'NotIn', values: ['planner'] }] }, labels)).toBe(false);
    expect(selectorMatches({ matchExpressions: [{ key: 'gpu', operator: 'DoesNotExist' }] }, labels)).toBe(true);
    expect(selectorMatches({ matchExpressions: [{ key: 'gpu', operator: 'Exists' }] }, labels)).toBe(false);
  });
});
