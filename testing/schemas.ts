/**
 * Schema sources and compiled validators (each compiled once per process and cached).
 *
 * - Core kinds: the validators of the npm package `kubernetes-models` (CommonJS in the pinned 4.x;
 *   an ESM-only 5.x is loaded with a real dynamic import) for types, enums and formats, plus a strict
 *   pass over the field tree in `schemas/k8s.json` (generated from kubernetes-models' declarations,
 *   with recorded fixes for the newer API) for unknown fields, which kubernetes-models ignores while
 *   the API server prunes them silently, and for required fields.
 * - Custom kinds: the openAPIV3Schema of the pinned upstream CRDs in `schemas/crds.json`, rewritten
 *   with structural-schema semantics (unknown fields are errors unless preserved, int-or-string, ...).
 */
import * as path from 'path';
import { pathToFileURL } from 'url';
import Ajv, { ErrorObject, ValidateFunction } from 'ajv';

/** One ajv-style error (both kubernetes-models and ajv report this shape). */
export type SchemaError = Pick<ErrorObject, 'instancePath' | 'schemaPath' | 'keyword' | 'params'> & {
  message?: string;
  /** The schema node that failed (ajv `verbose`); used for "did you mean" hints and oneOf messages. */
  parentSchema?: any;
  data?: unknown;
};

/** A validator for one apiVersion/kind. */
export interface KindValidator {
  readonly source: 'kubernetes-models' | 'crd';
  /** Runs every pass; returns [] when valid. */
  validate(obj: unknown): SchemaError[];
}

interface CrdEntry {
  group: string;
  version: string;
  kind: string;
  scope: string;
  deprecated: boolean;
  schema: any;
}
interface CrdData {
  sources: Array<Record<string, unknown>>;
  kinds: Record<string, CrdEntry>;
}
interface CoreData {
  source: { package: string; version: string };
  /** Where the tree differs from kubernetes-models' declarations (scripts/extract-crd-schemas.js, CORE_FIXES). */
  fixes: Record<'required' | 'optional' | 'unchecked', Record<string, string[]>>;
  kinds: Record<string, { apiVersion: string; kind: string; $ref: string }>;
  definitions: Record<string, any>;
}

// Imported (not read with fs) so that tsc copies the generated data next to the compiled files.
import crdJson from './schemas/crds.json';
import coreJson from './schemas/k8s.json';

export function crdSchemas(): CrdData {
  return crdJson as unknown as CrdData;
}
export function coreSchemas(): CoreData {
  return coreJson as unknown as CoreData;
}

// ---------------------------------------------------------------------------------------------
// ajv

/** Go (RE2) patterns in CRDs use inline flags such as `(?i)`; JavaScript wants them as RegExp flags. */
function goRegExp(pattern: string, u: string): RegExp {
  let flags = u;
  let p = pattern;
  const m = /^(\^?)\(\?([a-z]+)\)/.exec(p);
  if (m) {
    if (m[2].includes('i')) flags += 'i';
    if (m[2].includes('s')) flags += 's';
    if (m[2].includes('m')) flags += 'm';
    p = m[1] + p.slice(m[0].length);
  }
  try {
    return new RegExp(p, flags);
  } catch {
    return new RegExp(p, flags.replace('u', ''));
  }
}
(goRegExp as any).code = 'goRegExp';

const GO_DURATION = /^[-+]?(([0-9]+(\.[0-9]*)?|\.[0-9]+)(ns|us|µs|ms|s|m|h))+$|^0$/;

let ajvInstance: Ajv | undefined;
function ajv(): Ajv {
  if (ajvInstance) return ajvInstance;
  const a = new Ajv({
    allErrors: true,
    strict: false,
    verbose: true,
    validateSchema: false,
    code: { regExp: goRegExp as any },
  });
  // Formats the API server understands in CRD schemas (k8s.io/kube-openapi/pkg/validation/strfmt).
  a.addFormat('int32', { type: 'number', validate: (n: number) => Number.isInteger(n) && n >= -2147483648 && n <= 2147483647 });
  a.addFormat('int64', { type: 'number', validate: (n: number) => Number.isInteger(n) });
  a.addFormat('float', { type: 'number', validate: () => true });
  a.addFormat('double', { type: 'number', validate: () => true });
  a.addFormat('byte', /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/);
  a.addFormat('binary', true);
  a.addFormat('password', true);
  a.addFormat('date-time', /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/);
  a.addFormat('date', /^\d{4}-\d{2}-\d{2}$/);
  a.addFormat('duration', GO_DURATION);
  // x-kubernetes-list-type: map -> items must be unique by their list-map-keys (the API server rejects duplicates).
  a.addKeyword({
    keyword: 'k8sListMapKeys',
    type: 'array',
    schemaType: 'array',
    errors: true,
    validate: function check(keys: string[], data: unknown[]): boolean {
      const seen = new Map<string, number>();
      const errors: any[] = [];
      data.forEach((item, i) => {
        if (!item || typeof item !== 'object') return;
        const id = JSON.stringify(keys.map((k) => (item as any)[k]));
        const first = seen.get(id);
        if (first !== undefined) {
          errors.push({ keyword: 'k8sListMapKeys', params: { keys, first, duplicate: i }, message: `duplicate entry: items ${first} and ${i} have the same ${keys.join(', ')}` });
        } else seen.set(id, i);
      });
      (check as any).errors = errors;
      return errors.length === 0;
    },
  });
  const core = coreSchemas();
  a.addSchema({ $id: 'k8s', definitions: core.definitions });
  return (ajvInstance = a);
}

// ---------------------------------------------------------------------------------------------
// kubernetes-models

const dynamicImport: (specifier: string) => Promise<any> = new Function('s', 'return import(s)') as any;

/**
 * Imports an ES module from CommonJS. tsc (module commonjs) turns `import()` into `require()`, hence
 * the Function wrapper; inside jest (no --experimental-vm-modules) that fails, so fall back to a
 * vm script that uses the main context's ESM loader.
 */
async function importEsm(specifier: string): Promise<any> {
  try {
    return await dynamicImport(specifier);
  } catch (e: any) {
    if (!/dynamic import callback|experimental-vm-modules|ERR_VM_DYNAMIC_IMPORT/i.test(String(e?.message ?? e) + String(e?.code ?? ''))) throw e;
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const vm = require('vm');
    // Reading the constant emits an ExperimentalWarning on some Node versions; keep test output clean.
    const emit = process.emitWarning;
    process.emitWarning = ((w: any, ...rest: any[]) => {
      if (!String(w?.message ?? w).includes('USE_MAIN_CONTEXT_DEFAULT_LOADER')) (emit as any).call(process, w, ...rest);
    }) as any;
    let loader: unknown;
    try {
      loader = vm.constants?.USE_MAIN_CONTEXT_DEFAULT_LOADER;
    } finally {
      process.emitWarning = emit;
    }
    if (!loader) throw e;
    const fn = vm.runInThisContext('(s) => import(s)', { importModuleDynamically: loader });
    return fn(specifier);
  }
}

/**
 * One kubernetes-models validator module. 4.x (the pinned version: it supports Node 20) ships
 * CommonJS next to ESM, so a plain require() loads it; 5.x is ESM-only (and Node >= 22), hence the
 * import() fallback. Through import(), a CommonJS module's exports are under `default`.
 */
async function loadKmValidator(file: string): Promise<KmValidate | undefined> {
  let mod: any;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    mod = require(file);
  } catch (e: any) {
    if (e?.code !== 'ERR_REQUIRE_ESM') throw e;
    mod = await importEsm(pathToFileURL(file).href);
  }
  return mod?.validate ?? mod?.default?.validate;
}

/** kubernetes-models' schema module name: apps/v1 Deployment -> IoK8sApiAppsV1Deployment. */
function kmSchemaName(apiVersion: string, kind: string): string {
  const [group, version] = apiVersion.includes('/') ? apiVersion.split('/') : ['core', apiVersion];
  const g = group.replace(/\.k8s\.io$/, '').replace(/^rbac\.authorization$/, 'rbac').split('.').map((s) => s[0].toUpperCase() + s.slice(1)).join('');
  const v = version[0].toUpperCase() + version.slice(1);
  return `IoK8sApi${g}${v}${kind}`;
}

type KmValidate = ((d: unknown) => boolean) & { errors?: SchemaError[] | null };
interface KmState {
  loaded: Map<string, KmValidate>;
  failure?: string;
}
let kmState: KmState | undefined;

/**
 * Loads kubernetes-models' validators for all core kinds we know. Returns a note when the package
 * cannot be loaded (then only the generated field tree is used, which still checks types and enums).
 */
export async function loadKubernetesModels(): Promise<string | undefined> {
  if (kmState) return kmState.failure;
  const loaded = new Map<string, KmValidate>();
  const state: KmState = { loaded };
  const failures: string[] = [];
  // Resolve from this package (not from the working directory, which a bare specifier in a
  // Function-made import() would use), then import by file URL.
  let dir: string;
  try {
    dir = path.dirname(require.resolve('kubernetes-models/package.json'));
  } catch (e: any) {
    state.failure = `kubernetes-models is not installed (${String(e?.message ?? e).split('\n')[0]}); core kinds are checked against the generated field tree only`;
    kmState = state;
    return state.failure;
  }
  await Promise.all(
    Object.values(coreSchemas().kinds).map(async ({ apiVersion, kind }) => {
      try {
        const validate = await loadKmValidator(path.join(dir, '_schemas', `${kmSchemaName(apiVersion, kind)}.js`));
        // A module without a validate function would otherwise drop every check for the kind silently.
        if (typeof validate !== 'function') throw new Error('the module exports no validate function');
        loaded.set(`${apiVersion}/${kind}`, validate);
      } catch (e: any) {
        failures.push(`${apiVersion} ${kind}: ${String(e?.message ?? e).split('\n')[0]}`);
      }
    }),
  );
  if (failures.length) {
    state.failure = `kubernetes-models validators could not be loaded for ${failures.length} kind(s) (${failures.sort()[0]}${failures.length > 1 ? ', ...' : ''}); those are checked against the generated field tree only`;
  }
  kmState = state;
  return state.failure;
}

// ---------------------------------------------------------------------------------------------
// CRD structural schema -> ajv schema

/**
 * Rewrites a structural schema for ajv: unknown fields become errors (additionalProperties: false)
 * unless x-kubernetes-preserve-unknown-fields, int-or-string becomes a type union, and the root
 * `metadata` is checked as a real ObjectMeta.
 */
export function structuralToAjv(node: any, root = true): any {
  if (Array.isArray(node)) return node.map((n) => structuralToAjv(n, false));
  if (!node || typeof node !== 'object') return node;
  const out: any = {};
  for (const [k, v] of Object.entries(node)) {
    if (k.startsWith('x-kubernetes-') || k === 'default' || k === 'example') continue;
    if (k === 'properties' || k === 'patternProperties') {
      out[k] = Object.fromEntries(Object.entries(v as object).map(([p, s]) => [p, structuralToAjv(s, false)]));
    } else {
      out[k] = structuralToAjv(v, false);
    }
  }
  if (node['x-kubernetes-int-or-string']) {
    out.type = ['integer', 'string'];
    if (Array.isArray(out.anyOf) && out.anyOf.every((s: any) => s && Object.keys(s).length === 1 && s.type)) delete out.anyOf;
  }
  if (node['x-kubernetes-embedded-resource']) {
    out.properties = { apiVersion: { type: 'string' }, kind: { type: 'string' }, metadata: { type: 'object' }, ...(out.properties ?? {}) };
  }
  if (node['x-kubernetes-list-type'] === 'map' && Array.isArray(node['x-kubernetes-list-map-keys'])) out.k8sListMapKeys = node['x-kubernetes-list-map-keys'];
  if (node['x-kubernetes-list-type'] === 'set') out.uniqueItems = true;
  const preserve = node['x-kubernetes-preserve-unknown-fields'] === true;
  const isObject = out.type === 'object' || (out.type === undefined && out.properties);
  if (isObject && !preserve && out.additionalProperties === undefined) out.additionalProperties = false;
  if (root) {
    // The API server always accepts apiVersion/kind/metadata at the root, declared or not.
    out.properties = { apiVersion: { type: 'string' }, kind: { type: 'string' }, ...(out.properties ?? {}), metadata: { $ref: 'k8s#/definitions/ObjectMeta' } };
  }
  return out;
}

const validators = new Map<string, KindValidator | null>();

/** The validator for apiVersion/kind, or undefined when we have no schema for it. Cached. */
export function validatorFor(apiVersion: string, kind: string): KindValidator | undefined {
  const key = `${apiVersion}/${kind}`;
  if (validators.has(key)) return validators.get(key) ?? undefined;
  let v: KindValidator | null = null;
  const core = coreSchemas().kinds[key];
  const crd = crdSchemas().kinds[key];
  if (core) {
    const strict = ajv().compile({ $ref: `k8s${core.$ref}` });
    v = {
      source: 'kubernetes-models',
      validate(obj) {
        const errors: SchemaError[] = [];
        const km = kmState?.loaded.get(key);
        // `required` comes from the field tree alone: the same lists, plus the fixes for the newer
        // API recorded in k8s.json (scripts/extract-crd-schemas.js, CORE_FIXES).
        if (km && !km(obj)) errors.push(...(km.errors ?? []).filter((e) => e.keyword !== 'required'));
        if (!strict(obj)) errors.push(...(strict.errors as SchemaError[]));
        return errors;
      },
    };
  } else if (crd) {
    const fn: ValidateFunction = ajv().compile(structuralToAjv(crd.schema));
    v = {
      source: 'crd',
      validate(obj) {
        return fn(obj) ? [] : ((fn.errors ?? []) as SchemaError[]);
      },
    };
  }
  validators.set(key, v);
  return v ?? undefined;
}

/** Metadata about a custom kind (scope, deprecation), when we have its CRD. */
export function crdInfo(apiVersion: string, kind: string): CrdEntry | undefined {
  return crdSchemas().kinds[`${apiVersion}/${kind}`];
}

/** Every apiVersion/kind that has a schema. */
export function knownKinds(): string[] {
  return [...Object.keys(coreSchemas().kinds), ...Object.keys(crdSchemas().kinds)].sort();
}
