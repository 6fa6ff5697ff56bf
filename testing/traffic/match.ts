/** Matching primitives: label selectors, Istio string globs, CIDRs, ports. */
import { selectorMatches } from '../cross';

export { selectorMatches };

/** Istio string match: exact, `prefix*`, `*suffix` or `*` (AuthorizationPolicy principals, paths, hosts...). */
export function istioMatch(pattern: string, value: string | undefined): boolean {
  if (value === undefined) return false;
  if (pattern === '*') return value !== '';
  if (pattern.endsWith('*')) return value.startsWith(pattern.slice(0, -1));
  if (pattern.startsWith('*')) return value.endsWith(pattern.slice(1));
  return pattern === value;
}

export function anyIstioMatch(patterns: readonly string[] | undefined, value: string | undefined): boolean {
  return (patterns ?? []).some((p) => istioMatch(p, value));
}

function ipv4(ip: string): number | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(ip);
  if (!m) return undefined;
  const parts = m.slice(1).map(Number);
  if (parts.some((p) => p > 255)) return undefined;
  return ((parts[0] << 24) >>> 0) + (parts[1] << 16) + (parts[2] << 8) + parts[3];
}

/** Whether an IPv4 address is inside a CIDR (or equals a bare address). IPv6 is not modelled: false. */
export function inCidr(ip: string | undefined, cidr: string): boolean {
  if (ip === undefined) return false;
  const [base, bitsText] = cidr.split('/');
  const a = ipv4(ip);
  const b = ipv4(base);
  if (a === undefined || b === undefined) return false;
  const bits = bitsText === undefined ? 32 : Number(bitsText);
  if (!(bits >= 0 && bits <= 32)) return false;
  const mask = bits === 0 ? 0 : (~0 << (32 - bits)) >>> 0;
  return ((a & mask) >>> 0) === ((b & mask) >>> 0);
}

/** A Kubernetes port reference (number, or a name resolved against named container ports). */
export function portMatches(ref: number | string | undefined, port: number, portName: string | undefined, endPort?: number): boolean {
  if (ref === undefined) return true;
  if (typeof ref === 'number' || /^\d+$/.test(ref)) {
    const n = Number(ref);
    return endPort !== undefined ? port >= n && port <= endPort : port === n;
  }
  return portName !== undefined && ref === portName;
}
