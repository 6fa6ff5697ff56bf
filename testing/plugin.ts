/**
 * cdk8s validation plugin: `cdk8s synth` runs it on the synthesized manifests (the `validations:`
 * key of cdk8s.yaml) and fails with a report naming object, field path, construct path and rule.
 * `cdk8s synth --no-validate` skips it.
 *
 *   validations:
 *     - package: ./node_modules/cdk8s-agents/lib/testing/plugin.js   # or ./lib/testing/plugin.js in this repo
 *       version: 0.1.0                                                # any pinned version (not a range)
 *       class: AgentsValidation
 *       properties:                                                  # all optional: see AgentsValidationProperties
 *         exceptions:
 *           - { rule: pss/privileged, object: Deployment/agents/sandbox, reason: "needs /dev/fuse (SEC-123)" }
 *         severity: { policy/read-only-root-filesystem: warning }
 *         jsonReport: validation-report.json
 */
import * as fs from 'fs';
import * as path from 'path';
import { objectId } from './paths';
import { CONSTRUCT_PATHS_FILE, constructPathKey } from './synth';
import type { K8sObject, Problem, Severity, ValidateOptions, ValidationException } from './types';
import { validateManifests } from './validate';

/** `properties:` of the plugin entry in cdk8s.yaml. */
export interface AgentsValidationProperties {
  /** Severity per rule id or glob; `off` disables. @default built-in severities */
  readonly severity?: Record<string, Severity | 'off'>;
  /** Accepted deviations, each with a reason. @default none */
  readonly exceptions?: ValidationException[];
  /** Run the policy rules. @default true */
  readonly policy?: boolean;
  /** Run the API server's built-in (Go) validation rules (`k8s/*`). @default true */
  readonly builtin?: boolean;
  /** Evaluate the CRDs' x-kubernetes-validations (CEL) rules (`cel/*`). @default true */
  readonly cel?: boolean;
  /** `promtool check rules`: 'auto' | true | false | path to the binary. @default 'auto' */
  readonly promtool?: boolean | 'auto' | string;
  /** Severity for kinds without a schema. @default 'warning' */
  readonly unknownKinds?: Severity | 'off';
  /** Also write our JSON result (see ValidationResultJson) to this file, relative to the working directory. @default none */
  readonly jsonReport?: string;
  /** Fail on warnings too. @default false */
  readonly failOnWarnings?: boolean;
}

/** The subset of cdk8s-cli's ValidationContext the plugin uses (kept structural: no import of cdk8s-cli). */
export interface CliValidationContext {
  readonly manifests: readonly string[];
  readonly metadata: { readonly [resourceName: string]: { readonly path: string } };
  readonly report: {
    addViolation(v: {
      ruleName: string;
      recommendation: string;
      fix: string;
      violatingResources: Array<{ resourceName: string; locations: string[]; manifestPath: string }>;
    }): void;
    submit(status: 'success' | 'failure', metadata?: { [key: string]: string }): void;
  };
  readonly logger: { log(message: string): void };
  parseManifest(manifestPath: string): any[];
}

/** Short advice per rule family, shown as the report's "Recommendation" / "How to fix". */
const ADVICE: Array<[RegExp, string, string]> = [
  [/^schema\/unknown-field$/, 'Remove or rename the field: the API server prunes unknown fields silently, so it would have no effect.', 'Check the spelling against the CRD/API reference (the message suggests the closest field).'],
  [/^schema\//, 'Make the object match its schema (the pinned upstream CRD or the Kubernetes API).', 'Use the type, enum value or required field named in the message.'],
  [/^pss\//, 'Meet the restricted Pod Security Standard.', 'Set the securityContext field named in the location, or add an exception with a reason.'],
  [/^policy\/resources$/, 'Every container (including init containers) needs cpu and memory requests and limits.', 'Set resources.requests and resources.limits for cpu and memory.'],
  [/^policy\//, 'Follow the package policy.', 'Change the field named in the location, or add an exception with a reason.'],
  [/^naming\//, 'Kubernetes rejects names, label keys and values over their limits.', 'Shorten or rename (label values: at most 63 characters, DNS-1123 names).'],
  [/^prometheus\//, 'Prometheus would reject or misread this rule.', 'Fix the expression, template or duration named in the location (promtool check rules).'],
  [/^monitor\//, 'The monitor would scrape nothing.', 'Make the selector and port names match the Service / pod template labels and ports.'],
  [/^exceptions\//, 'Remove stale exceptions.', 'Delete the exception from cdk8s.yaml.'],
];

function advice(rule: string): [string, string] {
  const hit = ADVICE.find(([re]) => re.test(rule));
  return hit ? [hit[1], hit[2]] : ['See the message of each location.', 'See the message of each location.'];
}

/** The cdk8s validation plugin of cdk8s-agents. */
export class AgentsValidation {
  private readonly props: AgentsValidationProperties;

  constructor(properties: AgentsValidationProperties = {}) {
    this.props = properties ?? {};
  }

  async validate(context: CliValidationContext): Promise<void> {
    const objects: K8sObject[] = [];
    const manifestOf = new Map<object, string>();
    for (const manifest of context.manifests) {
      for (const doc of context.parseManifest(manifest)) {
        if (doc === null || doc === undefined) continue;
        objects.push(doc);
        manifestOf.set(doc, manifest);
      }
    }
    const constructPathFor = this.constructPaths(context, objects);
    const options: ValidateOptions = {
      severity: this.props.severity,
      exceptions: this.props.exceptions,
      policy: this.props.policy,
      builtin: this.props.builtin,
      cel: this.props.cel,
      promtool: this.props.promtool,
      unknownKinds: this.props.unknownKinds,
      constructPaths: constructPathFor,
    };
    const result = await validateManifests(objects, options);

    const objectsById = new Map(objects.map((o) => [objectId(o), o]));
    const byRule = new Map<string, Problem[]>();
    for (const p of result.problems) byRule.set(`${p.rule} (${p.severity})`, [...(byRule.get(`${p.rule} (${p.severity})`) ?? []), p]);
    for (const [ruleName, problems] of byRule) {
      const [recommendation, fix] = advice(problems[0].rule);
      const resources = new Map<string, { resourceName: string; locations: string[]; manifestPath: string }>();
      for (const p of problems) {
        const obj = objectsById.get(p.object);
        const key = p.object;
        // cdk8s looks the construct path up by resourceName in its name-keyed metadata: give it the
        // plain name only when that lookup is right, else the full id (it then shows N/A and the
        // location carries our construct path).
        const name = obj?.metadata?.name;
        const cdk8sPathRight = !!name && !!p.constructPath && context.metadata[name]?.path === p.constructPath;
        const r = resources.get(key) ?? {
          resourceName: cdk8sPathRight ? String(name) : p.object,
          locations: [],
          manifestPath: (obj && manifestOf.get(obj)) ?? '',
        };
        r.locations.push(`${p.object}${p.path ? ` ${p.path}` : ''}: ${p.message}${p.constructPath && !cdk8sPathRight ? ` [construct: ${p.constructPath}]` : ''}`);
        resources.set(key, r);
      }
      context.report.addViolation({ ruleName, recommendation, fix, violatingResources: [...resources.values()] });
    }
    for (const note of result.notes) context.logger.log(`cdk8s-agents: ${note}`);
    for (const s of result.suppressed) context.logger.log(`cdk8s-agents: suppressed ${s.rule} on ${s.object} ${s.path}: ${s.reason}`);
    if (this.props.jsonReport) {
      const file = path.resolve(process.cwd(), this.props.jsonReport);
      fs.mkdirSync(path.dirname(file), { recursive: true });
      fs.writeFileSync(file, JSON.stringify(result, null, 2) + '\n');
    }
    const failed = !result.ok || (this.props.failOnWarnings === true && result.warnings.length > 0);
    context.report.submit(failed ? 'failure' : 'success', {
      objects: String(result.objectCount),
      errors: String(result.errors.length),
      warnings: String(result.warnings.length),
      suppressed: String(result.suppressed.length),
    });
  }

  /**
   * Construct path per object: exact from the file `synthApp` writes next to the manifests; else
   * from cdk8s' construct-metadata.json, which is keyed by name, so only for names that are unique.
   */
  private constructPaths(context: CliValidationContext, objects: readonly K8sObject[]): (o: K8sObject) => string | undefined {
    const exact: Record<string, string> = {};
    for (const dir of new Set(context.manifests.map((m) => path.dirname(m)))) {
      const file = path.join(dir, CONSTRUCT_PATHS_FILE);
      if (fs.existsSync(file)) Object.assign(exact, JSON.parse(fs.readFileSync(file, 'utf8')).resources ?? {});
    }
    const nameCount = new Map<string, number>();
    for (const o of objects) if (o?.metadata?.name) nameCount.set(o.metadata.name, (nameCount.get(o.metadata.name) ?? 0) + 1);
    return (o) => {
      const hit = exact[constructPathKey(o)];
      if (hit) return hit;
      const name = o.metadata?.name;
      return name && nameCount.get(name) === 1 ? context.metadata[name]?.path : undefined;
    };
  }
}
