/** The plugin class driven by cdk8s-cli's own ValidationContext (the object `cdk8s synth` passes). */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as YAML from 'yaml';
import { AgentsValidation } from '../../testing';
import { clone, validFixtures } from './support';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { ValidationContext } = require(path.join(path.dirname(require.resolve('cdk8s-cli/package.json')), 'lib', 'plugins', 'validation.js'));

function manifestDir(objects: unknown[], metadata?: Record<string, { path: string }>) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'plugin-test-'));
  const file = path.join(dir, 'app.k8s.yaml');
  fs.writeFileSync(file, objects.map((o) => YAML.stringify(o)).join('---\n'));
  const context = new ValidationContext([file], 'cdk8s-agents', '0.1.0', metadata ?? {}, false);
  return { dir, file, context };
}

test('valid manifests: success and no violation', async () => {
  const { dir, context } = manifestDir(validFixtures());
  await new AgentsValidation({}).validate(context);
  expect(context.report.success).toBe(true);
  expect(context.report.toJson().violations).toEqual([]);
  fs.rmSync(dir, { recursive: true });
});

test('violations per rule, construct paths from metadata only for unique names, JSON report, exceptions', async () => {
  const objs = clone(validFixtures());
  const dep = objs.find((o) => o.kind === 'Deployment') as any;
  dep.spec.template.spec.containers[0].securityContext.privileged = true;
  const cm = objs.find((o) => o.kind === 'ConfigMap') as any;
  cm.data.port = 8080;
  const { dir, context } = manifestDir(objs, { planner: { path: 'app/planner/Service' }, 'planner-config': { path: 'app/planner/Config' } });
  const jsonReport = path.join(dir, 'out', 'result.json');
  await new AgentsValidation({ jsonReport, exceptions: [{ rule: 'schema/type', object: 'ConfigMap/agents/planner-config', reason: 'testing suppression' }] }).validate(context);
  expect(context.report.success).toBe(false);
  const json = context.report.toJson();
  expect(json.violations.map((v: any) => v.ruleName)).toEqual(['pss/privileged (error)']);
  const c = json.violations[0].violatingConstructs[0];
  // "planner" names several objects: cdk8s' name-keyed metadata would point at the Service.
  expect(c.resourceName).toBe('Deployment/agents/planner');
  expect(c.constructPath).toBeUndefined();
  expect(c.locations).toEqual(['Deployment/agents/planner spec.template.spec.containers[0].securityContext.privileged: container "agent" must not be privileged']);
  const written = JSON.parse(fs.readFileSync(jsonReport, 'utf8'));
  expect(written.summary).toEqual({ objects: objs.length, errors: 1, warnings: 0, suppressed: 1 });
  expect(written.suppressed[0]).toMatchObject({ rule: 'schema/type', path: 'data.port', reason: 'testing suppression', constructPath: 'app/planner/Config' });
  fs.rmSync(dir, { recursive: true });
});

test('failOnWarnings turns warnings into a failed report', async () => {
  const { dir, context } = manifestDir([{ apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'w' } }]);
  await new AgentsValidation({ failOnWarnings: true }).validate(context);
  expect(context.report.success).toBe(false);
  expect(context.report.toJson().violations[0].ruleName).toBe('schema/unknown-kind (warning)');
  fs.rmSync(dir, { recursive: true });
});
