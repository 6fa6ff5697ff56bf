/**
 * The API server's built-in validation (testing/builtin): messages, severities, the committed
 * example output, and the quantity parser. The broken/valid pairs per rule are in the corpus.
 */
import * as path from 'path';
import { validateFiles, validateManifests } from '../../testing';
import { parseQuantity } from '../../testing/builtin/quantity';
import { FIXTURES, loadYaml } from './support';

const broken = (f: string) => loadYaml(path.join(FIXTURES, 'broken', f));

describe('built-in validation', () => {
  test('the HPA target type typo "Utilisation" is rejected with the API server message and a hint', async () => {
    const result = await validateManifests(broken('62-hpa-target-type-typo.yaml'));
    expect(result.ok).toBe(false);
    expect(result.errors.map((e) => [e.rule, e.path, e.message])).toEqual([
      [
        'k8s/hpa-target',
        'spec.metrics[0].resource.target.type',
        'Invalid value: "Utilisation": must be either Utilization, Value, or AverageValue (did you mean "Utilization"?)',
      ],
    ]);
  });

  test('messages are phrased like the API server field errors', async () => {
    const msgs = (f: string) => validateManifests(broken(f)).then((r) => r.problems.map((p) => p.message));
    expect(await msgs('65-probe-handlers.yaml')).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^Forbidden: may not specify more than 1 handler type/),
        expect.stringMatching(/^Required value: must specify a handler type/),
        'Invalid value: 2: must be 1',
        'Invalid value: "http-metrics-port": must be no more than 15 characters',
      ]),
    );
    expect(await msgs('74-requests-above-limits.yaml')).toEqual([
      'Invalid value: "2": must be less than or equal to cpu limit of 1500m',
      'Invalid value: "1Gi": must be less than or equal to memory limit of 512Mi',
    ]);
    expect((await msgs('71-volume-mount-not-found.yaml'))[0]).toMatch(/^Not found: "cache": no volume of that name in the pod \(volumes: tmp\)/);
    expect((await msgs('75-pdb-budgets.yaml'))[0]).toBe('Invalid value: 1: minAvailable and maxUnavailable cannot be both set');
    expect((await msgs('63-hpa-metric-type.yaml'))[0]).toMatch(/^Unsupported value: "Resources": supported values: .*"Resource".* \(did you mean "Resource"\?\)$/);
  });

  test('builtin: false turns the built-in rules off', async () => {
    const result = await validateManifests(broken('74-requests-above-limits.yaml'), { builtin: false });
    expect(result.problems).toEqual([]);
  });

  test('the committed example output (dist/) passes with no problem at all', async () => {
    const result = await validateFiles([path.join(__dirname, '..', '..', 'dist')]);
    expect(result.objectCount).toBeGreaterThan(20);
    expect(result.problems).toEqual([]);
  });
});

describe('a missing CPU limit', () => {
  const objects = () => {
    const [pod] = broken('72-duplicate-env.yaml').map((o) => JSON.parse(JSON.stringify(o)));
    delete pod.spec.containers[0].env;
    delete pod.spec.containers[0].resources.limits.cpu;
    return [pod];
  };

  test('is an error by default (the package policy for its own output)', async () => {
    const result = await validateManifests(objects());
    expect(result.errors.map((e) => [e.rule, e.path])).toEqual([['policy/resources/cpu-limit', 'spec.containers[0].resources.limits.cpu']]);
  });

  test('can be downgraded to a warning alone, or with every resources rule, or excepted with a reason', async () => {
    const alone = await validateManifests(objects(), { severity: { 'policy/resources/cpu-limit': 'warning' } });
    expect(alone.ok).toBe(true);
    expect(alone.warnings.map((w) => w.rule)).toEqual(['policy/resources/cpu-limit']);

    const parent = await validateManifests(objects(), { severity: { 'policy/resources': 'warning' } });
    expect(parent.warnings.map((w) => w.rule)).toEqual(['policy/resources/cpu-limit']);

    // The most specific key wins: the parent is off, the CPU limit stays an error.
    const specific = await validateManifests(objects(), { severity: { 'policy/resources': 'off', 'policy/resources/cpu-limit': 'error' } });
    expect(specific.errors.map((e) => e.rule)).toEqual(['policy/resources/cpu-limit']);

    const excepted = await validateManifests(objects(), {
      exceptions: [{ rule: 'policy/resources', object: 'Pod/agents/*', reason: 'CPU limits cause throttling; we rely on requests (SRE-42)' }],
    });
    expect(excepted.ok).toBe(true);
    expect(excepted.suppressed.map((s) => s.rule)).toEqual(['policy/resources/cpu-limit']);

    // A missing memory limit is not covered by the CPU key.
    const pod = objects();
    delete (pod[0] as any).spec.containers[0].resources.limits.memory;
    const memory = await validateManifests(pod, { severity: { 'policy/resources/cpu-limit': 'warning' } });
    expect(memory.errors.map((e) => e.path)).toEqual(['spec.containers[0].resources.limits.memory']);
  });
});

test('quantities parse like resource.ParseQuantity', () => {
  expect(parseQuantity('500m')).toBeCloseTo(0.5);
  expect(parseQuantity('1.5')).toBe(1.5);
  expect(parseQuantity('128Mi')).toBe(128 * 2 ** 20);
  expect(parseQuantity('1G')).toBe(1e9);
  expect(parseQuantity('1e3')).toBe(1000);
  expect(parseQuantity('.5Ki')).toBe(512);
  expect(parseQuantity(2)).toBe(2);
  expect(parseQuantity('-1Gi')).toBe(-(2 ** 30));
  for (const bad of ['1GB', '100 millicores', 'lots', '', 'Mi', ' 1', '1.2.3', '1ki']) expect(parseQuantity(bad)).toBeUndefined();
});
