import type { K8sObject } from './types';

export type Segment = string | number;

const IDENT = /^[A-Za-z_$][A-Za-z0-9_$-]*$/;

/** ['spec', 'http', 0, 'retries'] -> `spec.http[0].retries`; keys with dots or slashes are quoted. */
export function formatPath(segments: readonly Segment[]): string {
  let out = '';
  for (const s of segments) {
    if (typeof s === 'number') out += `[${s}]`;
    else if (IDENT.test(s)) out += out ? `.${s}` : s;
    else out += `[${JSON.stringify(s)}]`;
  }
  return out;
}

/** JSON pointer (`/spec/http/0`) -> segments; numeric tokens inside arrays become numbers. */
export function pointerToSegments(pointer: string, root?: unknown): Segment[] {
  if (!pointer) return [];
  const tokens = pointer.split('/').slice(1).map((t) => t.replace(/~1/g, '/').replace(/~0/g, '~'));
  const out: Segment[] = [];
  let node: any = root;
  for (const t of tokens) {
    const isIndex = Array.isArray(node) || (root === undefined && /^\d+$/.test(t));
    const seg: Segment = isIndex && /^\d+$/.test(t) ? Number(t) : t;
    out.push(seg);
    node = node == null ? undefined : node[seg as any];
  }
  return out;
}

/** `Kind/namespace/name`, or `Kind/name` without a namespace. */
export function objectId(obj: Partial<K8sObject> | undefined): string {
  const kind = String(obj?.kind ?? '<no kind>');
  const name = String(obj?.metadata?.name ?? '<no name>');
  const ns = obj?.metadata?.namespace;
  return ns ? `${kind}/${ns}/${name}` : `${kind}/${name}`;
}

/** Simple glob: `*` matches any run of characters (including `/`). */
export function globMatch(pattern: string, value: string): boolean {
  if (!pattern.includes('*')) return pattern === value;
  const re = new RegExp('^' + pattern.split('*').map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*') + '$');
  return re.test(value);
}

/** Levenshtein distance, for "did you mean" hints on unknown fields. */
export function editDistance(a: string, b: string): number {
  const al = a.toLowerCase();
  const bl = b.toLowerCase();
  const prev = Array.from({ length: bl.length + 1 }, (_, i) => i);
  for (let i = 1; i <= al.length; i++) {
    let diag = prev[0];
    prev[0] = i;
    for (let j = 1; j <= bl.length; j++) {
      const tmp = prev[j];
      prev[j] = Math.min(prev[j] + 1, prev[j - 1] + 1, diag + (al[i - 1] === bl[j - 1] ? 0 : 1));
      diag = tmp;
    }
  }
  return prev[bl.length];
}

/** The closest known name, if it is close enough to be a typo. */
export function closest(name: string, candidates: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const c of candidates) {
    const d = editDistance(name, c);
    if (d < bestD) {
      bestD = d;
      best = c;
    }
  }
  return best !== undefined && bestD <= Math.max(2, Math.floor(name.length / 4)) ? best : undefined;
}
