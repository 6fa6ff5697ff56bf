import * as fs from 'fs';
import * as path from 'path';
import { isAlias, isMap, isPair, isScalar, isSeq, LineCounter, Node, Pair, parseAllDocuments, Document, YAMLMap } from 'yaml';
import { formatPath } from '../constructs/validation';
import type { SpecIssue } from '../system/system-spec';

/** A problem at a position of the input file. */
export interface Diagnostic {
  readonly file: string;
  /** 1-based. */
  readonly line: number;
  /** 1-based. */
  readonly column: number;
  /** Path of the field in the document (`agents[2].image`), when the problem is about one. */
  readonly field?: string;
  readonly message: string;
  /** The source line, for the excerpt under the message. */
  readonly sourceLine?: string;
}

/** A system file read and parsed, with what is needed to map paths back to positions. */
export interface SourceFile {
  /** The file name as given on the command line (used in messages). */
  readonly file: string;
  readonly text: string;
  readonly doc: Document;
  readonly lineCounter: LineCounter;
  /** The document as plain data. */
  readonly value: unknown;
}

export type LoadResult = { readonly ok: true; readonly source: SourceFile } | { readonly ok: false; readonly diagnostics: Diagnostic[] };

/** Reads and parses a YAML (or JSON) system file, keeping node positions. */
export function loadSystemFile(file: string, cwd = process.cwd()): LoadResult {
  let text: string;
  try {
    text = fs.readFileSync(path.resolve(cwd, file), 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory, expected a YAML file' : (e as Error).message;
    return { ok: false, diagnostics: [{ file, line: 1, column: 1, message: `cannot read the system file: ${why}` }] };
  }
  return parseSystemText(file, text);
}

/** Parses YAML text; syntax errors become diagnostics with their line and column. */
export function parseSystemText(file: string, text: string): LoadResult {
  const lineCounter = new LineCounter();
  // YAML 1.2 core schema: `yes`/`no`/`on` stay strings, duplicate keys are errors; merge keys
  // (`<<: *defaults`) are allowed so agents can share settings.
  const docs = parseAllDocuments(text, { lineCounter, prettyErrors: true, uniqueKeys: true, version: '1.2', merge: true });
  const lines = text.split(/\r?\n/);
  const at = (offset: number, message: string, field?: string): Diagnostic => {
    const { line, col } = lineCounter.linePos(offset);
    return { file, line, column: col, message, field, sourceLine: lines[line - 1] };
  };
  if (!Array.isArray(docs)) {
    // An empty stream parses as an EmptyStream (not an array).
    return { ok: false, diagnostics: [{ file, line: 1, column: 1, message: 'the file is empty: expected a system spec (a mapping with "agents")' }] };
  }
  const diagnostics: Diagnostic[] = [];
  for (const doc of docs) {
    for (const err of doc.errors) diagnostics.push(at(err.pos[0], yamlMessage(err.message)));
  }
  if (diagnostics.length) return { ok: false, diagnostics };
  if (docs.length === 0) return { ok: false, diagnostics: [{ file, line: 1, column: 1, message: 'the file is empty: expected a system spec (a mapping with "agents")' }] };
  if (docs.length > 1) {
    return { ok: false, diagnostics: [at(docs[1].range[0], 'expected one YAML document (one system per file), found a second one')] };
  }
  const doc = docs[0];
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: 1000 });
  } catch (e) {
    return { ok: false, diagnostics: [at(doc.range[0], yamlMessage((e as Error).message))] };
  }
  return { ok: true, source: { file, text, doc, lineCounter, value } };
}

// yaml's messages end with "at line L, column C:" and a code frame; we print our own position.
function yamlMessage(message: string): string {
  const first = message.split('\n')[0];
  return first.replace(/ at line \d+, column \d+:?$/, '').trim();
}

/**
 * The diagnostic for a spec issue: the position of the node at the issue's path (its key
 * for unknown fields; the closest existing parent for missing fields).
 */
export function issueToDiagnostic(source: SourceFile, issue: SpecIssue): Diagnostic {
  const offset = locate(source.doc, issue.path, issue.atKey ?? false);
  const { line, col } = source.lineCounter.linePos(offset);
  return {
    file: source.file,
    line,
    column: col,
    field: formatPath(issue.path) || undefined,
    message: issue.message,
    sourceLine: source.text.split(/\r?\n/)[line - 1],
  };
}

/** Source offset of the node at `path`, or of the deepest ancestor that exists. */
export function locate(doc: Document, path: readonly (string | number)[], atKey: boolean): number {
  let node: unknown = doc.contents;
  let offset = (doc.contents as Node | null)?.range?.[0] ?? 0;
  for (let i = 0; i < path.length; i++) {
    const seg = path[i];
    const last = i === path.length - 1;
    // A value given by an alias (`autoscaling: *auto`): its fields are where the anchor is.
    if (isAlias(node)) node = node.resolve(doc);
    if (isMap(node)) {
      const pair = findPair(doc, node, String(seg));
      if (!pair) return offset;
      const keyNode = pair.key as Node | null;
      const valueNode = pair.value as Node | null;
      if (last && atKey && keyNode?.range) return keyNode.range[0];
      if (valueNode?.range) {
        node = valueNode;
        offset = valueNode.range[0];
      } else {
        // `field:` with no value: point at the key.
        node = valueNode;
        if (keyNode?.range) offset = keyNode.range[0];
      }
    } else if (isSeq(node) && typeof seg === 'number') {
      const item = node.items[seg] as Node | undefined;
      if (!item?.range) return offset;
      node = item;
      offset = item.range[0];
    } else {
      return offset;
    }
  }
  return offset;
}

/**
 * The pair of `key` in a map: its own, else the one a merge key (`<<: *defaults` or
 * `<<: [*a, *b]`) brings in, so a problem in shared settings points at the anchor's text.
 */
function findPair(doc: Document, map: YAMLMap, key: string, depth = 0): Pair | undefined {
  const own = map.items.find((p) => isPair(p) && !isMergeKey(p.key) && keyOf(p.key) === key);
  if (own || depth > 20) return own;
  for (const p of map.items) {
    if (!isMergeKey(p.key)) continue;
    const sources = isSeq(p.value) ? p.value.items : [p.value];
    for (const source of sources) {
      const target = isAlias(source) ? source.resolve(doc) : source;
      const found = isMap(target) ? findPair(doc, target, key, depth + 1) : undefined;
      if (found) return found;
    }
  }
  return undefined;
}

function isMergeKey(key: unknown): boolean {
  return isScalar(key) && (typeof key.value === 'symbol' || (key.value === '<<' && key.type === 'PLAIN'));
}

function keyOf(key: unknown): string | undefined {
  if (isScalar(key)) return String(key.value);
  return undefined;
}

/** `file:line:col: field: message`, then the source line with a caret under the column. */
export function formatDiagnostic(d: Diagnostic, excerpt = true): string {
  const head = `${d.file}:${d.line}:${d.column}: ${d.field ? `${d.field}: ` : ''}${d.message}`;
  if (!excerpt || d.sourceLine === undefined) return head;
  const gutter = String(d.line).length;
  return [
    head,
    `  ${String(d.line)} | ${d.sourceLine}`,
    `  ${' '.repeat(gutter)} | ${' '.repeat(Math.max(0, d.column - 1))}^`,
  ].join('\n');
}

/** Diagnostics by file (in the order they were found), then line and column; stable for equal positions. */
export function sortDiagnostics(ds: readonly Diagnostic[]): Diagnostic[] {
  const files = [...new Set(ds.map((d) => d.file))];
  const rank = (d: Diagnostic) => files.indexOf(d.file);
  return ds.map((d, i) => ({ d, i })).sort((a, b) => rank(a.d) - rank(b.d) || a.d.line - b.d.line || a.d.column - b.d.column || a.i - b.i).map((x) => x.d);
}
