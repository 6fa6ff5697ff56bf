/**
 * Header handling of the inbound proxy: hop-by-hop headers (RFC 9110 section 7.6.1) are dropped
 * in both directions, including every header the Connection header names, and the request gets
 * the usual x-forwarded-* headers. Works on flat raw header arrays (`message.rawHeaders`), which
 * keeps the callers' spelling and order and skips building header objects per request.
 */

/** Hop-by-hop headers: they describe one connection and are never forwarded. */
const HOP_BY_HOP = new Set([
  'connection',
  'proxy-connection',
  'keep-alive',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'proxy-authenticate',
  'proxy-authorization',
]);

/** Request headers the proxy sets itself. */
const SET_BY_PROXY = new Set(['x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host']);

/** Lower-cased header names listed in the Connection header(s) of a raw header array. */
function connectionListed(raw: readonly string[]): Set<string> | undefined {
  let listed: Set<string> | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i].length === 10 && raw[i].toLowerCase() === 'connection') {
      for (const token of raw[i + 1].split(',')) {
        const name = token.trim().toLowerCase();
        if (name) (listed ??= new Set()).add(name);
      }
    }
  }
  return listed;
}

export interface ForwardedInfo {
  /** Address of the peer that connected to the proxy. */
  readonly remoteAddress: string | undefined;
}

/**
 * Headers for the upstream request: hop-by-hop and Connection-listed headers removed,
 * `x-forwarded-for` appended with the peer address, `x-forwarded-proto` and `x-forwarded-host`
 * kept when an earlier proxy (the mesh) set them, else filled in. `upgrade` keeps the
 * Connection/Upgrade pair (a websocket handshake needs them end to end).
 */
export function upstreamRequestHeaders(raw: readonly string[], info: ForwardedInfo, upgrade?: string): string[] {
  const listed = connectionListed(raw);
  const out: string[] = [];
  let xff: string | undefined;
  let proto: string | undefined;
  let fwdHost: string | undefined;
  let host: string | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i];
    const lower = name.toLowerCase();
    const value = raw[i + 1];
    if (HOP_BY_HOP.has(lower) || listed?.has(lower)) continue;
    if (SET_BY_PROXY.has(lower)) {
      if (lower === 'x-forwarded-for') xff = xff === undefined ? value : `${xff}, ${value}`;
      else if (lower === 'x-forwarded-proto') proto ??= value;
      else fwdHost ??= value;
      continue;
    }
    if (lower === 'host') host = value;
    out.push(name, value);
  }
  const peer = info.remoteAddress ?? 'unknown';
  out.push('x-forwarded-for', xff === undefined ? peer : `${xff}, ${peer}`);
  out.push('x-forwarded-proto', proto ?? 'http');
  if (fwdHost !== undefined || host !== undefined) out.push('x-forwarded-host', (fwdHost ?? host)!);
  if (upgrade !== undefined) out.push('connection', 'upgrade', 'upgrade', upgrade);
  return out;
}

/** Response headers for the client: hop-by-hop and Connection-listed headers removed. */
export function clientResponseHeaders(raw: readonly string[]): string[] {
  const listed = connectionListed(raw);
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const lower = raw[i].toLowerCase();
    if (HOP_BY_HOP.has(lower) || listed?.has(lower)) continue;
    out.push(raw[i], raw[i + 1]);
  }
  return out;
}

/** True when the raw headers carry this header (case-insensitive). */
export function hasHeader(raw: readonly string[], lowerName: string): boolean {
  for (let i = 0; i < raw.length; i += 2) if (raw[i].length === lowerName.length && raw[i].toLowerCase() === lowerName) return true;
  return false;
}
