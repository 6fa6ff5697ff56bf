/**
 * The CEL environment of the API server's CRD validation rules, on @bufbuild/cel: the standard
 * library (incl. `matches` with RE2 semantics, `duration`, `int`, macros), the strings extension
 * (`split`, `substring`, `lowerAscii`, ...) and the Kubernetes URL library (k8s.io/apiserver/pkg/cel/library/urls.go)
 * that the pinned rules use: `isURL`, `url`, and the URL getters.
 */
import { celEnv, CelEnv, celFunc, celMethod, CelScalar, listType, mapType } from '@bufbuild/cel';
import type { CelInput } from '@bufbuild/cel';
import { strings } from '@bufbuild/cel/ext';

/** A parsed URL: a CEL map of its parts (our stand-in for the Kubernetes `URL` type). */
const URL_TYPE = mapType(CelScalar.STRING, CelScalar.DYN);

interface UrlParts {
  scheme: string;
  host: string;
  hostname: string;
  port: string;
  escapedPath: string;
  query: Map<string, string[]>;
}

/**
 * Go's url.ParseRequestURI, as the Kubernetes library uses it: an absolute URI (`scheme:...`) or an
 * absolute path (`/...`); relative references, spaces and control characters are errors.
 */
export function parseRequestUri(s: string): UrlParts | undefined {
  if (s.length === 0 || /[\s\x00-\x1f\x7f]/.test(s)) return undefined;
  const absolutePath = s.startsWith('/');
  if (!absolutePath && !/^[A-Za-z][A-Za-z0-9+.-]*:/.test(s)) return undefined;
  let u: URL;
  try {
    u = absolutePath ? new URL(s, 'http://placeholder.invalid') : new URL(s);
  } catch {
    return undefined;
  }
  const query = new Map<string, string[]>();
  for (const [k, v] of u.searchParams) query.set(k, [...(query.get(k) ?? []), v]);
  const hostname = absolutePath ? '' : u.hostname.replace(/^\[(.*)\]$/, '$1');
  return {
    scheme: absolutePath ? '' : u.protocol.replace(/:$/, ''),
    host: absolutePath ? '' : u.host,
    hostname,
    port: absolutePath ? '' : u.port,
    escapedPath: u.pathname,
    query,
  };
}

function toUrl(s: string): Map<string, CelInput> {
  const u = parseRequestUri(s);
  if (!u) throw new Error(`URL parse error during conversion from string: parse ${JSON.stringify(s)}: invalid URI for request`);
  return new Map<string, CelInput>([
    ['scheme', u.scheme],
    ['host', u.host],
    ['hostname', u.hostname],
    ['port', u.port],
    ['escapedPath', u.escapedPath],
    ['query', new Map<string, CelInput>([...u.query].map(([k, v]) => [k, v]))],
  ]);
}

const part = (name: string) =>
  celMethod(name, URL_TYPE, [], CelScalar.STRING, function (this: any) {
    return String(this.get(name.replace(/^get/, '').replace(/^./, (c) => c.toLowerCase())) ?? '');
  });

/** The Kubernetes URL library: isURL(string), url(string), and the getters of a URL. */
export const k8sUrlLibrary = [
  celFunc('isURL', [CelScalar.STRING], CelScalar.BOOL, (s: string) => parseRequestUri(s) !== undefined),
  celFunc('url', [CelScalar.STRING], URL_TYPE, (s: string) => toUrl(s)),
  part('getScheme'),
  part('getHost'),
  part('getHostname'),
  part('getPort'),
  part('getEscapedPath'),
  celMethod('getQuery', URL_TYPE, [], mapType(CelScalar.STRING, listType(CelScalar.STRING)), function (this: any) {
    return this.get('query');
  }),
];

let env: CelEnv | undefined;

/** The shared environment (built once, on first use). */
export function kubernetesCelEnv(): CelEnv {
  env ??= celEnv({ funcs: [...strings, ...k8sUrlLibrary] });
  return env;
}
