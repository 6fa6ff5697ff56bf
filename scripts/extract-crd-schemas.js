#!/usr/bin/env node
/*
 * Generates the schema data that `cdk8s-agents/testing` validates against, so the validator works
 * from a fresh clone (no /work/shared, no network):
 *
 *   testing/schemas/crds.json  openAPIV3Schema of every served version of every CRD in the CRD folder
 *                              (descriptions stripped), keyed by "group/version/Kind", with provenance
 *                              (upstream repo, tag, commit, path, sha256) read from the folder's README,
 *                              and its x-kubernetes-validations (CEL) rules with their schema paths.
 *   testing/schemas/k8s.json   the field tree of the core kinds (Deployment, Service, ...), derived with
 *                              the TypeScript compiler from the type declarations of the npm package
 *                              `kubernetes-models` (which itself is generated from the Kubernetes OpenAPI).
 *                              kubernetes-models' own validators do not report unknown fields; this tree
 *                              is what the strict (unknown field = error) pass uses.
 *
 * Usage: node scripts/extract-crd-schemas.js [CRD_DIR]   (default: ../shared/crds)
 *        node scripts/extract-crd-schemas.js --check [CRD_DIR]   exit 1 when the committed data is stale
 */
'use strict';
const fs = require('fs');
const path = require('path');
const crypto = require('crypto');

const root = path.resolve(__dirname, '..');
const outDir = path.join(root, 'testing', 'schemas');

const args = process.argv.slice(2);
const check = args.includes('--check');
const crdDir = path.resolve(root, args.find((a) => !a.startsWith('--')) ?? '../shared/crds');

/** Reads the "Sources" and "Checksums" tables of the CRD folder's README. */
function readProvenance(dir) {
  const readme = path.join(dir, 'README.md');
  const out = {};
  if (!fs.existsSync(readme)) return out;
  const cells = (line) => line.split('|').slice(1, -1).map((c) => c.trim());
  const strip = (s) => s.replace(/`/g, '');
  for (const line of fs.readFileSync(readme, 'utf8').split('\n')) {
    if (!line.startsWith('| `')) continue;
    const c = cells(line);
    // One row may name several files of the same source: `a.yaml`, `b.yaml`.
    const files = c[0].split(',').map((f) => strip(f.trim())).filter(Boolean);
    for (const file of files) {
      out[file] = out[file] ?? { file };
      if (c.length >= 6 && c[1].startsWith('[')) {
        // | file(s) | [owner/repo](url) | `path` (a `<kind>` placeholder for several files) | `tag` (`commit`) | kinds | license |
        const repo = /\[([^\]]+)\]\(([^)]+)\)/.exec(c[1]);
        const tag = /`([^`]+)`\s*\(`([0-9a-f]{40})`\)/.exec(c[3]);
        const p = strip(c[2]);
        Object.assign(out[file], {
          repository: repo ? repo[2] : c[1],
          path: p.includes('<') ? path.posix.join(path.posix.dirname(p), file) : p,
          tag: tag ? tag[1] : strip(c[3]),
          commit: tag ? tag[2] : undefined,
          license: c[5],
        });
      } else if (c.length === 4 && /^`[0-9a-f]{64}`$/.test(c[2])) {
        Object.assign(out[file], { bytes: Number(c[1]), sha256: strip(c[2]), gitBlob: strip(c[3]) });
      }
    }
  }
  return out;
}

/**
 * Drops `description` (documentation only) and `x-kubernetes-validations` (moved to `celRules`)
 * recursively; keeps properties literally named so.
 */
function stripDescriptions(node, isPropertiesMap = false) {
  if (Array.isArray(node)) return node.map((n) => stripDescriptions(n));
  if (!node || typeof node !== 'object') return node;
  const out = {};
  for (const [k, v] of Object.entries(node)) {
    if (!isPropertiesMap && k === 'description' && typeof v === 'string') continue;
    if (!isPropertiesMap && k === 'x-kubernetes-validations' && Array.isArray(v)) continue;
    out[k] = stripDescriptions(v, !isPropertiesMap && (k === 'properties' || k === 'patternProperties'));
  }
  return out;
}

/**
 * The x-kubernetes-validations (CEL) rules of a schema with the schema path they apply at: property
 * names, `[]` for the items of a list, `{}` for the values of a map. The API server evaluates a
 * rule with `self` bound to the value at that path, so rules are only reachable through
 * properties, items and additionalProperties; one found anywhere else is an error here.
 */
function celRules(schema, id) {
  const out = [];
  const reachable = new Set();
  const walk = (node, at) => {
    if (!node || typeof node !== 'object') return;
    for (const r of node['x-kubernetes-validations'] ?? []) {
      reachable.add(r);
      const rule = { path: at, rule: r.rule };
      for (const k of ['message', 'messageExpression', 'fieldPath', 'reason', 'optionalOldSelf']) if (r[k] !== undefined) rule[k] = r[k];
      out.push(rule);
    }
    for (const [name, sub] of Object.entries(node.properties ?? {})) walk(sub, [...at, name]);
    if (node.items && !Array.isArray(node.items)) walk(node.items, [...at, '[]']);
    if (node.additionalProperties && typeof node.additionalProperties === 'object') walk(node.additionalProperties, [...at, '{}']);
  };
  walk(schema, []);
  const all = [];
  const collect = (node) => {
    if (Array.isArray(node)) return node.forEach(collect);
    if (!node || typeof node !== 'object') return;
    for (const r of node['x-kubernetes-validations'] ?? []) all.push(r);
    Object.values(node).forEach(collect);
  };
  collect(schema);
  const lost = all.filter((r) => !reachable.has(r));
  if (lost.length) throw new Error(`${id}: ${lost.length} x-kubernetes-validations rules outside properties/items/additionalProperties (e.g. ${lost[0].rule})`);
  return out;
}

function extractCrds(dir) {
  const YAML = require('yaml');
  const provenance = readProvenance(dir);
  const files = fs.readdirSync(dir).filter((f) => /\.ya?ml$/.test(f)).sort();
  if (files.length === 0) throw new Error(`no CRD files in ${dir}`);
  const kinds = {};
  const sources = [];
  for (const file of files) {
    const raw = fs.readFileSync(path.join(dir, file));
    const sha256 = crypto.createHash('sha256').update(raw).digest('hex');
    const prov = provenance[file] ?? { file };
    if (prov.sha256 && prov.sha256 !== sha256) {
      throw new Error(`${file}: sha256 ${sha256} does not match the README (${prov.sha256}); the copy was changed`);
    }
    sources.push({ ...prov, file, sha256 });
    for (const doc of YAML.parseAllDocuments(raw.toString('utf8'))) {
      const crd = doc.toJS();
      if (!crd || crd.kind !== 'CustomResourceDefinition') continue;
      const { group, names, scope } = crd.spec;
      for (const v of crd.spec.versions ?? []) {
        if (!v.served) continue;
        const schema = v.schema?.openAPIV3Schema;
        if (!schema) continue;
        kinds[`${group}/${v.name}/${names.kind}`] = {
          group,
          version: v.name,
          kind: names.kind,
          plural: names.plural,
          scope,
          storage: !!v.storage,
          deprecated: !!v.deprecated,
          source: file,
          schema: stripDescriptions(schema),
          celRules: celRules(schema, `${group}/${v.name}/${names.kind}`),
        };
      }
    }
  }
  return {
    generatedBy: 'scripts/extract-crd-schemas.js',
    note: 'Generated. Do not edit: rerun the script. openAPIV3Schema per served group/version/kind, descriptions stripped; celRules: x-kubernetes-validations with schema paths ([] list items, {} map values).',
    sources,
    kinds: Object.fromEntries(Object.entries(kinds).sort(([a], [b]) => a.localeCompare(b))),
  };
}

/** Core kinds validated by the toolkit: apiVersion/kind -> kubernetes-models module exporting I<Kind>. */
const CORE_KINDS = [
  ['v1', 'Namespace', 'v1/Namespace'],
  ['v1', 'ConfigMap', 'v1/ConfigMap'],
  ['v1', 'Secret', 'v1/Secret'],
  ['v1', 'Service', 'v1/Service'],
  ['v1', 'ServiceAccount', 'v1/ServiceAccount'],
  ['v1', 'Pod', 'v1/Pod'],
  ['v1', 'PersistentVolumeClaim', 'v1/PersistentVolumeClaim'],
  ['v1', 'ResourceQuota', 'v1/ResourceQuota'],
  ['v1', 'LimitRange', 'v1/LimitRange'],
  ['apps/v1', 'Deployment', 'apps/v1/Deployment'],
  ['apps/v1', 'StatefulSet', 'apps/v1/StatefulSet'],
  ['apps/v1', 'DaemonSet', 'apps/v1/DaemonSet'],
  ['batch/v1', 'Job', 'batch/v1/Job'],
  ['batch/v1', 'CronJob', 'batch/v1/CronJob'],
  ['autoscaling/v2', 'HorizontalPodAutoscaler', 'autoscaling/v2/HorizontalPodAutoscaler'],
  ['policy/v1', 'PodDisruptionBudget', 'policy/v1/PodDisruptionBudget'],
  ['networking.k8s.io/v1', 'NetworkPolicy', 'networking.k8s.io/v1/NetworkPolicy'],
  ['networking.k8s.io/v1', 'Ingress', 'networking.k8s.io/v1/Ingress'],
  ['rbac.authorization.k8s.io/v1', 'Role', 'rbac.authorization.k8s.io/v1/Role'],
  ['rbac.authorization.k8s.io/v1', 'RoleBinding', 'rbac.authorization.k8s.io/v1/RoleBinding'],
  ['rbac.authorization.k8s.io/v1', 'ClusterRole', 'rbac.authorization.k8s.io/v1/ClusterRole'],
  ['rbac.authorization.k8s.io/v1', 'ClusterRoleBinding', 'rbac.authorization.k8s.io/v1/ClusterRoleBinding'],
];

/**
 * Where the pinned kubernetes-models 4.5.1 (the Kubernetes 1.33 API; the newest release that supports
 * Node 20, 5.x needs Node 22) differs from the newer API that 5.1.0 encodes, found by validating every
 * object of dist/ and the test fixtures, each field mutated, with both versions' validators:
 * - required: 5.x requires these (the API server rejects the object without them in every version);
 * - optional: 5.x no longer requires these (an omitted podSelector is the empty selector);
 * - unchecked: fields added after 1.33 (all alpha), accepted without checking their contents, so
 *   that the strict pass does not call them unknown.
 * The validator takes `required` from this tree only (kubernetes-models' `required` errors are
 * dropped: they are the same lists, before these fixes). An entry that no longer applies is an error.
 */
const CORE_FIXES = {
  required: { CronJob: ['spec'], HorizontalPodAutoscaler: ['spec'] },
  optional: { NetworkPolicySpec: ['podSelector'] },
  unchecked: {
    Container: ['restartPolicyRules'],
    EphemeralContainer: ['restartPolicyRules'],
    EnvVarSource: ['fileKeyRef'],
    PodSpec: ['hostnameOverride', 'schedulingGroup'],
    VolumeProjection: ['podCertificate'],
  },
};

function applyCoreFixes(definitions) {
  const def = (name) => {
    if (!definitions[name]) throw new Error(`CORE_FIXES: no definition ${name} in kubernetes-models: update the table`);
    return definitions[name];
  };
  const stale = (what) => {
    throw new Error(`CORE_FIXES: ${what} already holds in this kubernetes-models version: remove the entry`);
  };
  for (const [name, fields] of Object.entries(CORE_FIXES.required)) {
    const d = def(name);
    for (const f of fields) {
      if (!d.properties?.[f]) throw new Error(`CORE_FIXES: ${name} has no field ${f}`);
      if (d.required?.includes(f)) stale(`${name}.${f} required`);
      d.required = [...(d.required ?? []), f].sort();
    }
  }
  for (const [name, fields] of Object.entries(CORE_FIXES.optional)) {
    const d = def(name);
    for (const f of fields) {
      if (!d.required?.includes(f)) stale(`${name}.${f} optional`);
      d.required = d.required.filter((r) => r !== f);
      if (!d.required.length) delete d.required;
    }
  }
  for (const [name, fields] of Object.entries(CORE_FIXES.unchecked)) {
    const d = def(name);
    for (const f of fields) {
      if (d.properties?.[f]) stale(`${name}.${f} known`);
      d.properties = Object.fromEntries(Object.entries({ ...d.properties, [f]: {} }).sort(([a], [b]) => a.localeCompare(b)));
    }
  }
}

/** Converts kubernetes-models' declarations into JSON Schema (draft 7) definitions with additionalProperties:false. */
function extractCore() {
  const ts = require('typescript');
  const kmDir = path.dirname(require.resolve('kubernetes-models/package.json', { paths: [root] }));
  const kmVersion = JSON.parse(fs.readFileSync(path.join(kmDir, 'package.json'), 'utf8')).version;
  const tmp = fs.mkdtempSync(path.join(require('os').tmpdir(), 'k8s-schemas-'));
  const entry = path.join(tmp, 'entry.ts');
  fs.writeFileSync(
    entry,
    CORE_KINDS.map(([, kind, mod], i) => `import type { I${kind} as T${i} } from ${JSON.stringify(path.join(kmDir, mod + '.js'))};\nexport type R${i} = T${i};`).join('\n'),
  );
  const program = ts.createProgram([entry], {
    module: ts.ModuleKind.ESNext,
    moduleResolution: ts.ModuleResolutionKind.Bundler,
    target: ts.ScriptTarget.ES2022,
    strict: true,
    noEmit: true,
    baseUrl: root,
    typeRoots: [],
    types: [],
  });
  const checker = program.getTypeChecker();
  const src = program.getSourceFile(entry);
  const diags = ts.getPreEmitDiagnostics(program).filter((d) => d.category === ts.DiagnosticCategory.Error);
  if (diags.length) throw new Error(ts.formatDiagnostics(diags, { getCanonicalFileName: (f) => f, getCurrentDirectory: () => root, getNewLine: () => '\n' }));
  const definitions = {};
  const inProgress = new Set();

  const defName = (type) => {
    const sym = type.aliasSymbol ?? type.getSymbol();
    const name = sym?.getName();
    return name && name !== '__type' && name !== '__object' ? name.replace(/^I(?=[A-Z])/, '') : undefined;
  };

  function toSchema(type) {
    if (type.flags & (ts.TypeFlags.Any | ts.TypeFlags.Unknown)) return {};
    if (type.isUnion()) {
      const parts = type.types.filter((t) => !(t.flags & (ts.TypeFlags.Undefined | ts.TypeFlags.Null)));
      const nullable = parts.length !== type.types.length;
      if (parts.length && parts.every((t) => t.isStringLiteral())) {
        return { type: 'string', enum: parts.map((t) => t.value).sort() };
      }
      if (parts.length && parts.every((t) => t.flags & ts.TypeFlags.BooleanLiteral)) return { type: 'boolean' };
      const schemas = parts.map(toSchema);
      const types = new Set(schemas.map((s) => s.type).filter(Boolean));
      if (schemas.every((s) => Object.keys(s).length === 1 && typeof s.type === 'string')) {
        return { type: [...types].sort() };
      }
      if (schemas.length === 1) return schemas[0];
      void nullable;
      return { anyOf: schemas };
    }
    if (type.flags & ts.TypeFlags.StringLike) {
      return type.isStringLiteral() ? { type: 'string', enum: [type.value] } : { type: 'string' };
    }
    if (type.flags & ts.TypeFlags.NumberLike) return { type: 'number' };
    if (type.flags & ts.TypeFlags.BooleanLike) return { type: 'boolean' };
    if (checker.isArrayType(type)) {
      return { type: 'array', items: toSchema(checker.getTypeArguments(type)[0]) };
    }
    if (type.flags & ts.TypeFlags.Object) {
      const name = defName(type);
      if (name && (definitions[name] || inProgress.has(name))) return { $ref: `#/definitions/${name}` };
      if (name) inProgress.add(name);
      const schema = { type: 'object' };
      const props = checker.getPropertiesOfType(type);
      const index = checker.getIndexInfoOfType(type, ts.IndexKind.String);
      if (props.length) {
        schema.properties = {};
        const required = [];
        for (const p of props.sort((a, b) => a.getName().localeCompare(b.getName()))) {
          const pt = checker.getTypeOfSymbolAtLocation(p, src);
          schema.properties[p.getName()] = toSchema(checker.getNonNullableType(pt));
          if (!(p.flags & ts.SymbolFlags.Optional)) required.push(p.getName());
        }
        if (required.length) schema.required = required;
      }
      schema.additionalProperties = index ? toSchema(index.type) : props.length ? false : true;
      if (!name) return schema;
      definitions[name] = schema;
      inProgress.delete(name);
      return { $ref: `#/definitions/${name}` };
    }
    return {};
  }

  const kinds = {};
  src.statements.filter(ts.isTypeAliasDeclaration).forEach((decl) => {
    const i = Number(decl.name.text.slice(1));
    const [apiVersion, kind] = CORE_KINDS[i];
    const ref = toSchema(checker.getTypeAtLocation(decl.name));
    kinds[`${apiVersion}/${kind}`] = { apiVersion, kind, $ref: ref.$ref };
  });
  fs.rmSync(tmp, { recursive: true, force: true });
  applyCoreFixes(definitions);
  return {
    generatedBy: 'scripts/extract-crd-schemas.js',
    note: 'Generated. Do not edit: rerun the script. Field tree of the core kinds from the kubernetes-models type declarations.',
    source: { package: 'kubernetes-models', version: kmVersion },
    fixes: CORE_FIXES,
    kinds,
    definitions: Object.fromEntries(Object.entries(definitions).sort(([a], [b]) => a.localeCompare(b))),
  };
}

function writeOrCheck(file, data) {
  const text = JSON.stringify(data) + '\n';
  const target = path.join(outDir, file);
  if (check) {
    const old = fs.existsSync(target) ? fs.readFileSync(target, 'utf8') : '';
    if (old !== text) {
      console.error(`${path.relative(root, target)} is stale: run node scripts/extract-crd-schemas.js`);
      process.exitCode = 1;
    } else console.log(`${path.relative(root, target)} is up to date`);
    return;
  }
  fs.mkdirSync(outDir, { recursive: true });
  fs.writeFileSync(target, text);
  console.log(`wrote ${path.relative(root, target)} (${text.length} bytes, ${Object.keys(data.kinds).length} kinds)`);
}

if (fs.existsSync(crdDir)) {
  writeOrCheck('crds.json', extractCrds(crdDir));
} else {
  console.error(`no CRD folder at ${crdDir}: keeping the committed testing/schemas/crds.json`);
}
writeOrCheck('k8s.json', extractCore());
