/**
 * Operation name of a proxied request: the caller's `x-agent-operation` header, else the longest
 * matching path prefix of the route table, else `invoke_agent`. Whatever the source, the name
 * goes through the sidecar's label caps, so a caller cannot grow /metrics with random names.
 */
import { PROXY_DEFAULT_OPERATION } from '../contract';

export interface Route {
  readonly prefix: string;
  readonly operation: string;
}

const OPERATION_RE = /^[A-Za-z0-9_.:-]{1,128}$/;

/** Parses "prefix=operation,prefix=operation"; throws an Error naming the bad entry. */
export function parseRoutes(text: string | undefined): Route[] {
  if (!text) return [];
  const routes: Route[] = [];
  for (const entry of text.split(',').map((e) => e.trim()).filter(Boolean)) {
    const eq = entry.lastIndexOf('=');
    const prefix = eq < 0 ? '' : entry.slice(0, eq).trim();
    const operation = eq < 0 ? '' : entry.slice(eq + 1).trim();
    if (!prefix.startsWith('/') || /\s/.test(prefix)) throw new Error(`route "${entry}": expected /path-prefix=operation`);
    if (!OPERATION_RE.test(operation)) throw new Error(`route "${entry}": operation must match ${OPERATION_RE.source}`);
    routes.push({ prefix, operation });
  }
  // Longest prefix first, so the first match is the most specific.
  return routes.sort((a, b) => b.prefix.length - a.prefix.length);
}

/** Parses "/health,/ready" into a set of exact paths. */
export function parsePaths(text: string | undefined): Set<string> {
  const out = new Set<string>();
  for (const p of (text ?? '').split(',').map((e) => e.trim()).filter(Boolean)) {
    if (!p.startsWith('/')) throw new Error(`path "${p}" must start with /`);
    out.add(p);
  }
  return out;
}

export class OperationResolver {
  constructor(private readonly routes: readonly Route[]) {}

  resolve(header: string | string[] | undefined, path: string): string {
    if (typeof header === 'string' && OPERATION_RE.test(header)) return header;
    for (const r of this.routes) if (path.startsWith(r.prefix)) return r.operation;
    return PROXY_DEFAULT_OPERATION;
  }
}
