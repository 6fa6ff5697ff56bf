/**
 * Kubernetes resource quantities (k8s.io/apimachinery/pkg/api/resource): `<number><suffix>` with a
 * binary suffix (Ki..Ei), a decimal SI suffix (n, u, m, "", k, M..E) or a decimal exponent (e3).
 */

const BINARY: Record<string, number> = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60 };
const DECIMAL: Record<string, number> = { n: 1e-9, u: 1e-6, m: 1e-3, '': 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18 };

/** The error the API server gives for a string that is not a quantity. */
export const QUANTITY_FORMAT = "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'";

/** The value of a quantity (as a float, enough to compare), or undefined when it does not parse. */
export function parseQuantity(q: unknown): number | undefined {
  if (typeof q === 'number') return Number.isFinite(q) ? q : undefined;
  if (typeof q !== 'string') return undefined;
  const m = /^([+-]?)([0-9]*\.?[0-9]*)(.*)$/.exec(q.trim() === q ? q : '');
  if (!m || !/[0-9]/.test(m[2])) return undefined;
  const num = Number(m[2]) * (m[1] === '-' ? -1 : 1);
  const suffix = m[3];
  if (suffix in BINARY) return num * BINARY[suffix];
  if (suffix in DECIMAL) return num * DECIMAL[suffix];
  const exp = /^[eE]([+-]?[0-9]+)$/.exec(suffix);
  if (exp) return num * 10 ** Number(exp[1]);
  return undefined;
}
