import * as fs from 'node:fs';
import * as path from 'node:path';
import * as semver from 'semver';

// package.json promises a Node range (CI runs its minimum major). Every runtime dependency a user
// installs, transitive included, must accept the lowest Node of that range: otherwise every install
// warns EBADENGINE (kubernetes-models 5.x declares node >=22, hence the pinned 4.5.1).
const ROOT = path.resolve(__dirname, '..', '..');

interface LockEntry {
  version?: string;
  dev?: boolean;
  link?: boolean;
  engines?: { node?: string } | string[];
}

test('no runtime dependency in package-lock.json excludes the minimum Node of engines.node', () => {
  const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
  const lock = JSON.parse(fs.readFileSync(path.join(ROOT, 'package-lock.json'), 'utf8'));
  const minimum = semver.minVersion(pkg.engines.node);
  expect(minimum?.major).toBe(20);

  const runtime = Object.entries(lock.packages as Record<string, LockEntry>).filter(([key, e]) => key !== '' && !e.dev && !e.link);
  const offenders: string[] = [];
  let declared = 0;
  for (const [key, e] of runtime) {
    // Old lock entries may carry engines as an array of strings; npm only reads the object form.
    const range = !Array.isArray(e.engines) ? e.engines?.node : undefined;
    if (!range) continue;
    declared++;
    const name = key.slice(key.lastIndexOf('node_modules/') + 'node_modules/'.length);
    if (!semver.validRange(range) || !semver.satisfies(minimum!, range)) offenders.push(`${name}@${e.version} (${key}) requires node ${range}`);
  }
  expect(offenders).toEqual([]);
  // The check saw the real dependency tree, not an empty or unparsed one.
  expect(runtime.map(([key]) => key)).toEqual(expect.arrayContaining(['node_modules/kubernetes-models', 'node_modules/@kubernetes-models/validate', 'node_modules/zod']));
  expect(declared).toBeGreaterThan(10);
});

test('the lock file matches package.json (what `npm ci` installs is what package.json pins)', () => {
  const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
  const lock = JSON.parse(fs.readFileSync(path.join(ROOT, 'package-lock.json'), 'utf8'));
  const root = lock.packages[''];
  expect(root.dependencies).toEqual(pkg.dependencies);
  expect(root.devDependencies).toEqual(pkg.devDependencies);
  expect(root.engines).toEqual(pkg.engines);
  for (const [name, range] of Object.entries({ ...pkg.dependencies, ...pkg.devDependencies } as Record<string, string>)) {
    const installed = lock.packages[`node_modules/${name}`]?.version;
    expect([name, installed && semver.satisfies(installed, range)]).toEqual([name, true]);
  }
});
