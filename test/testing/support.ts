import * as fs from 'fs';
import * as path from 'path';
import * as YAML from 'yaml';
import type { K8sObject } from '../../testing';

export const FIXTURES = path.join(__dirname, 'fixtures');

/** All documents of a YAML file (empty documents dropped). */
export function loadYaml(file: string): K8sObject[] {
  return YAML.parseAllDocuments(fs.readFileSync(file, 'utf8'))
    .map((d) => d.toJS())
    .filter((d) => d !== null && d !== undefined);
}

/** Every valid fixture, in one set. */
export function validFixtures(): K8sObject[] {
  const dir = path.join(FIXTURES, 'valid');
  return fs.readdirSync(dir).sort().flatMap((f) => loadYaml(path.join(dir, f)));
}

export function clone<T>(x: T): T {
  return JSON.parse(JSON.stringify(x));
}
