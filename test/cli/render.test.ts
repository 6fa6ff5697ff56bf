import { kustomization, layoutFiles, renderSystem } from '../../cli/render';
import { parseSystemSpec, SystemSpecError } from '../../system/system-spec';

function spec(input: unknown) {
  const r = parseSystemSpec(input);
  if (!r.success) throw new Error(JSON.stringify(r.issues));
  return r.data;
}

describe('render', () => {
  test('an agent named "kustomization" cannot use the per-agent layout; the error names the agent field', () => {
    const s = spec({ agents: [{ name: 'kustomization', image: 'ghcr.io/acme/k:1.0.0' }] });
    expect(() => renderSystem(s, 'per-agent', 'system.yaml')).toThrow(SystemSpecError);
    try {
      renderSystem(s, 'per-agent', 'system.yaml');
    } catch (e) {
      expect((e as SystemSpecError).issues).toEqual([{ path: ['agents', 0, 'name'], message: expect.stringMatching(/reserved for the kustomization/) }]);
    }
    expect(renderSystem(s, 'single', 'system.yaml').files.has('multi-agents.yaml')).toBe(true);
  });

  test('per-resource: a kind and name repeated in two namespaces is qualified by namespace', () => {
    const objects = ['a', 'b'].map((ns) => ({ json: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'same', namespace: ns } } }));
    const files = layoutFiles(spec({ agents: [{ name: 'x', image: 'ghcr.io/acme/x:1.0.0' }] }), objects as never, 'per-resource');
    expect([...files.keys()]).toEqual(['configmap-same.yaml', 'configmap-b-same.yaml']);
  });

  test('kustomization lists resources in code point order, whatever the locale', () => {
    expect(kustomization(['b.yaml', '_system.yaml', 'B.yaml', 'a-b.yaml', 'a.yaml'], 's.yaml').split('\n').filter((l) => l.startsWith('  - '))).toEqual([
      '  - B.yaml', '  - _system.yaml', '  - a-b.yaml', '  - a.yaml', '  - b.yaml',
    ]);
  });
});
