/**
 * JSON values to CEL values the way the API server types them from the structural schema:
 * `integer` is a CEL int (bigint here), `number` a double, objects and maps are maps, and schema
 * `default`s are applied first (the API server defaults before it validates, so rules may read
 * defaulted fields).
 */
import type { CelInput } from '@bufbuild/cel';

/** CEL reserved words: properties with these names are written `__name__` in rules. */
const RESERVED = new Set(['true', 'false', 'null', 'in', 'as', 'break', 'const', 'continue', 'else', 'for', 'function', 'if', 'import', 'let', 'loop', 'package', 'namespace', 'return', 'var', 'void', 'while']);

/**
 * How a rule names a declared property (k8s.io/apiserver/pkg/cel/escaping.go): reserved words as
 * `__namespace__`, and `__`, `.`, `-`, `/` spelled out. Map keys are never escaped.
 */
export function escapeProperty(name: string): string {
  if (RESERVED.has(name)) return `__${name}__`;
  return name.replace(/__/g, '__underscores__').replace(/\./g, '__dot__').replace(/-/g, '__dash__').replace(/\//g, '__slash__');
}

const isObj = (v: unknown): v is Record<string, any> => !!v && typeof v === 'object' && !Array.isArray(v);

/** The schema of a child: a property, list items (`[]`) or map values (`{}`). */
export function childSchema(schema: any, seg: string): any {
  if (!schema) return undefined;
  if (seg === '[]') return schema.items;
  if (seg === '{}') return typeof schema.additionalProperties === 'object' ? schema.additionalProperties : undefined;
  return schema.properties?.[seg];
}

/** True when a value has the JSON type its schema declares (CEL only runs on well-typed values). */
export function typeMatches(value: unknown, schema: any): boolean {
  if (!schema || schema['x-kubernetes-int-or-string']) return typeof value === 'string' || typeof value === 'number' || !schema;
  switch (schema.type) {
    case 'object':
      return isObj(value);
    case 'array':
      return Array.isArray(value);
    case 'string':
      return typeof value === 'string';
    case 'integer':
      return typeof value === 'number' && Number.isInteger(value);
    case 'number':
      return typeof value === 'number';
    case 'boolean':
      return typeof value === 'boolean';
    default:
      return true;
  }
}

/** Converts `value` (already type-checked) to a CEL input, applying schema defaults. */
export function toCel(value: unknown, schema: any): CelInput {
  if (value === null || value === undefined) return null;
  if (typeof value === 'number') {
    const asInt = schema?.type === 'integer' || schema?.['x-kubernetes-int-or-string'] || (schema?.type === undefined && Number.isInteger(value));
    return asInt && Number.isInteger(value) ? BigInt(value) : value;
  }
  if (typeof value === 'string' || typeof value === 'boolean') return value;
  if (Array.isArray(value)) return value.map((v) => toCel(v, schema?.items));
  if (isObj(value)) {
    const m = new Map<string, CelInput>();
    const props = schema?.properties ?? {};
    for (const [k, v] of Object.entries(value)) {
      if (v === null && !(props[k] ?? schema?.additionalProperties)?.nullable) continue; // the API server drops nulls
      if (props[k]) m.set(escapeProperty(k), toCel(v, props[k]));
      else m.set(k, toCel(v, typeof schema?.additionalProperties === 'object' ? schema.additionalProperties : undefined));
    }
    for (const [k, sub] of Object.entries<any>(props)) {
      if (!m.has(escapeProperty(k)) && sub && sub.default !== undefined) m.set(escapeProperty(k), toCel(sub.default, sub));
    }
    return m;
  }
  return null;
}
