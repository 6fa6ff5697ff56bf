import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

// What `npm pack` puts in the tarball: exactly what runs (compiled code, declarations, data) and the
// docs, never sources, tests or the generated imports/*.ts. `npm test` builds lib/ first.
const ROOT = path.resolve(__dirname, '..', '..');
const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));

interface PackResult { files: { path: string }[] }

describe('npm pack', () => {
  const [result] = JSON.parse(
    execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }),
  ) as PackResult[];
  const files = result.files.map((f) => f.path).sort();

  test('builds lib/ from a clean tree before packing (prepack)', () => {
    expect(pkg.scripts.prepack).toMatch(/clean.*build|build/);
    expect(pkg.scripts.build).toMatch(/tsc -p tsconfig.json/);
  });

  test('ships only compiled code, declarations, JSON data, schemas, docs and examples', () => {
    const allowed = [/^lib\/.*\.(js|d\.ts|json)$/, /^schemas\/[^/]+\.json$/, /^docs\/.*\.md$/, /^examples\//, /^(README|BENCHMARKS)\.md$/, /^package\.json$/];
    expect(files.filter((f) => !allowed.some((re) => re.test(f)))).toEqual([]);
    // No TypeScript sources (the 1.6 MB imports/*.ts included), no tests, no example app.
    expect(files.filter((f) => /\.ts$/.test(f) && !f.endsWith('.d.ts'))).toEqual([]);
    expect(files.filter((f) => /(^|\/)(test|__snapshots__)\//.test(f) || /\.test\./.test(f) || f.startsWith('lib/main.'))).toEqual([]);
  });

  test('ships every entry point the package.json names, with its declarations', () => {
    const targets = new Set<string>([pkg.main, pkg.types, ...Object.values(pkg.bin as Record<string, string>)]);
    const walk = (v: unknown): void => {
      if (typeof v === 'string') targets.add(v);
      else if (v && typeof v === 'object') Object.values(v).forEach(walk);
    };
    walk(pkg.exports);
    walk(pkg.typesVersions);
    const missing = [...targets].map((t) => t.replace(/^\.\//, '')).filter((t) => !files.includes(t));
    expect(missing).toEqual([]);
    // The validator's schema data and every compiled module of the layers.
    for (const f of ['lib/testing/schemas/k8s.json', 'lib/testing/schemas/crds.json', 'lib/index.js', 'lib/system/index.js', 'lib/sidecar/cli.js', 'lib/testing/plugin.js']) {
      expect(files).toContain(f);
    }
  });

  test('every subpath export with types has a typesVersions entry (for moduleResolution node10)', () => {
    const subpaths = Object.entries(pkg.exports as Record<string, unknown>)
      .filter(([k, v]) => k !== '.' && typeof v === 'object' && v !== null && 'types' in v)
      .map(([k, v]) => [k.replace(/^\.\//, ''), (v as { types: string }).types.replace(/^\.\//, '')]);
    expect(subpaths.length).toBeGreaterThan(0);
    for (const [sub, types] of subpaths) expect(pkg.typesVersions['*'][sub]).toEqual([types]);
  });

  test('every import of the package in README.md and docs/ names an exported entry point', () => {
    const docs = ['README.md', ...fs.readdirSync(path.join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];
    const specifiers = docs.flatMap((d) => [...fs.readFileSync(path.join(ROOT, d), 'utf8').matchAll(/from '(cdk8s-agents(?:\/[^']*)?)'/g)].map((m) => `${d}: ${m[1]}`));
    expect(specifiers.length).toBeGreaterThan(3);
    const exported = new Set(Object.keys(pkg.exports).map((k) => k.replace(/^\./, 'cdk8s-agents')));
    expect(specifiers.filter((s) => !exported.has(s.split(': ')[1]))).toEqual([]);
  });
});
