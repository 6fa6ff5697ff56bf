/**
 * PrometheusRule checks (durations, `promtool check rules`) and `promtoolTest`, which runs
 * promtool unit tests against rule groups.
 */
import { execFile } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as YAML from 'yaml';
import type { Collector } from './collector';
import type { Segment } from './paths';
import type { K8sObject, ValidateOptions } from './types';

/** Prometheus duration (model.ParseDuration): units y w d h m s ms in that order, or 0. */
const PROM_DURATION = /^(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?$/;

/** True when `s` is a Prometheus duration such as `5m`, `1h30m` or `0`. */
export function isPromDuration(s: unknown): boolean {
  return typeof s === 'string' && s.length > 0 && (s === '0' || PROM_DURATION.test(s));
}

/** One rule of a group: a recording rule (`record`) or an alerting rule (`alert`). */
export interface PromRule {
  readonly record?: string;
  readonly alert?: string;
  readonly expr: string;
  readonly for?: string;
  readonly keep_firing_for?: string;
  readonly labels?: Readonly<Record<string, string>>;
  readonly annotations?: Readonly<Record<string, string>>;
}

/**
 * A Prometheus rule group, as in a rule file or `PrometheusRule.spec.groups`. No index signature,
 * so MonitoringStack's typed groups (interfaces) are accepted as they are.
 */
export interface RuleGroup {
  readonly name: string;
  readonly interval?: string;
  readonly limit?: number;
  readonly query_offset?: string;
  readonly rules: readonly PromRule[];
}

/** Finds the promtool binary: explicit path, env CDK8S_AGENTS_PROMTOOL, or `promtool` on the PATH. */
export function findPromtool(explicit?: string): string | undefined {
  const candidate = explicit ?? process.env.CDK8S_AGENTS_PROMTOOL;
  if (candidate) return fs.existsSync(candidate) ? candidate : undefined;
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const p = path.join(dir, process.platform === 'win32' ? 'promtool.exe' : 'promtool');
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return p;
    } catch {
      /* keep looking */
    }
  }
  return undefined;
}

interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

function run(bin: string, args: string[], cwd: string, timeoutMs = 60_000): Promise<RunResult> {
  return new Promise((resolve) => {
    execFile(bin, args, { cwd, timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 }, (err: any, stdout, stderr) => {
      // A timeout kills promtool: say so, not only "Command failed".
      const why = err?.killed ? `promtool ${args.join(' ')} did not finish within ${timeoutMs} ms and was stopped` : err && typeof err.code !== 'number' ? String(err.message) : '';
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout: String(stdout), stderr: String(stderr) + why });
    });
  });
}

const isObj = (v: unknown): v is Record<string, any> => !!v && typeof v === 'object' && !Array.isArray(v);

/** Duration fields of groups and rules, checked before promtool (promtool stops at the first one). */
function durationRules(obj: K8sObject, groups: any[], c: Collector): void {
  groups.forEach((g, gi) => {
    if (!isObj(g)) return;
    for (const f of ['interval', 'query_offset'] as const) {
      if (g[f] !== undefined && !isPromDuration(g[f])) {
        c.add(obj, 'prometheus/duration', ['spec', 'groups', gi, f], `group "${g.name}": ${f} ${JSON.stringify(g[f])} is not a Prometheus duration (e.g. 30s, 5m, 1h30m)`);
      }
    }
    (Array.isArray(g.rules) ? g.rules : []).forEach((r: any, ri: number) => {
      if (!isObj(r)) return;
      for (const f of ['for', 'keep_firing_for'] as const) {
        if (r[f] !== undefined && !isPromDuration(r[f])) {
          c.add(obj, 'prometheus/duration', ['spec', 'groups', gi, 'rules', ri, f], `rule "${r.alert ?? r.record}": ${f} ${JSON.stringify(r[f])} is not a Prometheus duration (e.g. 30s, 5m, 1h30m)`);
        }
      }
    });
  });
}

const GROUP_FIELDS = ['name', 'interval', 'limit', 'rules'];
const RULE_FIELDS = ['record', 'alert', 'expr', 'for', 'keep_firing_for', 'labels', 'annotations'];

function pick(o: Record<string, any>, keys: string[]): Record<string, any> {
  return Object.fromEntries(keys.filter((k) => o[k] !== undefined).map((k) => [k, o[k]]));
}

/**
 * What Prometheus would load: unknown fields pruned (the schema pass reports them), invalid
 * durations dropped (reported above), so promtool gets to check every expression and template.
 */
function sanitizedGroups(groups: any[]): any[] {
  return groups.map((g) => {
    if (!isObj(g)) return g;
    const out: any = pick(g, GROUP_FIELDS);
    if (out.interval !== undefined && !isPromDuration(out.interval)) delete out.interval;
    out.rules = (Array.isArray(g.rules) ? g.rules : []).map((r: any) => {
      if (!isObj(r)) return r;
      const rr: any = pick(r, RULE_FIELDS);
      for (const f of ['for', 'keep_firing_for']) if (rr[f] !== undefined && !isPromDuration(rr[f])) delete rr[f];
      if (typeof rr.expr === 'number') rr.expr = String(rr.expr);
      return rr;
    });
    return out;
  });
}

/** `<file>: [L:C: ]group "g", rule N, "name": message` */
const PROMTOOL_LINE = /^(.+?\.yaml): (?:\d+:\d+: )?group "((?:[^"\\]|\\.)*)", rule (\d+), "((?:[^"\\]|\\.)*)": (.*)$/;
const PROMTOOL_FILE_LINE = /^(.+?\.yaml): (?:(\d+):(\d+): )?(.*)$/;

function fieldOf(message: string): Segment[] {
  if (/could not parse expression|parse error/.test(message)) return ['expr'];
  if (/recording rule name/.test(message)) return ['record'];
  if (/alert name|alerting rule name/.test(message)) return ['alert'];
  const label = /^label "([^"]+)"/.exec(message);
  if (label) return ['labels', label[1]];
  const ann = /^annotation "([^"]+)"/.exec(message);
  if (ann) return ['annotations', ann[1]];
  return [];
}

/** Runs the PrometheusRule checks. */
export async function prometheusRules(objects: readonly K8sObject[], c: Collector, options: ValidateOptions): Promise<void> {
  const rules = objects.filter((o) => isObj(o) && o.kind === 'PrometheusRule' && typeof o.apiVersion === 'string' && o.apiVersion.startsWith('monitoring.coreos.com/'));
  if (rules.length === 0) return;
  const withGroups: Array<{ obj: K8sObject; groups: any[] }> = [];
  for (const obj of rules) {
    const groups = (obj as any).spec?.groups;
    if (!Array.isArray(groups)) continue;
    durationRules(obj, groups, c);
    withGroups.push({ obj, groups });
  }
  const mode = options.promtool ?? 'auto';
  if (mode === false || withGroups.length === 0) return;
  const bin = findPromtool(typeof mode === 'string' && mode !== 'auto' ? mode : undefined);
  if (!bin) {
    const msg = 'promtool not found (install the Prometheus tools, put promtool on the PATH or set CDK8S_AGENTS_PROMTOOL): rule expressions were not checked';
    if (mode === true || (typeof mode === 'string' && mode !== 'auto')) {
      for (const { obj } of withGroups) c.add(obj, 'prometheus/promtool-missing', 'spec.groups', msg, 'error');
    } else {
      c.note(msg);
      for (const { obj } of withGroups) c.add(obj, 'prometheus/promtool-missing', 'spec.groups', msg, 'warning');
    }
    return;
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cdk8s-agents-rules-'));
  try {
    const files = withGroups.map(({ groups }, i) => {
      const file = `rules-${i}.yaml`;
      fs.writeFileSync(path.join(dir, file), YAML.stringify({ groups: sanitizedGroups(groups) }));
      return file;
    });
    const res = await run(bin, ['check', 'rules', ...files], dir);
    if (res.code === 0) return;
    const byFile = new Map(files.map((f, i) => [f, withGroups[i]]));
    let attributed = 0;
    for (const line of (res.stderr + '\n' + res.stdout).split('\n').map((l) => l.trim())) {
      const m = PROMTOOL_LINE.exec(line);
      const target = m ? byFile.get(path.basename(m[1])) : undefined;
      if (m && target) {
        const [, , group, ruleNo, ruleName, message] = m;
        const gi = target.groups.findIndex((g: any) => g?.name === group);
        const ri = Number(ruleNo) - 1;
        c.add(target.obj, 'prometheus/promtool', ['spec', 'groups', gi, 'rules', ri, ...fieldOf(message)], `rule "${ruleName}": ${message}`);
        attributed++;
        continue;
      }
      const f = PROMTOOL_FILE_LINE.exec(line);
      const t2 = f ? byFile.get(path.basename(f[1])) : undefined;
      if (f && t2) {
        const repeated = /groupname: "((?:[^"\\]|\\.)*)" is repeated/.exec(f[4]);
        let at: Segment[] = ['spec', 'groups'];
        if (repeated) {
          const idx = t2.groups.map((g: any, i: number) => (g?.name === repeated[1] ? i : -1)).filter((i) => i >= 0);
          at = ['spec', 'groups', idx[1] ?? idx[0] ?? 0, 'name'];
        }
        c.add(t2.obj, 'prometheus/promtool', at, f[4]);
        attributed++;
      }
    }
    if (attributed === 0) {
      for (const { obj } of withGroups) c.add(obj, 'prometheus/promtool', 'spec.groups', `promtool check rules failed (exit ${res.code}): ${(res.stderr || res.stdout).trim().slice(0, 500)}`);
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------
// promtool unit tests

/** One promtool unit test file (https://prometheus.io/docs/prometheus/latest/configuration/unit_testing_rules/). */
export interface PromtoolTestFile {
  /** Defaults to the rule file written by promtoolTest. */
  readonly rule_files?: readonly string[];
  readonly evaluation_interval?: string;
  readonly group_eval_order?: readonly string[];
  readonly tests: readonly object[];
  readonly [key: string]: unknown;
}

/** One promtool test case (an entry of a test file's `tests:`); no index signature, so typed test interfaces (MonitoringStack's) are accepted. */
export interface PromtoolTestCase {
  readonly interval?: string;
  readonly input_series?: ReadonlyArray<{ readonly series: string; readonly values: string }>;
  readonly name?: string;
  readonly alert_rule_test?: readonly object[];
  readonly promql_expr_test?: readonly object[];
  readonly external_labels?: Readonly<Record<string, string>>;
}

/** Input of `promtoolTest`. */
export interface PromtoolTestInput {
  /** The rule groups under test (e.g. the MonitoringStack's groups, plus your own). */
  readonly ruleGroups: readonly RuleGroup[];
  /**
   * Test files (objects written as YAML, or YAML text), or bare test cases: those are put in one
   * file with `evaluation_interval` and a `group_eval_order` that runs recording-only groups first.
   */
  readonly tests: ReadonlyArray<PromtoolTestFile | PromtoolTestCase | string>;
  /** evaluation_interval of the file made from bare test cases. @default '1m' */
  readonly evaluationInterval?: string;
  /** promtool binary. @default env CDK8S_AGENTS_PROMTOOL or `promtool` on the PATH */
  readonly promtool?: string;
  /** Keep the temp folder (its path is in the result) for debugging. @default false */
  readonly keep?: boolean;
  /** Longest run of each promtool command (large suites on a busy CI machine take longer). @default 60000 */
  readonly timeoutMs?: number;
}

/** Anything that can hand out rule groups and promtool tests (e.g. a MonitoringStack). */
export interface PromtoolTestSource {
  readonly ruleGroups: readonly RuleGroup[] | (() => readonly RuleGroup[]);
  readonly promtoolTests?: ReadonlyArray<PromtoolTestFile | PromtoolTestCase | string> | (() => ReadonlyArray<PromtoolTestFile | PromtoolTestCase | string>);
}

function isTestCase(t: unknown): t is PromtoolTestCase {
  return isObj(t) && !Array.isArray((t as any).tests) && ('input_series' in t || 'alert_rule_test' in t || 'promql_expr_test' in t);
}

/** Bare test cases -> one test file; recording-only groups evaluate first so alerts see fresh records. */
function testFiles(groups: readonly RuleGroup[], tests: ReadonlyArray<PromtoolTestFile | PromtoolTestCase | string>, interval: string): Array<PromtoolTestFile | string> {
  const cases = tests.filter(isTestCase);
  const files = tests.filter((t) => !isTestCase(t)) as Array<PromtoolTestFile | string>;
  if (cases.length) {
    const recordingOnly = (g: RuleGroup) => g.rules.length > 0 && g.rules.every((r) => r.record !== undefined);
    const order = [...groups.filter(recordingOnly), ...groups.filter((g) => !recordingOnly(g))].map((g) => g.name);
    files.unshift({ evaluation_interval: interval, group_eval_order: [...new Set(order)], tests: cases });
  }
  return files;
}

/** Result of `promtoolTest`. */
export interface PromtoolTestResult {
  /** True when `promtool check rules` and `promtool test rules` both passed. */
  readonly ok: boolean;
  readonly exitCode: number;
  /** Combined promtool output (check and test). */
  readonly output: string;
  /** The folder with rules.yaml and test-N.yaml (deleted unless `keep`). */
  readonly dir: string;
}

/** Thrown by promtoolTest when promtool is not installed. */
export class PromtoolNotFoundError extends Error {
  constructor() {
    super('promtool not found: install the Prometheus tools (e.g. apt-get install prometheus), put promtool on the PATH or set CDK8S_AGENTS_PROMTOOL');
    this.name = 'PromtoolNotFoundError';
  }
}

/**
 * Writes rule groups and promtool unit tests to a temp folder and runs `promtool check rules` and
 * `promtool test rules`, so custom alerts get the same fire/silent proof as the built-in ones.
 *
 * @example
 *   const r = await promtoolTest({ ruleGroups: [myGroup], tests: [{ tests: [{ interval: '1m', input_series: [...], alert_rule_test: [...] }] }] });
 *   expect(r.output).toContain('SUCCESS'); expect(r.ok).toBe(true);
 */
export async function promtoolTest(input: PromtoolTestInput | PromtoolTestSource): Promise<PromtoolTestResult> {
  const groups = typeof input.ruleGroups === 'function' ? input.ruleGroups() : input.ruleGroups;
  const testsRaw = 'tests' in input ? input.tests : typeof input.promtoolTests === 'function' ? input.promtoolTests() : input.promtoolTests;
  const tests = testFiles(groups, testsRaw ?? [], ('evaluationInterval' in input && input.evaluationInterval) || '1m');
  if (tests.length === 0) throw new Error('promtoolTest: no tests given (a test file needs at least one test case)');
  const bin = findPromtool('promtool' in input ? input.promtool : undefined);
  if (!bin) throw new PromtoolNotFoundError();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cdk8s-agents-promtool-'));
  const keep = 'keep' in input && input.keep === true;
  try {
    fs.writeFileSync(path.join(dir, 'rules.yaml'), YAML.stringify({ groups }));
    const files = tests.map((t, i) => {
      const file = `test-${i}.yaml`;
      let doc: any = typeof t === 'string' ? YAML.parse(t) : { ...t };
      if (!isObj(doc)) throw new Error(`promtoolTest: test ${i} is not a mapping`);
      if (!doc.rule_files) doc = { rule_files: ['rules.yaml'], ...doc };
      fs.writeFileSync(path.join(dir, file), YAML.stringify(doc));
      return file;
    });
    const timeoutMs = ('timeoutMs' in input && input.timeoutMs) || undefined;
    const check = await run(bin, ['check', 'rules', 'rules.yaml'], dir, timeoutMs);
    const test = check.code === 0 ? await run(bin, ['test', 'rules', ...files], dir, timeoutMs) : { code: check.code, stdout: '', stderr: '(unit tests not run: the rule file is invalid)' };
    const output = [check.stdout, check.stderr, test.stdout, test.stderr].filter((s) => s.trim()).join('\n');
    return { ok: check.code === 0 && test.code === 0, exitCode: check.code || test.code, output, dir };
  } finally {
    if (!keep) fs.rmSync(dir, { recursive: true, force: true });
  }
}
