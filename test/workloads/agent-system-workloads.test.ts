import * as fs from 'fs';
import * as path from 'path';
import { Chart, Testing } from 'cdk8s';
import { AgentSystem } from '../../system';
import { parseSystemSpec } from '../../system/system-spec';
import { issueToDiagnostic, parseSystemText } from '../../cli/source';
import { validateManifests } from '../../testing';
import { fullAgentProps } from './fixtures';

const YAML_FILE = path.join(__dirname, 'full-system.yaml');

function systemChart() {
  return new Chart(Testing.app(), 'research', { namespace: 'research', disableResourceNameHashes: true });
}

function fromYaml(text = fs.readFileSync(YAML_FILE, 'utf8')) {
  const loaded = parseSystemText('full-system.yaml', text);
  if (!loaded.ok) throw new Error(loaded.diagnostics.map((d) => d.message).join('\n'));
  return loaded;
}

describe('the held-out stack as a system', () => {
  const tsChart = systemChart();
  const tsSystem = new AgentSystem(tsChart, 'research', {
    name: 'research',
    namespace: 'research',
    agents: [
      { name: 'search', image: 'ghcr.io/example/search-mcp:0.4.0', port: 3001 },
      { name: 'researcher', ...fullAgentProps },
    ],
  });
  const tsObjects = Testing.synth(tsChart);

  test('system.yaml gives the same objects as the TypeScript props', () => {
    const yamlChart = systemChart();
    new AgentSystem(yamlChart, 'research', fromYaml().source.value as never);
    expect(Testing.synth(yamlChart)).toEqual(tsObjects);
  });

  test('every object passes the validator: schemas, restricted PSS, CEL, cross-object checks', async () => {
    const result = await validateManifests(tsChart);
    expect(result.problems.filter((p) => p.severity === 'error')).toEqual([]);
    expect(tsObjects.filter((o) => o.kind === 'StatefulSet').map((o) => o.metadata.name)).toEqual(['researcher']);
  });

  test('an agent tool is a call graph edge, and its URL uses the serving agent\'s port', () => {
    expect(tsSystem.spec.calls).toContainEqual(['researcher', 'search']);
    const researcher = tsSystem.agentSpecs.find((s) => s.name === 'researcher')!;
    expect(researcher.tools.find((t) => t.name === 'search')?.url).toBe('http://search.research.svc.cluster.local:3001/mcp');
    // The mesh admits researcher → search: the edge reached the AuthorizationPolicy of search.
    const authz = tsObjects.filter((o) => o.kind === 'AuthorizationPolicy' && JSON.stringify(o).includes('/sa/researcher'));
    expect(authz.map((o) => o.metadata.name).join(' ')).toMatch(/search/);
  });

  // Shape errors come first (zod runs cross-field rules only on a well-formed agent), so each case edits one thing.
  test.each([
    ['a tool naming an unknown agent', 'search: { agent: search }', 'search: { agent: serch }', 'agents.1.tools.search.agent', /calls unknown agent "serch"; did you mean "search"\?/],
    ['a bad runtime class', 'runtimeClassName: nvidia', 'runtimeClassName: NVIDIA', 'agents.1.runtimeClassName', /must be a DNS-1123 subdomain/],
    ['a mount without a volume', '- { name: scratch, mountPath: /scratch }', '- { name: scratchpad, mountPath: /scratch }', 'agents.1.volumeMounts.2.name', /\("scratchpad"\) names no volume/],
    ['a GPU request without a limit', 'ephemeralStorage: 8Gi, nvidia.com/gpu: "1" }', 'ephemeralStorage: 8Gi }', 'agents.1.resources.requests.nvidia.com/gpu', /needs limits\["nvidia.com\/gpu"\]/],
  ])('%s is reported at file:line with the field, and nothing is built', (_name, from, to, field, message) => {
    const original = fs.readFileSync(YAML_FILE, 'utf8');
    let text = original.replace(from, to);
    if (field.includes('gpu')) text = text.replace('requests: { cpu: "1", memory: 4Gi, ephemeralStorage: 2Gi }', 'requests: { cpu: "1", memory: 4Gi, ephemeralStorage: 2Gi, nvidia.com/gpu: "1" }');
    expect(text).not.toBe(original);
    const loaded = fromYaml(text);
    const parsed = parseSystemSpec(loaded.source.value);
    expect(parsed.success).toBe(false);
    if (parsed.success) return;
    const issue = parsed.issues.find((i) => i.path.join('.') === field);
    expect(issue?.message).toMatch(message);
    const d = issueToDiagnostic(loaded.source, issue!);
    const line = text.split('\n')[d.line - 1];
    expect(line).toContain(['serch', 'NVIDIA', 'scratchpad', 'nvidia.com/gpu'].find((token) => text.includes(token) && (to.includes(token) || field.includes('gpu'))));
    const chart = systemChart();
    expect(() => new AgentSystem(chart, 'research', loaded.source.value as never)).toThrow(message);
    expect(Testing.synth(chart)).toEqual([]);
  });
});
