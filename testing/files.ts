/** Reading synthesized manifests from disk (e.g. the committed dist/ folder in CI). */
import * as fs from 'fs';
import * as path from 'path';
import * as YAML from 'yaml';
import type { K8sObject, ValidateOptions } from './types';
import { validateManifests, ValidationResult } from './validate';

function yamlFiles(p: string): string[] {
  const st = fs.statSync(p);
  if (!st.isDirectory()) return [p];
  return fs
    .readdirSync(p, { withFileTypes: true })
    .sort((a, b) => a.name.localeCompare(b.name))
    .flatMap((e) => (e.isDirectory() ? yamlFiles(path.join(p, e.name)) : /\.(ya?ml|json)$/.test(e.name) && !e.name.endsWith('.construct-paths.json') && e.name !== 'construct-metadata.json' ? [path.join(p, e.name)] : []));
}

/** Every object in the given YAML/JSON files or folders (folders are read recursively). */
export function loadManifests(paths: readonly string[]): K8sObject[] {
  const out: K8sObject[] = [];
  for (const file of paths.flatMap(yamlFiles)) {
    const text = fs.readFileSync(file, 'utf8');
    const docs = file.endsWith('.json') ? [JSON.parse(text)] : YAML.parseAllDocuments(text).map((d) => {
      if (d.errors.length) throw new Error(`${file}: ${d.errors[0].message}`);
      return d.toJS();
    });
    for (const d of docs.flat()) if (d !== null && d !== undefined) out.push(d);
  }
  return out;
}

/** `validateManifests(loadManifests(paths), options)`. */
export function validateFiles(paths: readonly string[], options?: ValidateOptions): Promise<ValidationResult> {
  return validateManifests(loadManifests(paths), options);
}
