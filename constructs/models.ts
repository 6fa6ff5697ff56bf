/**
 * `models`: the model providers an agent calls through its sidecar's gateway. Pure builders:
 * the zod schema, the normalized spec, and what it turns into (sidecar env, agent env, egress).
 */
import { z } from 'zod';
import { SIDECAR_API_PORT, SIDECAR_ENV, SIDECAR_PATHS } from '../sidecar/contract';
import type { ProviderApi } from '../sidecar/contract';
import { secretKeyRef } from './validation';

/** Base URLs (as the providers' SDKs use them) of the providers known by name. */
export const KNOWN_PROVIDERS: Readonly<Record<string, { api: ProviderApi; baseUrl: string; envPrefix: string }>> = {
  openai: { api: 'openai', baseUrl: 'https://api.openai.com/v1', envPrefix: 'OPENAI' },
  anthropic: { api: 'anthropic', baseUrl: 'https://api.anthropic.com', envPrefix: 'ANTHROPIC' },
};

const ENV_PREFIX_OF_API: Readonly<Record<ProviderApi, string>> = { openai: 'OPENAI', anthropic: 'ANTHROPIC' };


export const modelProviderSchema = z.strictObject({
  provider: z.string().regex(/^[a-z0-9]([a-z0-9_-]{0,61}[a-z0-9])?$/, 'must be lowercase letters, digits, "-" or "_" (at most 63), e.g. "openai"'),
  api: z.enum(['openai', 'anthropic']).optional(),
  baseUrl: z
    .string()
    .regex(/^https?:\/\/[^\s,?#@]+$/, 'must be an http(s) URL without credentials, query, fragment or commas')
    .optional(),
  model: z.string().min(1).max(128).optional(),
  apiKey: secretKeyRef().optional(),
  cacheTtlSeconds: z.number().int().min(1).max(86400).optional(),
  envPrefix: z.string().regex(/^[A-Z][A-Z0-9_]{0,40}$/, 'must be upper-case letters, digits and "_", e.g. "OPENAI"').optional(),
});

export const modelsSchema = z.strictObject({
  providers: z.array(modelProviderSchema).min(1, 'list at least one provider'),
  maxTokensPerMinute: z.number().int().positive().optional(),
  maxRequestsPerMinute: z.number().int().positive().optional(),
  streamUsage: z.boolean().optional(),
  timeToFirstTokenP95Seconds: z.number().positive().optional(),
});

export type ModelsInput = z.input<typeof modelsSchema>;

/** One provider, normalized. */
export interface ModelProviderSpec {
  readonly provider: string;
  readonly api: ProviderApi;
  readonly baseUrl: string;
  readonly host: string;
  readonly port: number;
  /** True for an in-cluster service (`*.svc` / `*.svc.cluster.local`): a dependency, not egress. */
  readonly inCluster: boolean;
  readonly model?: string;
  readonly apiKey?: { readonly secretName: string; readonly key: string };
  readonly cacheTtlSeconds?: number;
  readonly envPrefix: string;
}

/** AgentSpec.models: what the sidecar gateway does for this agent. */
export interface ModelsSpec {
  readonly providers: readonly ModelProviderSpec[];
  readonly maxTokensPerMinute?: number;
  readonly maxRequestsPerMinute?: number;
  readonly streamUsage: boolean;
  readonly timeToFirstTokenP95Seconds?: number;
}

/** Problems that need more than one field; reported with their path under `models`. */
export function checkModels(m: z.output<typeof modelsSchema>, add: (path: PropertyKey[], message: string) => void): void {
  const names = new Set<string>();
  const prefixes = new Map<string, number>();
  m.providers.forEach((p, i) => {
    if (names.has(p.provider)) add(['providers', i, 'provider'], `"${p.provider}" is listed twice`);
    names.add(p.provider);
    if (p.baseUrl === undefined && !KNOWN_PROVIDERS[p.provider]) {
      add(['providers', i, 'baseUrl'], `is required for provider "${p.provider}" (known without it: ${Object.keys(KNOWN_PROVIDERS).join(', ')})`);
    }
    const url = p.baseUrl ?? KNOWN_PROVIDERS[p.provider]?.baseUrl;
    if (url?.startsWith('http://') && !isInCluster(new URL(url).hostname)) {
      add(['providers', i, 'baseUrl'], 'must be https:// for a host outside the cluster (API keys would cross the network in clear text)');
    }
    const prefix = envPrefixOf(p);
    const other = prefixes.get(prefix);
    if (other !== undefined) add(['providers', i, 'envPrefix'], `("${prefix}") is also used by providers[${other}]: set envPrefix on one of them`);
    prefixes.set(prefix, i);
  });
}

function isInCluster(host: string): boolean {
  return /\.svc(\.cluster\.local)?$/.test(host);
}

function envPrefixOf(p: z.output<typeof modelProviderSchema>): string {
  const api = p.api ?? KNOWN_PROVIDERS[p.provider]?.api ?? 'openai';
  return p.envPrefix ?? KNOWN_PROVIDERS[p.provider]?.envPrefix ?? ENV_PREFIX_OF_API[api];
}

/** Environment variables `models` sets in the agent container (to reject user env with the same names). */
export function agentEnvNames(m: z.output<typeof modelsSchema>): string[] {
  return m.providers.flatMap((p) => {
    const prefix = envPrefixOf(p);
    return [`${prefix}_BASE_URL`, ...(p.apiKey ? [`${prefix}_API_KEY`] : []), ...(p.model ? [`${prefix}_MODEL`] : [])];
  });
}

export function normalizeModels(m: z.output<typeof modelsSchema> | undefined): ModelsSpec | undefined {
  if (!m) return undefined;
  return {
    providers: m.providers.map((p) => {
      const known = KNOWN_PROVIDERS[p.provider];
      const api = p.api ?? known?.api ?? 'openai';
      const baseUrl = (p.baseUrl ?? known!.baseUrl).replace(/\/+$/, '');
      const u = new URL(baseUrl);
      return {
        provider: p.provider,
        api,
        baseUrl,
        host: u.hostname,
        port: u.port ? Number(u.port) : u.protocol === 'https:' ? 443 : 80,
        inCluster: isInCluster(u.hostname),
        model: p.model,
        apiKey: p.apiKey ? { secretName: p.apiKey.secretName, key: p.apiKey.key } : undefined,
        cacheTtlSeconds: p.cacheTtlSeconds,
        envPrefix: envPrefixOf(p),
      };
    }),
    maxTokensPerMinute: m.maxTokensPerMinute,
    maxRequestsPerMinute: m.maxRequestsPerMinute,
    streamUsage: m.streamUsage ?? true,
    timeToFirstTokenP95Seconds: m.timeToFirstTokenP95Seconds,
  };
}

/** Sidecar environment for the gateway. */
export function modelsSidecarEnv(m: ModelsSpec): Record<string, string> {
  const env: Record<string, string> = {
    [SIDECAR_ENV.providers]: m.providers.map((p) => `${p.provider}=${p.baseUrl}`).join(','),
    [SIDECAR_ENV.providerApis]: m.providers.map((p) => `${p.provider}=${p.api}`).join(','),
  };
  const cached = m.providers.filter((p) => p.cacheTtlSeconds !== undefined);
  if (cached.length > 0) env[SIDECAR_ENV.providerCache] = cached.map((p) => `${p.provider}=${p.cacheTtlSeconds}`).join(',');
  if (m.streamUsage) env[SIDECAR_ENV.providerStreamUsage] = 'true';
  if (m.maxTokensPerMinute !== undefined) env[SIDECAR_ENV.maxTokensPerMinute] = String(m.maxTokensPerMinute);
  if (m.maxRequestsPerMinute !== undefined) env[SIDECAR_ENV.maxRequestsPerMinute] = String(m.maxRequestsPerMinute);
  return env;
}

/** Plain agent environment: the SDK base URLs pointing at the sidecar, and the models. */
export function modelsAgentEnv(m: ModelsSpec, apiPort = SIDECAR_API_PORT): Record<string, string> {
  const env: Record<string, string> = {};
  for (const p of m.providers) {
    env[`${p.envPrefix}_BASE_URL`] = `http://127.0.0.1:${apiPort}${SIDECAR_PATHS.providers}/${p.provider}`;
    if (p.model) env[`${p.envPrefix}_MODEL`] = p.model;
  }
  return env;
}

/** Agent environment from Secrets: the API keys. */
export function modelsSecretEnv(m: ModelsSpec): Record<string, { secretName: string; key: string; optional: boolean }> {
  const env: Record<string, { secretName: string; key: string; optional: boolean }> = {};
  for (const p of m.providers) if (p.apiKey) env[`${p.envPrefix}_API_KEY`] = { ...p.apiKey, optional: false };
  return env;
}
