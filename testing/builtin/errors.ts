/**
 * Messages phrased like the API server's `field.Error`s (k8s.io/apimachinery/pkg/util/validation/field),
 * so a problem reads the same here as in `kubectl apply`'s answer.
 */

/** How the API server prints a bad value: strings quoted, numbers and booleans bare. */
export function showValue(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  const s = JSON.stringify(v);
  return s === undefined ? String(v) : s.length > 80 ? s.slice(0, 77) + '...' : s;
}

export const invalid = (value: unknown, detail: string) => `Invalid value: ${showValue(value)}: ${detail}`;
export const unsupported = (value: unknown, supported: readonly string[]) =>
  `Unsupported value: ${showValue(value)}: supported values: ${supported.map((s) => JSON.stringify(s)).join(', ')}`;
export const required = (detail?: string) => (detail ? `Required value: ${detail}` : 'Required value');
export const forbidden = (detail: string) => `Forbidden: ${detail}`;
export const duplicate = (value: unknown) => `Duplicate value: ${showValue(value)}`;
export const notFound = (value: unknown) => `Not found: ${showValue(value)}`;

export const isObj = (v: unknown): v is Record<string, any> => !!v && typeof v === 'object' && !Array.isArray(v);
export const list = (v: unknown): any[] => (Array.isArray(v) ? v : []);
