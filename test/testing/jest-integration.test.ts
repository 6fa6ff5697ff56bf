import { Testing } from 'cdk8s';
import * as kplus from 'cdk8s-plus-28';
import { installJestMatchers, manifestSnapshotSerializer, synthObjects } from '../../testing';
import { clone, validFixtures } from './support';

installJestMatchers();

describe('toBeValidManifests', () => {
  test('passes on valid objects and fails with the readable report otherwise', async () => {
    await expect(validFixtures()).toBeValidManifests();
    const broken = clone(validFixtures().filter((o) => o.kind === 'VirtualService'));
    (broken[0] as any).spec.http[1].retries.perTryTimout = '1s';
    await expect(broken).not.toBeValidManifests();
    let message = '';
    try {
      await expect(broken).toBeValidManifests();
    } catch (e: any) {
      message = e.message;
    }
    expect(message).toContain('ERROR [schema/unknown-field] VirtualService/agents/planner at spec.http[1].retries.perTryTimout');
  });

  test('takes a Chart and options', async () => {
    const chart = Testing.chart();
    new kplus.ConfigMap(chart, 'cm', { metadata: { name: 'settings', labels: { team: 'x'.repeat(64) } } });
    await expect(chart).not.toBeValidManifests();
    await expect(chart).toBeValidManifests({ severity: { 'naming/label-value': 'warning' } });
  });
});

describe('snapshot serializer', () => {
  test('prints YAML without volatile fields, with Secret values redacted', () => {
    const objs = [
      {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: 'c', namespace: 'agents', uid: 'abc', resourceVersion: '42', creationTimestamp: '2026-01-01T00:00:00Z', annotations: { 'kubectl.kubernetes.io/last-applied-configuration': '{}' } },
        data: { a: 'b' },
        status: { x: 1 },
      },
      { apiVersion: 'v1', kind: 'Secret', metadata: { name: 's' }, stringData: { token: 'hunter2' } },
    ];
    expect(manifestSnapshotSerializer.test(objs)).toBe(true);
    expect(manifestSnapshotSerializer.test({ a: 1 })).toBe(false);
    expect(manifestSnapshotSerializer.serialize(objs)).toBe(
      [
        '# ConfigMap/agents/c',
        'apiVersion: v1',
        'kind: ConfigMap',
        'metadata:',
        '  name: c',
        '  namespace: agents',
        'data:',
        '  a: b',
        '---',
        '# Secret/s',
        'apiVersion: v1',
        'kind: Secret',
        'metadata:',
        '  name: s',
        'stringData:',
        '  token: "<redacted: 7 characters>"',
      ].join('\n'),
    );
  });

  test('is used by toMatchSnapshot for synthObjects results', () => {
    const chart = Testing.chart();
    new kplus.ConfigMap(chart, 'cm', { metadata: { name: 'settings' }, data: { model: 'gpt-4o' } });
    expect(synthObjects(chart)).toMatchInlineSnapshot(`
# ConfigMap/settings
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
data:
  model: gpt-4o
immutable: false
`);
  });
});
