/**
 * The broken-manifest corpus: every fixture under fixtures/broken lists the problems it must
 * produce in `# expect: <severity> <rule> <object> <path>` lines, and must produce nothing else.
 */
import * as fs from 'fs';
import * as path from 'path';
import { findPromtool, validateManifests } from '../../testing';
import { BUILTIN_RULES } from '../../testing/builtin';
import { noteSkip } from '../support/skips';
import { FIXTURES, loadYaml } from './support';

const dir = path.join(FIXTURES, 'broken');
const files = fs.readdirSync(dir).filter((f) => f.endsWith('.yaml')).sort();
const havePromtool = !!findPromtool();
if (!havePromtool) {
  const msg = 'promtool is not installed: the promtool fixtures of the corpus are SKIPPED';
  if (process.env.CDK8S_AGENTS_REQUIRE_SERVERS === '1') throw new Error(msg);
  noteSkip('the promtool fixtures of the broken-manifest corpus', 'promtool');
}

interface Expectation {
  severity: string;
  rule: string;
  object: string;
  path: string;
}

function expectations(file: string): Expectation[] {
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.startsWith('# expect: '))
    .map((l) => {
      const [severity, rule, object, p] = l.slice('# expect: '.length).trim().split(/\s+/);
      return { severity, rule, object, path: p ?? '' };
    });
}

test('the corpus has at least 30 broken manifests', () => {
  expect(files.length).toBeGreaterThanOrEqual(30);
});

describe.each(files)('%s', (file) => {
  const full = path.join(dir, file);
  const expected = expectations(full);
  const needsPromtool = expected.some((e) => e.rule === 'prometheus/promtool');

  (needsPromtool && !havePromtool ? test.skip : test)('reports exactly the expected problems, with their field paths', async () => {
    expect(expected.length).toBeGreaterThan(0);
    const result = await validateManifests(loadYaml(full), { promtool: needsPromtool ? true : 'auto' });
    const got = result.problems.map((p) => ({ severity: p.severity, rule: p.rule, object: p.object, path: p.path }));
    expect(got).toEqual(expect.arrayContaining(expected));
    expect(got).toHaveLength(expected.length);
    expect(result.ok).toBe(!expected.some((e) => e.severity === 'error'));
    for (const p of result.problems) expect(p.message.length).toBeGreaterThan(10);
  });
});

describe('valid twins', () => {
  const twinDir = path.join(FIXTURES, 'twins');
  const twins = fs.readdirSync(twinDir).filter((f) => f.endsWith('.yaml')).sort();

  test('every twin has its broken fixture', () => {
    for (const t of twins) expect(files).toContain(t);
  });

  test('every rule of the corpus, every built-in and every CEL rule has a broken fixture with a valid twin', () => {
    const covered = new Set(twins.flatMap((t) => expectations(path.join(dir, t)).map((e) => e.rule)));
    const inCorpus = files.flatMap((f) => expectations(path.join(dir, f)).map((e) => e.rule));
    const missing = [...new Set([...inCorpus, ...Object.keys(BUILTIN_RULES), 'cel/validation', 'cel/evaluation-error'])].filter((r) => !covered.has(r));
    expect(missing).toEqual([]);
  });

  test.each(twins)('twin %s produces no problem', async (twin) => {
    const objects = loadYaml(path.join(twinDir, twin));
    const promql = objects.some((o) => o.kind === 'PrometheusRule');
    if (promql && !havePromtool) return; // reported above (the promtool fixtures are skipped)
    const result = await validateManifests(objects, { promtool: promql ? true : 'auto' });
    expect(result.problems).toEqual([]);
  });
});
