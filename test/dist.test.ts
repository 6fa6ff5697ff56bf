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
  const fresh = fs.readdirSync(outdir).sort();

  test('same files', () => {
    expect(fs.existsSync(distDir) ? fs.readdirSync(distDir).sort() : []).toEqual(fresh);
  });

  test.each(fresh)('%s is up to date (run `npm run synth` and commit dist/)', (file) => {
    const committed = fs.readFileSync(path.join(distDir, file), 'utf8');
    expect(committed).toBe(fs.readFileSync(path.join(outdir, file), 'utf8'));
  });
});
