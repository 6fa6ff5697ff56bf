#!/usr/bin/env node
/**
 * Removes the zod schemas from the emitted declarations (lib/**\/*.d.ts), run by `npm run build`.
 *
 * Why: zod 4's declarations only compile with `esModuleInterop` (its locale files use
 * `export =`; zod's answer is "turn it on"), and the tsconfig `cdk8s init typescript-app` writes
 * does not. Any `import { z } from 'zod'` in our .d.ts therefore breaks every such consumer
 * (TS1259 x 63) unless they set `skipLibCheck`. The schemas are implementation: the public types
 * are the hand-written props interfaces (kept in step with the schemas by compile-time checks).
 *
 * What: in each .d.ts, every top-level statement that refers to a zod import, or to a declaration
 * removed this way (in the same file or imported from another one), is dropped, to a fixpoint.
 * The JavaScript is untouched. Dropping a class, an interface or an enum is an error (that would
 * silently remove public API): give it zod-free types instead.
 *
 * `node scripts/public-dts.js [libDir] [--list]`; the consumer test (test/package/) proves the
 * result compiles under strict consumer tsconfigs without skipLibCheck.
 */
const fs = require('fs');
const path = require('path');
const ts = require('typescript');

const FORBIDDEN_MODULES = [/^zod(\/|$)/];
/** Imports of a dependency's build layout rather than its exports. */
const DEEP_IMPORT = /^(@[^/]+\/)?[^./][^/]*\/dist\//;
const forbidden = (spec) => FORBIDDEN_MODULES.some((re) => re.test(spec));

function dtsFiles(dir) {
  const out = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...dtsFiles(p));
    else if (e.name.endsWith('.d.ts')) out.push(p);
  }
  return out.sort();
}

/** Resolves a relative module specifier of `from` to a .d.ts path in the set, if any. */
function resolveRelative(from, spec, files) {
  if (!spec.startsWith('.')) return undefined;
  const base = path.resolve(path.dirname(from), spec);
  for (const c of [`${base}.d.ts`, path.join(base, 'index.d.ts')]) if (files.has(c)) return c;
  return undefined;
}

/** Names a top-level statement declares (exported or not). */
function declaredNames(st) {
  if (ts.isVariableStatement(st)) return st.declarationList.declarations.flatMap((d) => (ts.isIdentifier(d.name) ? [d.name.text] : []));
  if ((ts.isFunctionDeclaration(st) || ts.isClassDeclaration(st) || ts.isInterfaceDeclaration(st) || ts.isTypeAliasDeclaration(st) || ts.isEnumDeclaration(st) || ts.isModuleDeclaration(st)) && st.name && ts.isIdentifier(st.name)) {
    return [st.name.text];
  }
  return [];
}

/** Identifiers a statement refers to as types or values (left-most names of entity names). */
function referencedNames(st) {
  const names = new Set();
  let importsForbidden = false;
  const leftmost = (n) => {
    while (ts.isQualifiedName(n)) n = n.left;
    while (ts.isPropertyAccessExpression(n)) n = n.expression;
    return ts.isIdentifier(n) ? n.text : undefined;
  };
  const visit = (n) => {
    let name;
    if (ts.isTypeReferenceNode(n)) name = leftmost(n.typeName);
    else if (ts.isTypeQueryNode(n)) name = leftmost(n.exprName);
    else if (ts.isExpressionWithTypeArguments(n)) name = leftmost(n.expression);
    else if (ts.isExportAssignment(n)) name = leftmost(n.expression);
    else if (ts.isImportTypeNode(n) && ts.isLiteralTypeNode(n.argument) && ts.isStringLiteral(n.argument.literal) && forbidden(n.argument.literal.text)) importsForbidden = true;
    if (name) names.add(name);
    ts.forEachChild(n, visit);
  };
  visit(st);
  return { names, importsForbidden };
}

function run(libDir, list) {
  const files = new Set(dtsFiles(libDir));
  const parsed = new Map([...files].map((f) => [f, ts.createSourceFile(f, fs.readFileSync(f, 'utf8'), ts.ScriptTarget.Latest, true)]));
  /** file -> names removed from it (its exports that no longer exist). */
  const removed = new Map([...files].map((f) => [f, new Set()]));
  const droppedKinds = [];
  const problems = [];
  let changed = true;
  for (let round = 0; changed; round++) {
    if (round > 50) throw new Error('public-dts: no fixpoint after 50 rounds');
    changed = false;
    for (const [file, sf] of parsed) {
      const poisoned = new Set(removed.get(file));
      const keep = [];
      const edits = new Map(); // import/export statements rewritten without some specifiers
      for (const st of sf.statements) {
        if (ts.isImportDeclaration(st) && ts.isStringLiteral(st.moduleSpecifier)) {
          const spec = st.moduleSpecifier.text;
          const target = resolveRelative(file, spec, files);
          const clause = st.importClause;
          const bindings = [];
          if (clause?.name) bindings.push({ local: clause.name.text, imported: 'default' });
          if (clause?.namedBindings && ts.isNamespaceImport(clause.namedBindings)) bindings.push({ local: clause.namedBindings.name.text, imported: '*' });
          if (clause?.namedBindings && ts.isNamedImports(clause.namedBindings)) {
            for (const el of clause.namedBindings.elements) bindings.push({ local: el.name.text, imported: (el.propertyName ?? el.name).text });
          }
          const bad = bindings.filter((b) => forbidden(spec) || (target && removed.get(target).has(b.imported)));
          for (const b of bad) poisoned.add(b.local);
          if (bad.length === bindings.length && bindings.length > 0) continue; // whole import goes
          if (bad.length > 0) edits.set(st, new Set(bad.map((b) => b.local)));
          keep.push(st);
          continue;
        }
        if (ts.isExportDeclaration(st) && st.exportClause && ts.isNamedExports(st.exportClause)) {
          const target = st.moduleSpecifier && ts.isStringLiteral(st.moduleSpecifier) ? resolveRelative(file, st.moduleSpecifier.text, files) : undefined;
          const bad = st.exportClause.elements.filter((el) => {
            const src = (el.propertyName ?? el.name).text;
            return target ? removed.get(target).has(src) : poisoned.has(src);
          });
          for (const el of bad) removed.get(file).add(el.name.text);
          if (bad.length > 0 && bad.length === st.exportClause.elements.length) continue;
          if (bad.length > 0) edits.set(st, new Set(bad.map((el) => el.name.text)));
          keep.push(st);
          continue;
        }
        const { names, importsForbidden } = referencedNames(st);
        const declared = declaredNames(st);
        if (importsForbidden || [...names].some((n) => poisoned.has(n) && !declared.includes(n)) || declared.some((n) => poisoned.has(n))) {
          if (process.env.PUBLIC_DTS_DEBUG) console.error(`${path.relative(libDir, file)}: ${declared.join(',')} <- ${importsForbidden ? 'import()' : [...names].filter((n) => poisoned.has(n)).join(',')}`);
          for (const n of declared) {
            poisoned.add(n);
            removed.get(file).add(n);
          }
          if (ts.isClassDeclaration(st) || ts.isInterfaceDeclaration(st) || ts.isEnumDeclaration(st)) droppedKinds.push({ file, names: declared });
          continue;
        }
        keep.push(st);
      }
      if (keep.length !== sf.statements.length || edits.size > 0) {
        changed = true;
        if (process.env.PUBLIC_DTS_DEBUG) console.error(path.relative(libDir, file), keep.length, sf.statements.length, edits.size);
        const printer = ts.createPrinter({ newLine: ts.NewLineKind.LineFeed });
        const text = keep
          .map((st) => {
            const drop = edits.get(st);
            if (!drop) return sf.text.slice(st.getFullStart(), st.getEnd()).replace(/^\n+/, '');
            const f = ts.factory;
            if (ts.isImportDeclaration(st)) {
              const els = st.importClause.namedBindings.elements.filter((el) => !drop.has(el.name.text));
              const clause = f.updateImportClause(st.importClause, st.importClause.isTypeOnly, st.importClause.name, f.updateNamedImports(st.importClause.namedBindings, els));
              return printer.printNode(ts.EmitHint.Unspecified, f.updateImportDeclaration(st, st.modifiers, clause, st.moduleSpecifier, st.attributes), sf);
            }
            const els = st.exportClause.elements.filter((el) => !drop.has(el.name.text));
            return printer.printNode(ts.EmitHint.Unspecified, f.updateExportDeclaration(st, st.modifiers, st.isTypeOnly, f.updateNamedExports(st.exportClause, els), st.moduleSpecifier, st.attributes), sf);
          })
          .join('\n');
        // `export {}` keeps a file whose exports were all removed a module.
        const out = `${text}\n${keep.length === 0 ? 'export {};\n' : ''}`;
        fs.writeFileSync(file, out);
        parsed.set(file, ts.createSourceFile(file, out, ts.ScriptTarget.Latest, true));
      }
    }
  }
  if (list) for (const [f, names] of removed) if (names.size) console.log(`${path.relative(libDir, f)}: ${[...names].sort().join(', ')}`);
  // Only the declarations a consumer can reach matter: walk from the package's type entry points.
  const reachable = new Set();
  const queue = entryPoints(libDir).filter((f) => files.has(f));
  while (queue.length) {
    const f = queue.pop();
    if (reachable.has(f)) continue;
    reachable.add(f);
    for (const st of parsed.get(f).statements) {
      const spec = (ts.isImportDeclaration(st) || ts.isExportDeclaration(st)) && st.moduleSpecifier && ts.isStringLiteral(st.moduleSpecifier) ? st.moduleSpecifier.text : undefined;
      const target = spec && resolveRelative(f, spec, files);
      if (target) queue.push(target);
      if (spec && DEEP_IMPORT.test(spec)) problems.push(`${path.relative(libDir, f)} imports ${spec}: a path inside a dependency's dist (unresolvable with exports-aware module resolution)`);
    }
  }
  const problems2 = droppedKinds.filter((d) => reachable.has(d.file)).map((d) => `${path.relative(libDir, d.file)}: ${d.names.join(', ')} refers to zod types: give it zod-free types`);
  const all = [...problems.filter((p) => reachable.has(path.join(libDir, p.split(' ')[0]))), ...problems2];
  if (all.length) {
    console.error(`public-dts: the published declarations would lose or break public API:\n  ${all.join('\n  ')}`);
    process.exit(1);
  }
}

/** The .d.ts files package.json points consumers at (types, exports, typesVersions). */
function entryPoints(libDir) {
  const pkg = JSON.parse(fs.readFileSync(path.join(libDir, '..', 'package.json'), 'utf8'));
  const out = new Set();
  const walk = (v) => {
    if (typeof v === 'string' && v.endsWith('.d.ts')) out.add(path.resolve(libDir, '..', v));
    else if (v && typeof v === 'object') Object.values(v).forEach(walk);
  };
  walk([pkg.types, pkg.exports, pkg.typesVersions]);
  return [...out];
}

const args = process.argv.slice(2);
run(path.resolve(args.find((a) => !a.startsWith('--')) ?? path.join(__dirname, '..', 'lib')), args.includes('--list'));
