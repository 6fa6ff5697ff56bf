import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { App } from 'cdk8s';
import { buildApp } from '../main';

// dist/ is committed so GitOps reviews see every change: it must be exactly what main.ts synthesizes now.
describe('dist/ matches main.ts', () => {
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'cdk8s-agents-dist-'));
  afterAll(() => fs.rmSync(outdir, { recursive: true, force: true }));
  buildApp(new App({ outdir })).synth();
  const distDir = path.join(__dirname, '..', 'dist');
  // Only the manifests: `cdk8s synth` with validations also writes (ignored) construct metadata JSON.
  const manifests = (dir: string) => (fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith('.yaml')).sort() : []);
  const fresh = manifests(outdir);

  test('same files', () => {
    expect(fresh.length).toBeGreaterThan(0);
    expect(manifests(distDir)).toEqual(fresh);
  });

  test.each(fresh)('%s is up to date (run `npm run synth` and commit dist/)', (file) => {
    const committed = fs.readFileSync(path.join(distDir, file), 'utf8');
    expect(committed).toBe(fs.readFileSync(path.join(outdir, file), 'utf8'));
  });
});
