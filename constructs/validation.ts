import { z } from 'zod';

/**
 * Error thrown for invalid construct props. The message names the construct path and
 * every offending field, e.g. `multi-agents/planner: autoscaling.maxReplicas (1) must be >= minReplicas (2)`.
 */
export class PropsValidationError extends Error {
  constructor(public readonly constructPath: string, public readonly problems: readonly string[]) {
    super(problems.map((p) => `${constructPath}: ${p}`).join('\n'));
    this.name = 'PropsValidationError';
  }
}

/** Renders a zod issue path as `a.b[0].c`. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) {
    if (typeof p === 'number') out += `[${p}]`;
    else out += out ? `.${String(p)}` : String(p);
  }
  return out;
}

/** One line per zod issue: `field: message` (unknown keys are listed by name). */
export function formatIssues(issues: readonly z.core.$ZodIssue[], prefix: readonly PropertyKey[] = []): string[] {
  return issues.flatMap((issue) => {
    // A field of several shapes (`sidecar: false | {...}`): when the value has the type of exactly
    // one shape, report that shape's own problems rather than zod's generic "Invalid input".
    if (issue.code === 'invalid_union') {
      const fits = issue.errors.filter((errs) => !errs.some((e) => e.path.length === 0 && (e.code === 'invalid_type' || e.code === 'invalid_value')));
      if (fits.length === 1 && fits[0].length > 0) return formatIssues(fits[0], [...prefix, ...issue.path]);
    }
    const path = formatPath([...prefix, ...issue.path]);
    if (issue.code === 'unrecognized_keys') {
      const keys = issue.keys.map((k) => (path ? `${path}.${k}` : k));
      return `unknown field${keys.length > 1 ? 's' : ''} ${keys.map((k) => `"${k}"`).join(', ')}`;
    }
    // Record keys: report the key's own problem, not zod's generic "Invalid key in record".
    const message = issue.code === 'invalid_key' && issue.issues.length > 0 ? issue.issues[0].message : issue.message;
    if (!path) return message;
    // "(1) must be >= ..." reads as a sentence about the field: no colon.
    return message.startsWith('(') ? `${path} ${message}` : `${path}: ${message}`;
  });
}

/** Parses `input` with `schema`, throwing a PropsValidationError that names `constructPath` and each field. */
export function parseProps<S extends z.ZodType>(schema: S, input: unknown, constructPath: string): z.output<S> {
  const result = schema.safeParse(input);
  if (!result.success) throw new PropsValidationError(constructPath, formatIssues(result.error.issues));
  return result.data;
}

// Kubernetes name rules (k8s.io/apimachinery validation).
const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1035_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const QUALIFIED_NAME = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;

/** A DNS-1035 label (Service names must start with a letter), at most `max` characters. */
export const dns1035Label = (max = 63) =>
  z
    .string()
    .max(max, `must be at most ${max} characters`)
    .regex(DNS1035_LABEL, 'must be a DNS-1035 label: lower-case letters, digits and "-", starting with a letter and ending with a letter or digit');

/** A DNS-1123 label (namespaces), at most 63 characters. */
export const dns1123Label = () =>
  z
    .string()
    .max(63, 'must be at most 63 characters')
    .regex(DNS1123_LABEL, 'must be a DNS-1123 label: lower-case letters, digits and "-", starting and ending with a letter or digit');

/** A DNS-1123 subdomain (Secret and ServiceAccount names). */
export const dns1123Subdomain = () =>
  z.string().max(253, 'must be at most 253 characters').regex(DNS1123_SUBDOMAIN, 'must be a DNS-1123 subdomain (lower-case, digits, "-" and ".")');

/** A key of a Secret, `{ secretName, key }`: the name a DNS-1123 subdomain, the key as Kubernetes allows it. */
export const secretKeyRef = () =>
  z.strictObject({
    secretName: dns1123Subdomain(),
    key: z.string().min(1).regex(/^[-._a-zA-Z0-9]+$/, 'secret keys may contain only alphanumerics, "-", "_" and "."'),
  });

/** A Kubernetes label value (63 characters, alphanumeric ends). */
export const labelValue = () =>
  z.string().max(63, 'label values must be at most 63 characters').regex(LABEL_VALUE, 'must be a valid label value (alphanumerics, "-", "_", "." with alphanumeric ends)');

/** Labels: qualified-name keys and valid label values. */
export const labelMap = () =>
  z.record(
    z.string().max(316).regex(QUALIFIED_NAME, 'label keys must be qualified names (optional DNS prefix + "/" + name of at most 63 characters)'),
    labelValue(),
  );

const CPU = /^([0-9]+(\.[0-9]+)?|\.[0-9]+)m?$/;
const MEMORY = /^([0-9]+(\.[0-9]+)?)([EPTGMk]|[EPTGMK]i)?$/;
const MEMORY_FACTORS: Record<string, number> = {
  '': 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18,
  Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60,
};

/** A CPU quantity such as `250m` or `1.5`, or a number of cores (`cpu: 2`); always a string after parsing. */
// The `> 0` refines skip malformed values: those already have the format message, and an
// aborting check would also stop the object-level checks that report other fields.
export const cpuQuantity = () => quantity(CPU, 'must be a CPU quantity such as "250m" or "1"', parseCpu);
/** A memory quantity such as `256Mi` or `1Gi`, or a number of bytes; always a string after parsing. */
export const memoryQuantity = () => quantity(MEMORY, 'must be a memory quantity such as "256Mi" or "1Gi"', parseMemory);

// Kubernetes accepts a bare number as a quantity (`cpu: 2` in YAML): it becomes its decimal text.
// Number and string both pass the first step, so a malformed value gets the format message
// without aborting the object's own checks.
function quantity(format: RegExp, message: string, parse: (q: string) => number) {
  return z
    .union([z.string(), z.number().transform(quantityText)])
    .pipe(z.string().regex(format, message).refine((q) => !format.test(q) || parse(q) > 0, 'must be greater than 0'));
}

/** A number as quantity text: `2` to "2", `0.5` to "0.5" (no exponent form). */
export function quantityText(n: number): string {
  return Number.isFinite(n) && Math.abs(n) < 1e21 ? n.toLocaleString('en-US', { useGrouping: false, maximumFractionDigits: 20 }) : String(n);
}

/** CPU quantity in cores. */
export function parseCpu(q: string): number {
  return q.endsWith('m') ? Number(q.slice(0, -1)) / 1000 : Number(q);
}

/** Memory quantity in bytes. */
export function parseMemory(q: string): number {
  const m = MEMORY.exec(q);
  if (!m) return NaN;
  return Number(m[1]) * MEMORY_FACTORS[m[3] ?? ''];
}

/** An environment variable name: a C identifier. */
export const envName = () => z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'environment variable names must be identifiers ([A-Za-z_][A-Za-z0-9_]*)');

/** A TCP port number. */
export const portNumber = () => z.number().int('must be an integer').min(1, 'must be between 1 and 65535').max(65535, 'must be between 1 and 65535');

/** An HTTP path. */
export const httpPath = () => z.string().regex(/^\/[^\s]*$/, 'must be an absolute HTTP path starting with "/"');

// registry/repository[:tag][@sha256:digest], per the distribution reference grammar (simplified).
const IMAGE = /^(?<repo>(?:[a-zA-Z0-9.-]+(?::[0-9]+)?\/)?[a-z0-9]+(?:[._-][a-z0-9]+)*(?:\/[a-z0-9]+(?:[._-][a-z0-9]+)*)*)(?::(?<tag>[\w][\w.-]{0,127}))?(?:@(?<digest>sha256:[a-f0-9]{64}))?$/;

/** Splits an image reference; `undefined` when it does not parse. */
export function parseImage(image: string): { repository: string; tag?: string; digest?: string } | undefined {
  const m = IMAGE.exec(image);
  if (!m?.groups) return undefined;
  return { repository: m.groups.repo, tag: m.groups.tag, digest: m.groups.digest };
}

/** A pinned container image: a tag other than `latest`, or a digest. */
export const pinnedImage = () =>
  z.string().superRefine((image, ctx) => {
    const ref = parseImage(image);
    if (!ref) {
      ctx.addIssue({ code: 'custom', message: `"${image}" is not a valid image reference (expected registry/repository:tag or @sha256:digest)` });
    } else if (!ref.tag && !ref.digest) {
      ctx.addIssue({ code: 'custom', message: `"${image}" has no tag or digest: pin a version (e.g. ${image}:1.2.3) so rollouts are reproducible` });
    } else if (ref.tag === 'latest' && !ref.digest) {
      ctx.addIssue({ code: 'custom', message: `"${image}" uses the mutable tag "latest": pin a version or a digest` });
    }
  });

/** A Prometheus/Istio duration such as `30s`, `5m`, `1h30m`. */
export const duration = () => z.string().regex(/^([0-9]+(ms|s|m|h|d|w|y))+$/, 'must be a duration such as "500ms", "30s", "5m" or "1h"');

/** Duration string to seconds. */
export function parseDuration(d: string): number {
  const units: Record<string, number> = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86400, w: 604800, y: 31536000 };
  let total = 0;
  for (const m of d.matchAll(/([0-9]+)(ms|s|m|h|d|w|y)/g)) total += Number(m[1]) * units[m[2]];
  return total;
}
