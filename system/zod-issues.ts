import { z } from 'zod';
import { formatPath } from '../constructs/validation';

/*
 * zod issues to document issues: unknown keys with a did-you-mean, union mismatches reported
 * against the one shape the value's type fits, one issue per field.
 */

/** One problem in a system spec, at a path in the document. */
export interface SpecIssue {
  /** Path in the document, e.g. `['agents', 2, 'autoscaling', 'maxReplicas']`. */
  readonly path: readonly (string | number)[];
  /** What is wrong and what is expected. */
  readonly message: string;
  /** The issue is about the key at `path` (an unknown field), not its value. */
  readonly atKey?: boolean;
}

/** zod issues to SpecIssues; unknown keys become one issue per key, with a did-you-mean. */
export function fromZod(zodIssues: readonly z.core.$ZodIssue[], prefix: readonly (string | number)[], root: z.ZodType): SpecIssue[] {
  const out: SpecIssue[] = [];
  for (const issue of zodIssues) {
    const path = [...prefix, ...(issue.path as (string | number)[])];
    if (issue.code === 'unrecognized_keys') {
      const allowed = allowedKeys(root, issue.path as (string | number)[]);
      for (const key of issue.keys) {
        out.push({ path: [...path, key], atKey: true, message: unknownFieldMessage(key, allowed) });
      }
    } else if (issue.code === 'invalid_type' && /received undefined$/.test(issue.message)) {
      out.push({ path, message: `missing required field (expected ${issue.expected})` });
    } else if (issue.code === 'invalid_type' && issue.expected === 'string' && /received (number|boolean)$/.test(issue.message)) {
      // `tag: 1.0` or `value: yes` in YAML are a number and a boolean, not text.
      out.push({ path, message: `${issue.message}: quote the value (e.g. "1.0") so YAML reads it as text` });
    } else if (issue.code === 'invalid_union') {
      // A field that takes several shapes (e.g. `sidecar: true | {...}`). When the value has the
      // right type for exactly one shape, report that shape's problems (unknown keys, ...).
      const options = (issue as { errors?: z.core.$ZodIssue[][] }).errors ?? [];
      const typeMatches = options.filter((errs) => !errs.some((e) => e.path.length === 0 && (e.code === 'invalid_type' || e.code === 'invalid_value')));
      if (typeMatches.length === 1 && typeMatches[0].length > 0) {
        out.push(...fromZod(typeMatches[0].map((e) => ({ ...e, path: [...issue.path, ...e.path] })) as z.core.$ZodIssue[], prefix, root));
      } else {
        out.push({ path, message: `${issue.message}: expected one of ${unionShapes(root, issue.path as (string | number)[])}` });
      }
    } else {
      out.push({ path, message: issue.message });
    }
  }
  return out;
}

/** `unknown field "x"; did you mean "y"?`, else the list of allowed fields. */
export function unknownFieldMessage(key: string, allowed: readonly string[]): string {
  const hint = didYouMean(key, allowed);
  if (hint) return `unknown field "${key}"${hint}`;
  return allowed.length ? `unknown field "${key}" (expected one of: ${allowed.join(', ')})` : `unknown field "${key}"`;
}

/** `; did you mean "y"?` for the closest candidate within a small edit distance, else ''. */
export function didYouMean(word: string, candidates: readonly string[]): string {
  const camel = word.replace(/[_-]([a-z])/g, (_, c: string) => c.toUpperCase());
  const snake = word.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
  let best: string | undefined;
  let bestScore = Infinity;
  for (const c of candidates) {
    const d = Math.min(levenshtein(word.toLowerCase(), c.toLowerCase()), c === camel || c === snake ? 0 : Infinity);
    if (d < bestScore) {
      bestScore = d;
      best = c;
    }
  }
  // Very short words are within two edits of anything: suggest only exact case/style matches.
  const limit = word.length <= 2 ? 0 : Math.max(2, Math.floor(word.length / 3));
  return best !== undefined && bestScore <= limit ? `; did you mean "${best}"?` : '';
}

/** Edit distance (insertions, deletions, substitutions). */
export function levenshtein(a: string, b: string): number {
  if (a === b) return 0;
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length];
}

// --- zod schema walking (for the allowed keys at a path) ---

export type Def = { type: string; [k: string]: unknown };
export const defOf = (s: unknown): Def => (s as { _zod: { def: Def } })._zod.def;

function unwrap(s: unknown): unknown {
  let cur = s;
  for (let i = 0; i < 20; i++) {
    const d = defOf(cur);
    if (['optional', 'nullable', 'default', 'prefault', 'readonly', 'catch', 'nonoptional'].includes(d.type)) cur = d.innerType;
    else if (d.type === 'pipe') cur = d.in;
    else if (d.type === 'lazy') cur = (d.getter as () => unknown)();
    else return cur;
  }
  return cur;
}

/** The schemas a value at `path` may be checked against (several under a union). */
function schemasAt(root: unknown, path: readonly (string | number)[]): unknown[] {
  let current = [unwrap(root)];
  for (const seg of path) {
    const next: unknown[] = [];
    for (const s of current.flatMap(expandUnion)) {
      const d = defOf(s);
      if (d.type === 'object' && typeof seg === 'string') {
        const shape = d.shape as Record<string, unknown>;
        if (shape[seg]) next.push(unwrap(shape[seg]));
      } else if (d.type === 'array' && typeof seg === 'number') {
        next.push(unwrap(d.element));
      } else if (d.type === 'tuple' && typeof seg === 'number') {
        const items = d.items as unknown[];
        if (items[seg]) next.push(unwrap(items[seg]));
      } else if (d.type === 'record') {
        next.push(unwrap(d.valueType));
      }
    }
    current = next;
  }
  return current.flatMap(expandUnion);
}

function expandUnion(s: unknown): unknown[] {
  const d = defOf(s);
  return d.type === 'union' ? (d.options as unknown[]).flatMap((o) => expandUnion(unwrap(o))) : [s];
}

function allowedKeys(root: z.ZodType, path: readonly (string | number)[]): string[] {
  const keys = new Set<string>();
  for (const s of schemasAt(root, path)) {
    const d = defOf(s);
    if (d.type === 'object') Object.keys(d.shape as object).forEach((k) => keys.add(k));
  }
  return [...keys];
}

function unionShapes(root: z.ZodType, path: readonly (string | number)[]): string {
  const kinds = schemasAt(root, path).map((s) => {
    const d = defOf(s);
    if (d.type === 'object') return `a mapping with ${Object.keys(d.shape as object).join(', ')}`;
    if (d.type === 'literal') return JSON.stringify((d.values as unknown[])[0]);
    return d.type;
  });
  return [...new Set(kinds)].join(' or ');
}

// One issue per field: a value that fails its format check also fails the checks after it
// (e.g. "must be a CPU quantity" then "must be greater than 0"); the first says what is expected.
export function dedupe(issues: SpecIssue[]): SpecIssue[] {
  const seen = new Set<string>();
  return issues.filter((i) => {
    const key = `${formatPath(i.path)}|${i.atKey ? 'key' : 'value'}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

