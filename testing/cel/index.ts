/**
 * The CRDs' `x-kubernetes-validations` (CEL) rules, evaluated like the API server does on create:
 * `self` is the value at the rule's schema path (for every list item and map value on the way),
 * transition rules (those that read `oldSelf`) are skipped because there is no old object,
 * message / messageExpression / fieldPath / reason are honoured. Programs are compiled once per
 * rule text, on first use.
 */
import { isCelError, parse, plan } from '@bufbuild/cel';
import type { CelResult } from '@bufbuild/cel';
import type { Collector } from '../collector';
import type { Segment } from '../paths';
import { crdSchemas } from '../schemas';
import type { K8sObject } from '../types';
import { childSchema, toCel, typeMatches } from './convert';
import { kubernetesCelEnv } from './library';

/** A rule as extracted by scripts/extract-crd-schemas.js. */
export interface CelRule {
  readonly path: readonly string[];
  readonly rule: string;
  readonly message?: string;
  readonly messageExpression?: string;
  readonly fieldPath?: string;
  readonly reason?: string;
  readonly optionalOldSelf?: boolean;
}

type Program = (ctx: Record<string, any>) => CelResult;
type Compiled = { ok: true; program: Program; transition: boolean } | { ok: false; error: string };

/** Operators the planner implements itself (they are not functions of the environment). */
const BUILT_IN_CALLS = new Set(['_&&_', '_||_', '_?_:_', '_[_]', '@not_strictly_false', '@in']);

const cache = new Map<string, Compiled>();

/** Calls and identifiers of a parsed expression. */
function walkExpr(e: any, calls: Set<string>, idents: Set<string>): void {
  if (!e?.exprKind) return;
  const { case: kind, value } = e.exprKind;
  switch (kind) {
    case 'callExpr':
      calls.add(value.function);
      walkExpr(value.target, calls, idents);
      value.args.forEach((a: any) => walkExpr(a, calls, idents));
      break;
    case 'identExpr':
      idents.add(value.name);
      break;
    case 'selectExpr':
      walkExpr(value.operand, calls, idents);
      break;
    case 'listExpr':
      value.elements.forEach((a: any) => walkExpr(a, calls, idents));
      break;
    case 'structExpr':
      value.entries.forEach((en: any) => {
        walkExpr(en.value, calls, idents);
        if (en.keyKind?.case === 'mapKey') walkExpr(en.keyKind.value, calls, idents);
      });
      break;
    case 'comprehensionExpr':
      for (const k of ['iterRange', 'accuInit', 'loopCondition', 'loopStep', 'result']) walkExpr(value[k], calls, idents);
      break;
  }
}

/**
 * Compiles a rule (cached): parse, plan, and check that every function it calls exists in the
 * environment (the planner would only notice when the call runs).
 */
export function compileCel(expr: string): Compiled {
  let c = cache.get(expr);
  if (c) return c;
  try {
    const env = kubernetesCelEnv();
    const parsed = parse(expr);
    const calls = new Set<string>();
    const idents = new Set<string>();
    walkExpr(parsed.expr, calls, idents);
    const unknown = [...calls].filter((f) => !BUILT_IN_CALLS.has(f) && !env.funcs.find(f));
    if (unknown.length) throw new Error(`undeclared reference to ${unknown.map((f) => `'${f}'`).join(', ')}`);
    c = { ok: true, program: plan(env, parsed) as Program, transition: idents.has('oldSelf') };
  } catch (e) {
    c = { ok: false, error: (e as Error).message.split('\n')[0] };
  }
  cache.set(expr, c);
  return c;
}

/** Where a rule applies in an object: each concrete value at its schema path. */
function locate(root: unknown, schema: any, path: readonly string[]): Array<{ value: unknown; schema: any; at: Segment[] }> {
  let nodes: Array<{ value: unknown; schema: any; at: Segment[] }> = [{ value: root, schema, at: [] }];
  for (const seg of path) {
    const next: typeof nodes = [];
    for (const n of nodes) {
      const s = childSchema(n.schema, seg);
      if (seg === '[]') {
        if (Array.isArray(n.value)) n.value.forEach((v, i) => next.push({ value: v, schema: s, at: [...n.at, i] }));
      } else if (seg === '{}') {
        if (n.value && typeof n.value === 'object' && !Array.isArray(n.value)) for (const [k, v] of Object.entries(n.value)) next.push({ value: v, schema: s, at: [...n.at, k] });
      } else if (n.value && typeof n.value === 'object' && !Array.isArray(n.value) && (n.value as any)[seg] !== undefined) {
        next.push({ value: (n.value as any)[seg], schema: s, at: [...n.at, seg] });
      }
    }
    nodes = next;
  }
  return nodes;
}

/** `.foo.bar` / `['foo']` relative to self, as in a rule's fieldPath. */
function fieldPathSegments(fp: string): Segment[] {
  const out: Segment[] = [];
  const re = /\.([A-Za-z_$][\w$-]*)|\['((?:[^'\\]|\\.)*)'\]|\[(\d+)\]/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(fp))) out.push(m[1] ?? m[2] ?? Number(m[3]));
  return out;
}

const TYPE_NAMES: Record<string, string> = { object: 'object', array: 'array', string: 'string', integer: 'integer', number: 'number', boolean: 'boolean' };
const REASONS: Record<string, string> = {
  FieldValueInvalid: 'Invalid value',
  FieldValueForbidden: 'Forbidden',
  FieldValueRequired: 'Required value',
  FieldValueDuplicate: 'Duplicate value',
};

function describe(rule: CelRule, self: unknown, schema: any, ctx: Record<string, unknown>): string {
  let msg = rule.message && rule.message.trim() ? rule.message : `failed rule: ${rule.rule}`;
  if (rule.messageExpression) {
    const c = compileCel(rule.messageExpression);
    if (c.ok) {
      const r = c.program(ctx);
      if (typeof r === 'string' && r.trim() && !r.includes('\n')) msg = r;
    }
  }
  const reason = REASONS[rule.reason ?? 'FieldValueInvalid'] ?? 'Invalid value';
  const type = TYPE_NAMES[schema?.type] ?? (Array.isArray(self) ? 'array' : typeof self);
  return reason === 'Invalid value' ? `Invalid value: "${type}": ${msg}` : `${reason}: ${msg}`;
}

/** Evaluates the CEL rules of every custom object of the set whose CRD has them. */
export function celRules(objects: readonly K8sObject[], c: Collector): void {
  const kinds = crdSchemas().kinds as Record<string, { schema: any; celRules?: CelRule[] }>;
  for (const obj of objects) {
    if (!obj || typeof obj !== 'object' || typeof obj.apiVersion !== 'string') continue;
    const crd = kinds[`${obj.apiVersion}/${obj.kind}`];
    if (crd?.celRules?.length) evaluateCelRules(obj, crd.schema, crd.celRules, c);
  }
}

const shortRule = (r: string) => {
  const one = r.replace(/\s+/g, ' ');
  return one.length > 140 ? one.slice(0, 137) + '...' : one;
};

/** Evaluates `rules` (with paths into `schema`) on one object. */
export function evaluateCelRules(obj: K8sObject, schema: any, rules: readonly CelRule[], c: Collector): void {
  const converted = new WeakMap<object, unknown>();
  for (const rule of rules) {
    const compiled = compileCel(rule.rule);
    if (!compiled.ok || compiled.transition) continue;
    for (const node of locate(obj, schema, rule.path)) {
      if (!typeMatches(node.value, node.schema)) continue; // the schema pass reports it
      let self = typeof node.value === 'object' && node.value ? converted.get(node.value) : undefined;
      if (self === undefined) {
        self = toCel(node.value, node.schema);
        if (typeof node.value === 'object' && node.value) converted.set(node.value, self);
      }
      const ctx = { self };
      const r = compiled.program(ctx);
      if (r === true) continue;
      const at = rule.fieldPath ? [...node.at, ...fieldPathSegments(rule.fieldPath)] : node.at;
      if (isCelError(r)) {
        c.add(obj, 'cel/evaluation-error', at, `Invalid value: "${TYPE_NAMES[node.schema?.type] ?? 'object'}": ${r.message} evaluating rule: ${shortRule(rule.rule)}`);
      } else if (r === false) {
        c.add(obj, 'cel/validation', at, `${describe(rule, node.value, node.schema, ctx)} (rule: ${shortRule(rule.rule)})`);
      } else {
        c.add(obj, 'cel/evaluation-error', at, `rule did not evaluate to a bool: ${shortRule(rule.rule)}`);
      }
    }
  }
}

/** Compiles every rule of the pinned CRDs: how many compile, which are transition rules, which fail and why. */
export function celRuleReport(): { total: number; compiled: number; transition: number; failed: Array<{ kind: string; path: string; rule: string; error: string }> } {
  const kinds = crdSchemas().kinds as Record<string, { celRules?: CelRule[] }>;
  let total = 0;
  let compiled = 0;
  let transition = 0;
  const failed: Array<{ kind: string; path: string; rule: string; error: string }> = [];
  for (const [kind, k] of Object.entries(kinds)) {
    for (const r of k.celRules ?? []) {
      total++;
      const c = compileCel(r.rule);
      if (c.ok) {
        compiled++;
        if (c.transition) transition++;
      } else failed.push({ kind, path: r.path.join('.'), rule: r.rule, error: c.error });
    }
  }
  return { total, compiled, transition, failed };
}
