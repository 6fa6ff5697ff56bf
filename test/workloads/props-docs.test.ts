import * as fs from 'fs';
import * as path from 'path';
import { agentServicePropsSchema } from '../../constructs/spec';

// The README props table, the zod schema (and through it the JSON Schema and, at compile time,
// the AgentServiceProps interface) list the same props.
test('the README props table lists exactly the AgentService props of the schema', () => {
  const readme = fs.readFileSync(path.join(__dirname, '..', '..', 'README.md'), 'utf8');
  const start = readme.indexOf('| prop | type | default | notes |');
  expect(start).toBeGreaterThan(-1);
  const rows = readme.slice(start).split('\n').slice(2);
  const documented = new Set<string>();
  for (const row of rows) {
    if (!row.startsWith('|')) break;
    const cell = row.split('|')[1];
    for (const m of cell.matchAll(/`([A-Za-z]+)`/g)) documented.add(m[1]);
  }
  expect([...documented].sort()).toEqual(Object.keys(agentServicePropsSchema.shape).sort());
});
