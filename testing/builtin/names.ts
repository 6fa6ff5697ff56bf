/** Kubernetes name rules as the API server words them (k8s.io/apimachinery/pkg/util/validation). */

const IANA_ALPHANUM = /^[-a-z0-9]+$/;
const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** IsValidPortName: an IANA_SVC_NAME (RFC 6335), as container port names and named target ports must be. */
export function portNameErrors(name: string): string[] {
  const errs: string[] = [];
  if (name.length < 1 || name.length > 15) errs.push('must be no more than 15 characters');
  if (!IANA_ALPHANUM.test(name)) errs.push('must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)');
  if (name.includes('--')) errs.push('must not contain consecutive hyphens');
  if (!/[a-z]/.test(name)) errs.push('must contain at least one letter (a-z)');
  if (name.startsWith('-') || name.endsWith('-')) errs.push('must not begin or end with a hyphen');
  return errs;
}

/** IsDNS1123Label, as Service port names must be. */
export function dnsLabelErrors(name: string): string[] {
  const errs: string[] = [];
  if (name.length > 63) errs.push('must be no more than 63 characters');
  if (!DNS1123_LABEL.test(name)) {
    errs.push("a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc')");
  }
  return errs;
}

export const PORT_RANGE = 'must be between 1 and 65535, inclusive';
/**
 * True unless `n` is an int32 outside 1-65535 (a non-integer or a value beyond int32 is the schema
 * pass's to report, as a type or format error).
 */
export const isPort = (n: unknown): boolean => typeof n !== 'number' || !Number.isInteger(n) || Math.abs(n) >= 2 ** 31 || (n >= 1 && n <= 65535);
