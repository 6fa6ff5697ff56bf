/**
 * The real `cdk8s synth` with the validation plugin (cdk8s.yaml `validations:`), on a good and a
 * broken app under apps/. The CLI exits 2 when a validation report fails.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

const CLI = path.join(__dirname, '..', '..', 'node_modules', 'cdk8s-cli', 'bin', 'cdk8s');

function synth(app: 'good' | 'broken', ...extra: string[]) {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), `cdk8s-synth-${app}-`));
  const out = path.join(tmp, 'dist');
  const report = path.join(tmp, 'reports.json');
  const res = spawnSync(process.execPath, [CLI, 'synth', '--no-check-upgrade', '-o', out, '--validation-reports-output-file', report, ...extra], {
    cwd: path.join(__dirname, 'apps', app),
    encoding: 'utf8',
    timeout: 120_000,
    env: { ...process.env, FORCE_COLOR: '0', NO_COLOR: '1' },
  });
  const reports = fs.existsSync(report) ? JSON.parse(fs.readFileSync(report, 'utf8')) : undefined;
  const manifests = fs.existsSync(out) ? fs.readdirSync(out) : [];
  fs.rmSync(tmp, { recursive: true, force: true });
  return { status: res.status, output: `${res.stdout}\n${res.stderr}`, reports, manifests };
}

jest.setTimeout(120_000);

test('a good app synthesizes and passes validation (exit 0)', () => {
  const r = synth('good');
  expect(r.output).toContain('Validations ended succesfully');
  expect(r.status).toBe(0);
  expect(r.manifests).toContain('agents.k8s.yaml');
  expect(r.reports.reports[0].summary.status).toBe('success');
  expect(r.reports.reports[0].violations).toEqual([]);
});

test('a broken app fails (exit 2) with object, field path, construct path and rule in the report', () => {
  const r = synth('broken');
  expect(r.status).toBe(2);
  expect(r.output).toContain('Validation failed');
  const report = r.reports.reports[0];
  expect(report.summary.status).toBe('failure');
  const byRule = Object.fromEntries(report.violations.map((v: any) => [v.ruleName, v]));
  expect(Object.keys(byRule).sort()).toEqual(['exceptions/unused (warning)', 'prometheus/duration (error)', 'pss/privileged (error)', 'schema/unknown-field (error)']);
  const vs = byRule['schema/unknown-field (error)'].violatingConstructs[0];
  expect(vs.locations[0]).toContain('VirtualService/agents/planner spec.http[0].retries.perTryTimout: unknown field "perTryTimout" (did you mean "perTryTimeout"?)');
  expect(vs.locations[0]).toContain('[construct: agents/virtual-service]');
  expect(vs.manifestPath).toMatch(/agents\.k8s\.yaml$/);
  const priv = byRule['pss/privileged (error)'].violatingConstructs[0];
  expect(priv.locations[0]).toContain('Deployment/agents/planner spec.template.spec.containers[0].securityContext.privileged');
  expect(priv.locations[0]).toContain('[construct: agents/deployment]');
  const dur = byRule['prometheus/duration (error)'].violatingConstructs[0];
  expect(dur.locations[0]).toContain('PrometheusRule/agents/planner spec.groups[0].rules[0].for');
  // The readable table printed by cdk8s carries the same facts.
  expect(r.output).toContain('spec.http[0].retries.perTryTimout');
  expect(r.output).toContain('schema/unknown-field (error)');
});

test('--no-validate still synthesizes the broken app (exit 0, no report)', () => {
  const r = synth('broken', '--no-validate');
  expect(r.status).toBe(0);
  expect(r.output).not.toContain('Performing validations');
  expect(r.manifests).toContain('agents.k8s.yaml');
  expect(r.reports).toBeUndefined();
});
