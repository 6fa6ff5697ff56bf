import { Chart, Testing } from 'cdk8s';
import * as kplus from 'cdk8s-plus-28';
import { Manifests, synthObjects, validateManifests } from '../../testing';
import { clone, validFixtures } from './support';

describe('validateManifests on valid manifests', () => {
  test('the valid fixtures, as one set, produce no problem at all', async () => {
    const result = await validateManifests(validFixtures());
    expect(result.problems).toEqual([]);
    expect(result.ok).toBe(true);
    expect(result.objectCount).toBeGreaterThanOrEqual(20);
  });

  test('a secure cdk8s-plus Deployment and Service validate clean', async () => {
    const chart = Testing.chart();
    const d = new kplus.Deployment(chart, 'web', {
      metadata: { name: 'web', namespace: 'agents' },
      replicas: 2,
      securityContext: { ensureNonRoot: true, user: 10001 },
      podMetadata: {},
      containers: [
        {
          name: 'web',
          image: 'ghcr.io/example/web:1.0.0',
          portNumber: 8080,
          resources: {
            cpu: { request: kplus.Cpu.millis(100), limit: kplus.Cpu.millis(500) },
            memory: { request: require('cdk8s').Size.mebibytes(128), limit: require('cdk8s').Size.mebibytes(256) },
          },
          securityContext: { ensureNonRoot: true, readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, privileged: false },
        },
      ],
    });
    d.exposeViaService({ name: 'web' });
    const m = synthObjects(chart);
    const result = await validateManifests(m, { severity: { 'pss/seccomp-profile': 'off', 'pss/capabilities': 'off' } });
    expect(result.problems.filter((p) => p.severity === 'error')).toEqual([]);
  });
});

describe('synthObjects', () => {
  test('keeps the construct path of every object and finds objects by kind, name and agent', async () => {
    const app = Testing.app();
    const chart = new Chart(app, 'demo', { namespace: 'agents' });
    new kplus.ConfigMap(chart, 'settings', { metadata: { name: 'settings', labels: { 'app.kubernetes.io/name': 'planner' } }, data: { a: 'b' } });
    new kplus.ServiceAccount(chart, 'sa', { metadata: { name: 'planner' } });
    const m = synthObjects(app);
    expect(m).toBeInstanceOf(Manifests);
    expect(m.length).toBe(2);
    const cm = m.get('ConfigMap', 'settings');
    expect(m.constructPathOf(cm)).toBe('demo/settings/Resource');
    expect(m.forAgent('planner').map((o) => o.kind)).toEqual(['ConfigMap']);
    expect(m.find({ kind: 'ServiceAccount', namespace: 'agents' })).toHaveLength(1);
    expect(() => m.get('Deployment', 'planner')).toThrow(/expected exactly one Deployment named "planner", found 0/);
  });

  test('problems name the construct path of the object that caused them', async () => {
    const chart = Testing.chart();
    new kplus.ConfigMap(chart, 'bad', { metadata: { name: 'Bad_Name' } });
    const result = await validateManifests(chart);
    const p = result.problems.find((x) => x.rule === 'naming/dns-1123-subdomain');
    expect(p).toMatchObject({ object: 'ConfigMap/Bad_Name', path: 'metadata.name', severity: 'error' });
    expect(p?.constructPath).toMatch(/\/bad\/Resource$/);
  });
});

describe('options', () => {
  const privileged = () => {
    const objs = clone(validFixtures().filter((o) => o.kind === 'Deployment' && o.metadata?.name === 'planner'));
    (objs[0] as any).spec.template.spec.containers[0].securityContext.privileged = true;
    return objs;
  };

  test('an exception with a reason suppresses the matching problem and keeps it visible', async () => {
    const result = await validateManifests(privileged(), {
      exceptions: [{ rule: 'pss/privileged', object: 'Deployment/agents/planner', reason: 'needs /dev/fuse for the sandbox (SEC-123)' }],
    });
    expect(result.ok).toBe(true);
    expect(result.suppressed).toEqual([
      expect.objectContaining({ rule: 'pss/privileged', path: 'spec.template.spec.containers[0].securityContext.privileged', reason: 'needs /dev/fuse for the sandbox (SEC-123)' }),
    ]);
  });

  test('an exception without a reason is rejected', async () => {
    await expect(validateManifests(privileged(), { exceptions: [{ rule: 'pss/privileged', object: '*', reason: ' ' }] })).rejects.toThrow(/has no reason/);
  });

  test('an exception that matches nothing is reported as a warning', async () => {
    const result = await validateManifests(validFixtures(), { exceptions: [{ rule: 'pss/privileged', object: 'Deployment/agents/gone', reason: 'old' }] });
    expect(result.ok).toBe(true);
    expect(result.warnings.map((w) => w.rule)).toEqual(['exceptions/unused']);
  });

  test('exception paths and object globs narrow what is suppressed', async () => {
    const result = await validateManifests(privileged(), {
      exceptions: [{ rule: 'pss/*', object: 'Deployment/*', path: 'spec.template.spec.containers[1]', reason: 'only the sidecar' }],
    });
    expect(result.ok).toBe(false);
    expect(result.errors.map((e) => e.rule)).toEqual(['pss/privileged']);
  });

  test('severity overrides: warning keeps ok, off drops, most specific key wins', async () => {
    let r = await validateManifests(privileged(), { severity: { 'pss/*': 'warning' } });
    expect(r.ok).toBe(true);
    expect(r.warnings.map((w) => w.rule)).toEqual(['pss/privileged']);
    r = await validateManifests(privileged(), { severity: { 'pss/*': 'off', 'pss/privileged': 'error' } });
    expect(r.errors.map((w) => w.rule)).toEqual(['pss/privileged']);
    r = await validateManifests(privileged(), { severity: { '*': 'off' } });
    expect(r.problems).toEqual([]);
  });

  test('JSON output is stable and complete', async () => {
    const result = await validateManifests(privileged());
    const json = JSON.parse(JSON.stringify(result));
    expect(json).toEqual({
      ok: false,
      summary: { objects: 1, errors: 1, warnings: 0, suppressed: 0 },
      problems: [
        {
          severity: 'error',
          rule: 'pss/privileged',
          object: 'Deployment/agents/planner',
          path: 'spec.template.spec.containers[0].securityContext.privileged',
          message: 'container "agent" must not be privileged',
        },
      ],
      suppressed: [],
      notes: [],
    });
    expect(result.toString()).toContain('ERROR [pss/privileged] Deployment/agents/planner at spec.template.spec.containers[0].securityContext.privileged');
  });

  test('unknown kinds are a warning by default and can be made errors', async () => {
    const obj = { apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'w' } };
    expect((await validateManifests([obj])).warnings.map((w) => w.rule)).toEqual(['schema/unknown-kind']);
    expect((await validateManifests([obj], { unknownKinds: 'error' })).ok).toBe(false);
    expect((await validateManifests([obj], { unknownKinds: 'off' })).problems).toEqual([]);
  });
});

describe('speed', () => {
  test('1000 objects validate in well under a few seconds', async () => {
    const base = validFixtures().filter((o) => o.kind !== 'PrometheusRule');
    const many = [];
    for (let i = 0; many.length < 1000; i++) {
      for (const o of base) many.push({ ...clone(o), metadata: { ...o.metadata, name: `${o.metadata?.name}-${i}` } });
    }
    await validateManifests(many.slice(0, 50)); // compile the validators once
    const t = Date.now();
    const result = await validateManifests(many.slice(0, 1000), { crossObject: false });
    const ms = Date.now() - t;
    expect(result.errors).toEqual([]);
    expect(ms).toBeLessThan(2000);
  });
});

describe('files', () => {
  test('validateFiles reads a folder of YAML (like the committed dist/)', async () => {
    const { validateFiles, loadManifests } = await import('../../testing');
    const dir = require('path').join(__dirname, 'fixtures', 'valid');
    expect(loadManifests([dir]).length).toBe(validFixtures().length);
    expect((await validateFiles([dir])).problems).toEqual([]);
    const broken = require('path').join(__dirname, 'fixtures', 'broken', '01-virtualservice-pruned-field.yaml');
    expect((await validateFiles([broken])).errors.map((e) => e.path)).toEqual(['spec.http[0].retries.perTryTimout']);
  });
});
