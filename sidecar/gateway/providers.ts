/**
 * The model providers the gateway forwards to, from `--provider NAME=URL`,
 * `--provider-api NAME=openai|anthropic` and `--provider-cache NAME=TTL`.
 */
import type { ProviderApi } from '../contract';

/** One upstream the gateway forwards /v1/providers/NAME/<path> to. */
export interface Provider {
  readonly name: string;
  /** The provider's base URL; forwarded paths are appended to its path. */
  readonly url: URL;
  /** Where usage is found in responses. */
  readonly api: ProviderApi;
  /** Response cache TTL in seconds; 0 = no cache for this provider. */
  readonly cacheTtlSeconds: number;
}

const NAME_RE = /^[a-z0-9]([a-z0-9_-]{0,61}[a-z0-9])?$/;
const APIS: readonly ProviderApi[] = ['openai', 'anthropic'];

interface ProviderSettings {
  readonly providers: readonly string[];
  readonly providerApis: readonly string[];
  readonly providerCache: readonly string[];
  readonly cacheMaxTtlSeconds: number;
}

function split(entry: string, flag: string): [string, string] {
  const eq = entry.indexOf('=');
  if (eq <= 0 || eq === entry.length - 1) throw new Error(`${flag}: expected NAME=VALUE, got "${entry.slice(0, 100)}"`);
  const name = entry.slice(0, eq).trim();
  if (!NAME_RE.test(name)) throw new Error(`${flag}: provider name "${name.slice(0, 64)}" must be lowercase letters, digits, "-" or "_" (at most 63)`);
  return [name, entry.slice(eq + 1).trim()];
}

/** Parses and cross-checks the provider lists; throws an Error naming the flag on bad input. */
export function resolveProviders(s: ProviderSettings): Map<string, Provider> {
  const urls = new Map<string, URL>();
  for (const entry of s.providers) {
    const [name, raw] = split(entry, '--provider');
    if (urls.has(name)) throw new Error(`--provider: "${name}" is registered twice`);
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      throw new Error(`--provider ${name}: not a URL: "${raw.slice(0, 200)}"`);
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new Error(`--provider ${name}: expected an http:// or https:// URL, got "${url.protocol}"`);
    if (url.username || url.password) throw new Error(`--provider ${name}: credentials do not belong in the URL; the agent sends its API key as a header`);
    if (url.search || url.hash) throw new Error(`--provider ${name}: the URL must not have a query or fragment`);
    urls.set(name, url);
  }
  const apis = new Map<string, ProviderApi>();
  for (const entry of s.providerApis) {
    const [name, api] = split(entry, '--provider-api');
    if (!urls.has(name)) throw new Error(`--provider-api: "${name}" is not a --provider`);
    if (!APIS.includes(api as ProviderApi)) throw new Error(`--provider-api ${name}: expected one of ${APIS.join(', ')}, got "${api.slice(0, 40)}"`);
    apis.set(name, api as ProviderApi);
  }
  const ttls = new Map<string, number>();
  for (const entry of s.providerCache) {
    const [name, raw] = split(entry, '--provider-cache');
    if (!urls.has(name)) throw new Error(`--provider-cache: "${name}" is not a --provider`);
    if (!/^\d+$/.test(raw) || Number(raw) < 1 || Number(raw) > s.cacheMaxTtlSeconds) {
      throw new Error(`--provider-cache ${name}: TTL must be whole seconds between 1 and --cache-max-ttl (${s.cacheMaxTtlSeconds}), got "${raw.slice(0, 40)}"`);
    }
    ttls.set(name, Number(raw));
  }
  const out = new Map<string, Provider>();
  for (const [name, url] of urls) {
    out.set(name, { name, url, api: apis.get(name) ?? (name === 'anthropic' ? 'anthropic' : 'openai'), cacheTtlSeconds: ttls.get(name) ?? 0 });
  }
  return out;
}

/** The upstream URL for `rest` (the path after /v1/providers/NAME, with its query). */
export function upstreamUrl(p: Provider, rest: string): URL {
  const base = p.url.pathname.endsWith('/') ? p.url.pathname.slice(0, -1) : p.url.pathname;
  const u = new URL(p.url.href);
  const q = rest.indexOf('?');
  u.pathname = base + (q < 0 ? rest : rest.slice(0, q));
  u.search = q < 0 ? '' : rest.slice(q);
  return u;
}

/** OTel gen_ai.operation.name for a request path. */
export function operationOf(path: string): string {
  if (/\/chat\/completions\/?$/.test(path)) return 'chat';
  if (/\/messages\/?$/.test(path)) return 'chat';
  if (/\/responses\/?$/.test(path)) return 'chat';
  if (/\/embeddings\/?$/.test(path)) return 'embeddings';
  if (/\/completions\/?$/.test(path)) return 'text_completion';
  return 'other';
}
