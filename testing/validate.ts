/**
 * `validateManifests`: the one validator the package's tests, its users' tests, the cdk8s
 * validation plugin and the CLI share.
 */
import { builtinRules } from './builtin';
import { celRules } from './cel';
import { Collector, RawProblem } from './collector';
import { crossObjectRules } from './cross';
import { closest, formatPath, globMatch, objectId, pointerToSegments, Segment } from './paths';
import { policyRules, uniqueKeyRules } from './policy';
import { prometheusRules } from './prometheus';
import { loadKubernetesModels, SchemaError, validatorFor } from './schemas';
import { constructPathOf, ManifestInput, toObjects } from './synth';
import type {
  K8sObject,
  Problem,
  Severity,
  SuppressedProblem,
  ValidateOptions,
  ValidationException,
  ValidationResultJson,
} from './types';

export type { ManifestInput } from './synth';

/** The outcome of `validateManifests`. */
export class ValidationResult {
  /** True when there is no error (warnings are allowed). */
  readonly ok: boolean;
  readonly errors: readonly Problem[];
  readonly warnings: readonly Problem[];

  constructor(
    /** Every unsuppressed problem, in object order then path order. */
    readonly problems: readonly Problem[],
    /** Problems that matched an exception, with its reason. */
    readonly suppressed: readonly SuppressedProblem[],
    /** Number of validated objects. */
    readonly objectCount: number,
    /** Remarks about the run itself (e.g. promtool not found). */
    readonly notes: readonly string[],
  ) {
    this.errors = problems.filter((p) => p.severity === 'error');
    this.warnings = problems.filter((p) => p.severity === 'warning');
    this.ok = this.errors.length === 0;
  }

  /** Stable JSON for CI (`JSON.stringify(result)` uses it). */
  toJSON(): ValidationResultJson {
    return {
      ok: this.ok,
      summary: { objects: this.objectCount, errors: this.errors.length, warnings: this.warnings.length, suppressed: this.suppressed.length },
      problems: this.problems,
      suppressed: this.suppressed,
      notes: this.notes,
    };
  }

  /** A readable report: one block per problem with object, field path, rule and construct path. */
  toString(): string {
    return formatReport(this);
  }
}

/** Renders a result as text. */
export function formatReport(result: ValidationResult): string {
  const n = (c: number, w: string) => `${c} ${w}${c === 1 ? '' : 's'}`;
  const lines: string[] = [];
  lines.push(
    `${result.ok ? 'OK' : 'FAILED'}: ${n(result.errors.length, 'error')}, ${n(result.warnings.length, 'warning')}` +
      `${result.suppressed.length ? `, ${result.suppressed.length} suppressed` : ''} in ${n(result.objectCount, 'object')}`,
  );
  for (const p of result.problems) {
    lines.push('');
    lines.push(`${p.severity.toUpperCase()} [${p.rule}] ${p.object}${p.path ? ` at ${p.path}` : ''}`);
    lines.push(`  ${p.message}`);
    if (p.constructPath) lines.push(`  construct: ${p.constructPath}`);
  }
  for (const s of result.suppressed) {
    lines.push('');
    lines.push(`SUPPRESSED [${s.rule}] ${s.object}${s.path ? ` at ${s.path}` : ''}: ${s.message}`);
    lines.push(`  reason: ${s.reason}`);
  }
  for (const note of result.notes) {
    lines.push('');
    lines.push(`note: ${note}`);
  }
  return lines.join('\n');
}

/**
 * Validates synthesized objects against the real schemas (core kinds: kubernetes-models plus a
 * strict unknown-field pass; custom kinds: the pinned upstream CRDs) and the package policies.
 *
 * @param input the objects (e.g. `Testing.synth(chart)`), the result of `synthObjects`, or a Chart / App
 * @param options severities, exceptions, promtool, ...
 */
export async function validateManifests(input: ManifestInput, options: ValidateOptions = {}): Promise<ValidationResult> {
  const { objects, constructPaths } = toObjects(input);
  checkExceptions(options.exceptions ?? []);
  const c = new Collector(objects);
  const kmFailure = await loadKubernetesModels();
  if (kmFailure) c.note(kmFailure);

  schemaRules(objects, c, options);
  if (options.builtin !== false) builtinRules(objects, c);
  if (options.cel !== false) celRules(objects, c);
  if (options.policy !== false) policyRules(objects, c);
  await prometheusRules(objects, c, options);
  if (options.crossObject !== false) crossObjectRules(objects, c);

  return finish(c, options, (o) => lookupConstructPath(o, options, constructPaths));
}

function lookupConstructPath(obj: K8sObject, options: ValidateOptions, fromInput?: ReadonlyMap<object, string>): string | undefined {
  const cp = options.constructPaths;
  if (typeof cp === 'function') return cp(obj) ?? undefined;
  return cp?.get(obj) ?? fromInput?.get(obj) ?? constructPathOf(obj);
}

function checkExceptions(exceptions: readonly ValidationException[]): void {
  for (const e of exceptions) {
    if (!e || typeof e.rule !== 'string' || typeof e.object !== 'string') {
      throw new Error(`cdk8s-agents/testing: an exception needs "rule" and "object": ${JSON.stringify(e)}`);
    }
    if (typeof e.reason !== 'string' || e.reason.trim().length === 0) {
      throw new Error(`cdk8s-agents/testing: the exception for rule "${e.rule}" on "${e.object}" has no reason; say why it is acceptable`);
    }
  }
}

/** A rule id below another (`policy/resources/cpu-limit` is within `policy/resources`). */
export function ruleWithin(rule: string, parent: string): boolean {
  return !parent.includes('*') && rule.startsWith(parent + '/');
}

/**
 * The severity configured for a rule: the most specific matching key wins (an exact id, then the
 * longest glob or parent id).
 */
export function severityFor(rule: string, builtIn: Severity, overrides: ValidateOptions['severity']): Severity | 'off' {
  if (!overrides) return builtIn;
  if (overrides[rule]) return overrides[rule];
  let best: { len: number; value: Severity | 'off' } | undefined;
  for (const [k, v] of Object.entries(overrides)) {
    if ((k.includes('*') && globMatch(k, rule)) || ruleWithin(rule, k)) {
      const len = k.replace(/\*/g, '').length;
      if (!best || len > best.len) best = { len, value: v };
    }
  }
  return best?.value ?? builtIn;
}

const SUPERSEDES: Record<string, string[]> = {
  'prometheus/duration': ['schema/pattern'],
  // kubernetes-models rejects some malformed quantities as a type error; the quantity rule says why.
  'k8s/quantity': ['schema/type', 'schema/pattern', 'schema/format'],
};

function pathWithin(path: string, prefix: string): boolean {
  return path === prefix || path.startsWith(prefix + '.') || path.startsWith(prefix + '[');
}

function finish(c: Collector, options: ValidateOptions, constructPathFor: (o: K8sObject) => string | undefined): ValidationResult {
  const problems: Problem[] = [];
  const suppressed: SuppressedProblem[] = [];
  const used = new Set<ValidationException>();
  const sorted = [...c.problems].sort(
    (a, b) => a.index - b.index || (a.severity === b.severity ? 0 : a.severity === 'error' ? -1 : 1) || a.path.localeCompare(b.path) || a.rule.localeCompare(b.rule),
  );
  const seen = new Set<string>();
  // A specific rule makes the generic schema message at the same field redundant.
  const specific = new Set(sorted.filter((r) => SUPERSEDES[r.rule]).flatMap((r) => SUPERSEDES[r.rule].map((g) => `${r.index}|${g}|${r.path}`)));
  for (const raw of sorted) {
    if (specific.has(`${raw.index}|${raw.rule}|${raw.path}`)) continue;
    const severity = severityFor(raw.rule, raw.severity, options.severity);
    if (severity === 'off') continue;
    const p = toProblem(raw, severity, constructPathFor(raw.obj));
    const key = `${raw.index}|${p.rule}|${p.path}|${p.message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const ex = (options.exceptions ?? []).find(
      (e) => (globMatch(e.rule, p.rule) || ruleWithin(p.rule, e.rule)) && globMatch(e.object, p.object) && (e.path === undefined || pathWithin(p.path, e.path)),
    );
    if (ex) {
      used.add(ex);
      suppressed.push({ ...p, reason: ex.reason });
    } else {
      problems.push(p);
    }
  }
  for (const e of options.exceptions ?? []) {
    if (used.has(e)) continue;
    const sev = severityFor('exceptions/unused', 'warning', options.severity);
    if (sev === 'off') continue;
    problems.push({
      severity: sev,
      rule: 'exceptions/unused',
      object: e.object,
      path: e.path ?? '',
      message: `the exception for rule "${e.rule}" matched no problem; remove it (reason given: ${e.reason})`,
    });
  }
  return new ValidationResult(problems, suppressed, c.objects.length, c.notes);
}

function toProblem(raw: RawProblem, severity: Severity, constructPath: string | undefined): Problem {
  const p: Problem = { severity, rule: raw.rule, object: objectId(raw.obj), path: raw.path, message: raw.message };
  return constructPath ? { ...p, constructPath } : p;
}

// ---------------------------------------------------------------------------------------------
// schema rules

/** Removed API versions people still copy from old examples: [removed in, use instead]. */
const REMOVED_APIS: Record<string, [string, string]> = {
  'policy/v1beta1/PodDisruptionBudget': ['1.25', 'policy/v1'],
  'batch/v1beta1/CronJob': ['1.25', 'batch/v1'],
  'autoscaling/v2beta1/HorizontalPodAutoscaler': ['1.25', 'autoscaling/v2'],
  'autoscaling/v2beta2/HorizontalPodAutoscaler': ['1.26', 'autoscaling/v2'],
  'extensions/v1beta1/Deployment': ['1.16', 'apps/v1'],
  'apps/v1beta1/Deployment': ['1.16', 'apps/v1'],
  'apps/v1beta2/Deployment': ['1.16', 'apps/v1'],
  'extensions/v1beta1/Ingress': ['1.22', 'networking.k8s.io/v1'],
  'networking.k8s.io/v1beta1/Ingress': ['1.22', 'networking.k8s.io/v1'],
  'extensions/v1beta1/NetworkPolicy': ['1.16', 'networking.k8s.io/v1'],
  'rbac.authorization.k8s.io/v1beta1/Role': ['1.22', 'rbac.authorization.k8s.io/v1'],
  'rbac.authorization.k8s.io/v1beta1/RoleBinding': ['1.22', 'rbac.authorization.k8s.io/v1'],
};

const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

function schemaRules(objects: readonly K8sObject[], c: Collector, options: ValidateOptions): void {
  const identities = new Map<string, K8sObject>();
  for (const obj of objects) {
    if (!obj || typeof obj !== 'object' || Array.isArray(obj)) {
      c.add(obj, 'schema/invalid-object', '', 'not a Kubernetes object (expected a mapping with apiVersion, kind and metadata)');
      continue;
    }
    if (typeof obj.apiVersion !== 'string' || typeof obj.kind !== 'string') {
      c.add(obj, 'schema/invalid-object', typeof obj.apiVersion !== 'string' ? 'apiVersion' : 'kind', 'every object needs a string apiVersion and kind');
      continue;
    }
    const name = obj.metadata?.name;
    if (typeof name !== 'string' || name.length === 0) {
      if (!obj.metadata?.generateName) c.add(obj, 'schema/required', 'metadata.name', 'required field "name" is missing');
    } else {
      const group = obj.apiVersion.includes('/') ? obj.apiVersion.split('/')[0] : '';
      const identity = `${group}|${obj.kind}|${obj.metadata?.namespace ?? ''}|${name}`;
      if (identities.has(identity)) {
        c.add(obj, 'k8s/duplicate-object', 'metadata.name', `another ${obj.kind} named "${name}" is in the same set; the later one overwrites the earlier when applied`);
      }
      identities.set(identity, obj);
    }
    uniqueKeyRules(obj, c);
    const v = validatorFor(obj.apiVersion, obj.kind);
    const removed = REMOVED_APIS[`${obj.apiVersion}/${obj.kind}`];
    if (!v && removed) {
      c.add(obj, 'k8s/removed-api', 'apiVersion', `${obj.apiVersion} ${obj.kind} was removed in Kubernetes ${removed[0]}; use ${removed[1]}`);
      continue;
    }
    if (!v) {
      const sev = options.unknownKinds ?? 'warning';
      if (sev !== 'off') {
        c.add(obj, 'schema/unknown-kind', '', `no schema for ${obj.apiVersion} ${obj.kind}: the object was not checked against a schema`, sev);
      }
      continue;
    }
    for (const p of schemaProblems(obj, v.validate(obj))) c.add(obj, p.rule, p.path, p.message);
  }
}

function valueAt(root: unknown, segs: readonly Segment[]): unknown {
  let node: any = root;
  for (const s of segs) node = node == null ? undefined : node[s as any];
  return node;
}

function show(v: unknown): string {
  const s = JSON.stringify(v);
  if (s === undefined) return String(v);
  return s.length > 80 ? s.slice(0, 77) + '...' : s;
}

function describeType(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v;
}

/** The field names a oneOf/anyOf branch requires (Istio encodes "exactly one of" this way). */
function branchFields(branches: any[]): string[] {
  const names = new Set<string>();
  const walk = (s: any) => {
    if (!s || typeof s !== 'object') return;
    if (Array.isArray(s.required)) s.required.forEach((r: string) => names.add(r));
    for (const k of ['oneOf', 'anyOf', 'allOf']) if (Array.isArray(s[k])) s[k].forEach(walk);
    if (s.not) walk(s.not);
  };
  branches.forEach(walk);
  return [...names];
}

/** Turns ajv / kubernetes-models errors into (rule, path, message), dropping the noise of oneOf branches. */
export function schemaProblems(obj: unknown, errors: readonly SchemaError[]): Array<{ rule: string; path: string; message: string }> {
  const combinators = errors.filter((e) => e.keyword === 'oneOf' || e.keyword === 'anyOf').map((e) => e.schemaPath);
  const out: Array<{ rule: string; path: string; message: string }> = [];
  const seen = new Set<string>();
  const kept = errors.filter((e) => !combinators.some((sp) => e.schemaPath.startsWith(sp + '/')) && e.keyword !== 'not' && e.keyword !== 'if');
  // A concrete error at a field says more than "does not match oneOf" at the same field.
  const concrete = new Set(kept.filter((e) => e.keyword !== 'oneOf' && e.keyword !== 'anyOf').map((e) => e.instancePath));
  const typeErrors = new Set(kept.filter((e) => e.keyword === 'type').map((e) => e.instancePath));
  for (const e of kept) {
    if ((e.keyword === 'oneOf' || e.keyword === 'anyOf') && concrete.has(e.instancePath)) continue;
    if (e.keyword === 'format' && typeErrors.has(e.instancePath)) continue;
    const segs = pointerToSegments(e.instancePath, obj);
    const value = valueAt(obj, segs);
    let rule = `schema/${e.keyword}`;
    let path = segs;
    let message: string;
    const params = e.params as any;
    switch (e.keyword) {
      case 'additionalProperties': {
        rule = 'schema/unknown-field';
        path = [...segs, params.additionalProperty];
        const known = Object.keys(e.parentSchema?.properties ?? {});
        const hint = closest(params.additionalProperty, known);
        message = `unknown field "${params.additionalProperty}"${hint ? ` (did you mean "${hint}"?)` : ''}: the API server prunes unknown fields silently`;
        break;
      }
      case 'required':
        path = [...segs, params.missingProperty];
        message = `required field "${params.missingProperty}" is missing`;
        break;
      case 'enum':
        message = `must be one of ${(params.allowedValues as unknown[]).map(show).join(', ')} (got ${show(value)})`;
        break;
      case 'const':
        message = `must be ${show(params.allowedValue)} (got ${show(value)})`;
        break;
      case 'type':
        message = `must be ${Array.isArray(params.type) ? params.type.join(' or ') : String(params.type).replace(/,/g, ' or ')} (got ${describeType(value)} ${show(value)})`;
        break;
      case 'format':
        message = `must be a valid ${params.format} (got ${show(value)})`;
        break;
      case 'pattern':
        message = `must match ${params.pattern} (got ${show(value)})`;
        break;
      case 'k8sListMapKeys':
        rule = 'schema/duplicate-key';
        path = [...segs, params.duplicate];
        message = `duplicate entry: same ${(params.keys as string[]).map((k) => `"${k}"`).join(', ')} as item ${params.first} (the API server rejects it)`;
        break;
      case 'uniqueItems':
        rule = 'schema/duplicate-key';
        path = [...segs, params.i];
        message = `duplicate entry: same value as item ${params.j} in a list of unique values`;
        break;
      case 'oneOf':
      case 'anyOf': {
        const fields = branchFields(e.parentSchema?.[e.keyword] ?? []);
        const set = fields.filter((f) => value && typeof value === 'object' && (value as any)[f] !== undefined);
        if (fields.length) {
          message =
            set.length > 1
              ? `only one of ${fields.map((f) => `"${f}"`).join(', ')} may be set (found ${set.map((f) => `"${f}"`).join(', ')})`
              : `must set ${e.keyword === 'oneOf' ? 'exactly' : 'at least'} one of ${fields.map((f) => `"${f}"`).join(', ')}`;
        } else {
          message = `must match ${e.keyword === 'oneOf' ? 'exactly one' : 'at least one'} of the allowed shapes`;
        }
        break;
      }
      default:
        message = `${e.message ?? e.keyword} (got ${show(value)})`;
    }
    const p = formatPath(path);
    const key = `${rule}|${p}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push({ rule, path: p, message });
  }
  return out;
}

export { DNS1123_SUBDOMAIN };
