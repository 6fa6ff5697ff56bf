/** A synthesized Kubernetes object (plain JSON as written to the manifest). */
export interface K8sObject {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata?: {
    readonly name?: string;
    readonly namespace?: string;
    readonly labels?: Readonly<Record<string, string>>;
    readonly annotations?: Readonly<Record<string, string>>;
    readonly [key: string]: unknown;
  };
  readonly [key: string]: unknown;
}

/** How bad a problem is: errors fail validation, warnings are reported only. */
export type Severity = 'error' | 'warning';

/** One finding of the validator. */
export interface Problem {
  /** `error` fails the validation; `warning` does not. */
  readonly severity: Severity;
  /** Rule id, e.g. `schema/unknown-field`, `pss/privileged`, `prometheus/duration`. */
  readonly rule: string;
  /** `Kind/namespace/name` (`Kind/name` when the object has no namespace). */
  readonly object: string;
  /** Field path inside the object, e.g. `spec.http[0].retries.perTryTimout`; `` for the whole object. */
  readonly path: string;
  /** What is wrong and, where we know, how to fix it. */
  readonly message: string;
  /** The cdk8s construct path that produced the object, when known. */
  readonly constructPath?: string;
}

/** An accepted deviation: problems matching it are reported as suppressed instead of failing. */
export interface ValidationException {
  /** Rule id, or a glob such as `pss/*` or `*`. */
  readonly rule: string;
  /** `Kind/namespace/name` (or `Kind/name`), globs allowed: `Deployment/*`, `*\/monitoring/*`. */
  readonly object: string;
  /** Only problems at this field path or below it. @default every path */
  readonly path?: string;
  /** Why this is acceptable. Required: an exception without a reason is rejected. */
  readonly reason: string;
}

/** Options of `validateManifests`. */
export interface ValidateOptions {
  /**
   * Severity per rule (`'off'` disables the rule). Keys are rule ids or globs (`pss/*`); the most
   * specific key wins.
   * @default every rule at its built-in severity
   */
  readonly severity?: Readonly<Record<string, Severity | 'off'>>;
  /** Accepted deviations, each with a reason. @default none */
  readonly exceptions?: readonly ValidationException[];
  /**
   * Run the API server's built-in (Go) validation rules that no schema encodes (`k8s/*`: HPA metric and
   * target types, probes, ports, volume mounts, quantities, requests vs limits, PDB budgets, StatefulSets).
   * @default true
   */
  readonly builtin?: boolean;
  /**
   * Evaluate the CRDs' x-kubernetes-validations (CEL) rules (`cel/validation`, `cel/evaluation-error`);
   * transition rules (oldSelf) are skipped, as on create.
   * @default true
   */
  readonly cel?: boolean;
  /** Run the policy rules (Pod Security Standard restricted, resources, images, naming). @default true */
  readonly policy?: boolean;
  /**
   * Run `promtool check rules` on PrometheusRule groups. `'auto'` runs it when promtool is on the PATH
   * and reports a warning otherwise; `true` makes a missing promtool an error; a string is the binary.
   * @default 'auto' (env CDK8S_AGENTS_PROMTOOL overrides the binary)
   */
  readonly promtool?: boolean | 'auto' | string;
  /** Severity for objects whose apiVersion/kind has no schema. @default 'warning' */
  readonly unknownKinds?: Severity | 'off';
  /** Construct path per object (synthObjects() fills this in for you). */
  readonly constructPaths?: ReadonlyMap<object, string> | ((obj: K8sObject) => string | undefined);
  /** Report problems of cross-object rules (selectors, references) only when this is true. @default true */
  readonly crossObject?: boolean;
}

/** A problem that matched an exception. */
export interface SuppressedProblem extends Problem {
  /** The reason given with the exception. */
  readonly reason: string;
}

/** The JSON form of a validation result (stable; meant for CI). */
export interface ValidationResultJson {
  readonly ok: boolean;
  readonly summary: { readonly objects: number; readonly errors: number; readonly warnings: number; readonly suppressed: number };
  readonly problems: readonly Problem[];
  readonly suppressed: readonly SuppressedProblem[];
  readonly notes: readonly string[];
}
