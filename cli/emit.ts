import { stringify as yamlStringify } from 'yaml';

/*
 * A YAML emitter for synthesized manifests (plain JSON data: objects, arrays, strings, numbers,
 * booleans, null). It writes the same layout as cdk8s's `Yaml.stringify` (block style, 2-space
 * indent, sequences indented under their key, literal blocks for multi-line strings) and parses
 * to exactly the same data; tests check that on every synthesized object. It exists because the
 * general-purpose `yaml` document model is most of the synthesis time for a thousand agents.
 *
 * Strings are written plain only when that is unambiguous in YAML 1.1 and 1.2 (so `yes`, `on`,
 * `1e3`, `0x1F`, `2024-01-01`, `12:30` are quoted); anything else is double-quoted.
 */

// Words that YAML 1.1 or 1.2 resolve to booleans or null.
const RESERVED = new Set([
  'y', 'Y', 'yes', 'Yes', 'YES', 'n', 'N', 'no', 'No', 'NO', 'true', 'True', 'TRUE', 'false', 'False', 'FALSE',
  'on', 'On', 'ON', 'off', 'Off', 'OFF', 'null', 'Null', 'NULL',
]);
// Starts with a character that is no indicator, then characters that are none inside a plain scalar.
const PLAIN_WORD = /^[A-Za-z_/($^\\][A-Za-z0-9 _./:;@=,+*?()$%^&<>\[\]{}~|'"!#`\\-]*$/;
// Quantities and durations that start with a digit but are no number, timestamp or sexagesimal.
const PLAIN_QUANTITY = /^[0-9]+(\.[0-9]+)?(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei|ms|s|h|d|w|y)$/;
// Versions and addresses (1.4.2, 1.0.0-rc.1, 127.0.0.1): two or more dots are no number.
const PLAIN_DOTTED = /^[0-9]+(\.[0-9]+){2,}(-[0-9A-Za-z.-]+|\/[0-9]+)?$/;
// Digits, then a space somewhere and no ":": no number, timestamp or sexagesimal has that shape
// ("1 - (sum by (agent) ...)" in PromQL).
const PLAIN_DIGIT_PHRASE = /^[0-9][A-Za-z0-9 _./:;@=,+*?()$%^&<>\[\]{}~|'"!#`\\-]*$/;
// A dash then a letter, "_" or "-" (command-line flags such as --max-old-space-size=192): no
// number, and not a document marker ("---" is excluded).
const PLAIN_FLAG = /^-[A-Za-z_-][A-Za-z0-9 _./:;@=,+*?()$%^&<>\[\]{}~|'"!#`\\-]*$/;
// Characters that need escaping or may be folded/normalized by a YAML parser.
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\ufeff\ud800-\udfff]/;

function isPlain(s: string): boolean {
  // `e1` is a float to some YAML 1.1 readers (mantissa digits optional in their pattern).
  if (s.length === 0 || RESERVED.has(s) || /^[eE][-+0-9]/.test(s)) return false;
  if (PLAIN_QUANTITY.test(s) || PLAIN_DOTTED.test(s)) return true;
  // (A timestamp may hold a space: "2001-12-14 21:59:43.10 -5".)
  const flag = PLAIN_FLAG.test(s) && !s.startsWith('---');
  if (!PLAIN_WORD.test(s) && !flag && !(PLAIN_DIGIT_PHRASE.test(s) && s.includes(' ') && !/^[0-9]{4}-/.test(s))) return false;
  // A ": " ends a key, " #" starts a comment; trailing space or ":" would be lost or misread.
  return !s.includes(': ') && !s.includes(' #') && !s.endsWith(' ') && !s.endsWith(':');
}

function quote(s: string): string {
  // Like `yaml`: single quotes for a printable one-line string with double quotes and no single ones.
  if (s.includes('"') && !s.includes("'") && !UNSAFE.test(s) && !s.includes('\n')) return `'${s}'`;
  // JSON escapes are valid YAML double-quoted escapes; also escape what JSON leaves raw but YAML
  // does not allow or folds (DEL, C1 controls, line/paragraph separators, BOM).
  return JSON.stringify(s).replace(/[\u007f-\u009f\u2028\u2029\ufeff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

// Strings that are not obviously plain take the quoting `yaml` (cdk8s's serializer) would
// choose, so the output stays byte-identical to `cdk8s synth`; they are a small share.
const quoted = new Map<string, string>();
function nonPlain(s: string): string {
  let out = quoted.get(s);
  if (out === undefined) {
    // Only its quoted forms: where `yaml` would write a plain scalar that YAML 1.2 readers take
    // for something else (`0o17`, `<<`), or raw control characters, quote it ourselves.
    const y = UNSAFE.test(s) ? '' : yamlStringify(s, { version: '1.1', lineWidth: 0 }).replace(/\n$/, '');
    out = !y.includes('\n') && /^(".*"|'.*')$/s.test(y) ? y : quote(s);
    if (quoted.size < 10_000) quoted.set(s, out);
  }
  return out;
}

function scalarString(s: string): string {
  return isPlain(s) ? s : nonPlain(s);
}

function key(k: string): string {
  return isPlain(k) ? k : nonPlain(k);
}

// A literal block keeps a multi-line string readable (PromQL, dashboards, scripts).
function literalBlock(s: string, indent: string): string | undefined {
  if (!s.includes('\n') || s.includes('\r') || s.includes('\t') || UNSAFE.test(s.replace(/\n/g, ''))) return undefined;
  // Leading space/newline needs an indentation indicator, several trailing newlines `|+`, and a
  // line of only spaces would be read as an empty line: quote those instead.
  if (/^[ \n]/.test(s) || /\n\n$/.test(s) || /^ +$/m.test(s)) return undefined;
  const body = s.endsWith('\n') ? s.slice(0, -1) : s;
  const header = s.endsWith('\n') ? '|' : '|-';
  return `${header}\n${body.split('\n').map((line) => (line.length ? indent + line : '')).join('\n')}`;
}

function number(n: number): string {
  const s = String(n);
  // Integers and plain decimals read back as the same number; others (1e+21) go through `yaml`.
  return /^-?[0-9]+(\.[0-9]+)?$/.test(s) ? s : yamlStringify(n, { version: '1.1' }).trim();
}

function isEmptyCollection(v: unknown): boolean {
  return Array.isArray(v) ? v.length === 0 : typeof v === 'object' && v !== null && Object.keys(v).length === 0;
}

function inline(v: unknown, indent: string): string {
  if (v === null || v === undefined) return 'null';
  switch (typeof v) {
    case 'string': {
      if (v.includes('\n')) return literalBlock(v, indent) ?? quote(v);
      return UNSAFE.test(v) ? quote(v) : scalarString(v);
    }
    case 'number': return number(v);
    case 'boolean': return v ? 'true' : 'false';
    default: return Array.isArray(v) ? '[]' : '{}';
  }
}

function isCollection(v: unknown): v is object {
  return typeof v === 'object' && v !== null && !isEmptyCollection(v);
}

function emitMap(o: Record<string, unknown>, indent: string, out: string[], first: string | undefined): void {
  let lead = first;
  for (const [k, v] of Object.entries(o)) {
    if (v === undefined) continue;
    const prefix = lead ?? indent;
    lead = undefined;
    if (isCollection(v)) {
      out.push(`${prefix}${key(k)}:\n`);
      if (Array.isArray(v)) emitSeq(v, `${indent}  `, out);
      else emitMap(v as Record<string, unknown>, `${indent}  `, out, undefined);
    } else {
      out.push(`${prefix}${key(k)}: ${inline(v, `${indent}  `)}\n`);
    }
  }
}

function emitSeq(a: readonly unknown[], indent: string, out: string[]): void {
  for (const item of a) {
    const v = item === undefined ? null : item;
    if (isCollection(v)) {
      if (Array.isArray(v)) {
        out.push(`${indent}-`);
        emitNestedSeq(v, `${indent}  `, out);
      } else {
        emitMap(v as Record<string, unknown>, `${indent}  `, out, `${indent}- `);
      }
    } else {
      out.push(`${indent}- ${inline(v, `${indent}  `)}\n`);
    }
  }
}

// `- - a` style for a sequence directly inside a sequence.
function emitNestedSeq(a: readonly unknown[], indent: string, out: string[]): void {
  const inner: string[] = [];
  emitSeq(a, indent, inner);
  // The first inner line continues the parent's "-" line.
  inner[0] = ` ${inner[0].slice(indent.length)}`;
  out.push(...inner);
}

/** One document (no `---`), ending with a newline. */
export function emitDocument(doc: unknown): string {
  if (!isCollection(doc)) return `${inline(doc, '')}\n`;
  const out: string[] = [];
  if (Array.isArray(doc)) emitSeq(doc, '', out);
  else emitMap(doc as Record<string, unknown>, '', out, undefined);
  return out.join('');
}

/** Several documents separated by `---`, like cdk8s's `Yaml.stringify`. */
export function emitDocuments(docs: readonly unknown[]): string {
  return docs.map(emitDocument).join('---\n');
}
