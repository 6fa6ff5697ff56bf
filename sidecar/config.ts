/**
 * Sidecar settings: every setting has a command-line flag and an environment variable
 * (flags win). The table below is the single source for parsing, `--help` and the docs.
 */
import { SIDECAR_API_HOST, SIDECAR_API_PORT, SIDECAR_DEFAULT_UPSTREAM, SIDECAR_ENV, SIDECAR_METRICS_PORT, SIDECAR_PROXY_PORT } from './contract';
import { resolveProviders } from './gateway/providers';
import { parsePaths, parseRoutes } from './proxy/routes';

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

export interface SidecarConfig {
  readonly metricsHost: string;
  readonly metricsPort: number;
  readonly apiHost: string;
  readonly apiPort: number;
  readonly agentName: string;
  readonly cacheMaxEntries: number;
  readonly cacheMaxBytes: number;
  readonly cacheMaxValueBytes: number;
  readonly cacheDefaultTtlSeconds: number;
  readonly cacheMaxTtlSeconds: number;
  readonly cachePurgeIntervalSeconds: number;
  readonly redisUrl: string | undefined;
  readonly redisKeyPrefix: string;
  readonly redisTimeoutMs: number;
  readonly redisPassword: string | undefined;
  readonly redisMaxInflightBytes: number;
  readonly redisMaxInflightCommands: number;
  readonly redisHealthIntervalMs: number;
  readonly maxBodyBytes: number;
  readonly maxBatchSize: number;
  readonly maxLabelValues: number;
  readonly maxSeries: number;
  readonly maxLabelBytes: number;
  readonly requestTimeoutMs: number;
  readonly maxConnections: number;
  readonly shutdownDelayMs: number;
  readonly shutdownGraceMs: number;
  readonly exitWithParent: boolean;
  readonly processMetrics: boolean;
  readonly logLevel: LogLevel;
  /** `NAME=URL` entries (gateway/providers.ts parses them). */
  readonly providers: readonly string[];
  /** `NAME=openai|anthropic` entries. */
  readonly providerApis: readonly string[];
  /** `NAME=TTL` entries: response cache per provider. */
  readonly providerCache: readonly string[];
  readonly providerTimeoutMs: number;
  readonly providerStreamUsage: boolean;
  readonly providerMaxBodyBytes: number;
  /** 0 = unlimited. */
  readonly maxTokensPerMinute: number;
  /** 0 = unlimited. */
  readonly maxRequestsPerMinute: number;
  readonly proxy: boolean;
  readonly proxyHost: string;
  readonly proxyPort: number;
  readonly upstream: string;
  readonly upstreamReadyPath: string | undefined;
  readonly upstreamReadyIntervalMs: number;
  readonly upstreamTimeoutMs: number;
  readonly upstreamMaxSockets: number;
  readonly maxConcurrency: number;
  readonly maxQueue: number;
  readonly queueTimeoutMs: number;
  readonly proxyRoutes: string | undefined;
  readonly proxyUnmeasuredPaths: string | undefined;
}

type Kind = 'port' | 'int' | 'string' | 'host' | 'bool' | 'loglevel' | 'url' | 'list' | 'secret' | 'httpurl' | 'path' | 'text';

interface OptionSpec {
  readonly key: keyof SidecarConfig;
  readonly flag: string;
  readonly env: string;
  readonly kind: Kind;
  readonly default: string | number | boolean | readonly string[] | undefined;
  readonly min?: number;
  readonly max?: number;
  readonly description: string;
}

const MiB = 1024 * 1024;

/** Every sidecar setting, in the order `--help` and docs/sidecar.md list them. */
export const OPTIONS: readonly OptionSpec[] = [
  { key: 'metricsHost', flag: '--metrics-host', env: SIDECAR_ENV.metricsHost, kind: 'host', default: '0.0.0.0', description: 'Bind address of the read-only listener (/metrics, /healthz, /readyz). AgentService sets it to the pod IP (downward API `status.podIP`); run by hand it listens on every address.' },
  { key: 'metricsPort', flag: '--metrics-port', env: SIDECAR_ENV.metricsPort, kind: 'port', default: SIDECAR_METRICS_PORT, description: 'Port of the read-only listener (0 picks a free port).' },
  { key: 'apiHost', flag: '--api-host', env: SIDECAR_ENV.apiHost, kind: 'host', default: SIDECAR_API_HOST, description: 'Bind address of the API listener; loopback so only containers of the pod reach it.' },
  { key: 'apiPort', flag: '--api-port', env: SIDECAR_ENV.apiPort, kind: 'port', default: SIDECAR_API_PORT, description: 'Port of the API listener (0 picks a free port).' },
  { key: 'agentName', flag: '--agent-name', env: SIDECAR_ENV.agentName, kind: 'string', default: 'agent', description: 'Agent name used when a record omits `agent` (gen_ai_agent_name).' },
  { key: 'cacheMaxEntries', flag: '--cache-max-entries', env: SIDECAR_ENV.cacheMaxEntries, kind: 'int', default: 10000, min: 1, max: 10_000_000, description: 'Maximum number of entries in the local cache (LRU eviction beyond).' },
  { key: 'cacheMaxBytes', flag: '--cache-max-bytes', env: SIDECAR_ENV.cacheMaxBytes, kind: 'int', default: 64 * MiB, min: 1024, max: 16 * 1024 * MiB, description: 'Maximum bytes held by the local cache (keys + values + per-entry overhead).' },
  { key: 'cacheMaxValueBytes', flag: '--cache-max-value-bytes', env: SIDECAR_ENV.cacheMaxValueBytes, kind: 'int', default: 1 * MiB, min: 1, max: 1024 * MiB, description: 'Largest single cache value accepted (413 beyond).' },
  { key: 'cacheDefaultTtlSeconds', flag: '--cache-default-ttl', env: SIDECAR_ENV.cacheDefaultTtlSeconds, kind: 'int', default: 300, min: 1, max: 31_536_000, description: 'TTL in seconds of an entry stored without `?ttl=`.' },
  { key: 'cacheMaxTtlSeconds', flag: '--cache-max-ttl', env: SIDECAR_ENV.cacheMaxTtlSeconds, kind: 'int', default: 86400, min: 1, max: 31_536_000, description: 'Largest TTL a client may ask for (400 beyond).' },
  { key: 'cachePurgeIntervalSeconds', flag: '--cache-purge-interval', env: SIDECAR_ENV.cachePurgeIntervalSeconds, kind: 'int', default: 30, min: 0, max: 86400, description: 'How often expired entries are swept so their bytes are released (0 disables; they are then dropped lazily).' },
  { key: 'redisUrl', flag: '--redis-url', env: SIDECAR_ENV.redisUrl, kind: 'url', default: undefined, description: 'redis:// URL of the optional shared cache tier; unset means local only.' },
  { key: 'redisKeyPrefix', flag: '--redis-key-prefix', env: SIDECAR_ENV.redisKeyPrefix, kind: 'string', default: 'agent-cache:', description: 'Prefix of every key the sidecar writes to Redis.' },
  { key: 'redisTimeoutMs', flag: '--redis-timeout-ms', env: SIDECAR_ENV.redisTimeoutMs, kind: 'int', default: 100, min: 1, max: 60000, description: 'Per-command timeout on Redis; a slower Redis counts as a miss, never blocks the agent.' },
  { key: 'redisPassword', flag: '--redis-password', env: SIDECAR_ENV.redisPassword, kind: 'secret', default: undefined, description: 'Redis password (AUTH), overriding the one in the URL; set it through the environment from a Secret, never as a flag.' },
  { key: 'redisMaxInflightBytes', flag: '--redis-max-inflight-bytes', env: SIDECAR_ENV.redisMaxInflightBytes, kind: 'int', default: 16 * MiB, min: 64 * 1024, max: 1024 * MiB, description: 'Bytes of Redis commands sent and not yet answered (a read reserves --cache-max-value-bytes); beyond it writes are local only (and counted), reads are misses.' },
  { key: 'redisMaxInflightCommands', flag: '--redis-max-inflight-commands', env: SIDECAR_ENV.redisMaxInflightCommands, kind: 'int', default: 1024, min: 1, max: 1_000_000, description: 'Redis commands sent and not yet answered; beyond it the same as the byte budget.' },
  { key: 'redisHealthIntervalMs', flag: '--redis-health-interval-ms', env: SIDECAR_ENV.redisHealthIntervalMs, kind: 'int', default: 500, min: 50, max: 60000, description: 'Period of the Redis PING health check; no PONG within max(1 s, 5 x --redis-timeout-ms) marks the tier down (a stall, not only a closed socket).' },
  { key: 'maxBodyBytes', flag: '--max-body-bytes', env: SIDECAR_ENV.maxBodyBytes, kind: 'int', default: 1 * MiB, min: 1024, max: 1024 * MiB, description: 'Largest JSON request body (413 beyond). Cache values use --cache-max-value-bytes.' },
  { key: 'maxBatchSize', flag: '--max-batch-size', env: SIDECAR_ENV.maxBatchSize, kind: 'int', default: 10000, min: 1, max: 1_000_000, description: 'Most execution records in one POST (413 beyond).' },
  { key: 'maxLabelValues', flag: '--max-label-values', env: SIDECAR_ENV.maxLabelValues, kind: 'int', default: 50, min: 1, max: 10000, description: 'Distinct values kept per label (agent, operation, model, error type); later ones are folded into `other`.' },
  { key: 'maxSeries', flag: '--max-series', env: SIDECAR_ENV.maxSeries, kind: 'int', default: 500, min: 1, max: 100000, description: 'Distinct (agent, operation, model, error type) combinations; later ones are folded into `other`.' },
  { key: 'maxLabelBytes', flag: '--max-label-bytes', env: SIDECAR_ENV.maxLabelBytes, kind: 'int', default: 16384, min: 128, max: 16 * MiB, description: 'Characters of label values summed over all series (every /metrics line repeats them); a new series past it is folded into `other`. With --max-series it caps the size of /metrics.' },
  { key: 'requestTimeoutMs', flag: '--request-timeout-ms', env: SIDECAR_ENV.requestTimeoutMs, kind: 'int', default: 10000, min: 100, max: 600000, description: 'Time a client has to send a whole request (408 and close beyond): slow clients cannot hold sockets.' },
  { key: 'maxConnections', flag: '--max-connections', env: SIDECAR_ENV.maxConnections, kind: 'int', default: 1024, min: 1, max: 1_000_000, description: 'Open connections per listener. At the cap a new connection closes the oldest idle one (no request in progress), so idle or hostile connections cannot starve the kubelet probes; only when all are busy is it refused.' },
  { key: 'shutdownDelayMs', flag: '--shutdown-delay-ms', env: SIDECAR_ENV.shutdownDelayMs, kind: 'int', default: 0, min: 0, max: 600000, description: 'After SIGTERM, keep serving (with /readyz failing) this long before closing, so the agent can flush its last records.' },
  { key: 'shutdownGraceMs', flag: '--shutdown-grace-ms', env: SIDECAR_ENV.shutdownGraceMs, kind: 'int', default: 10000, min: 0, max: 600000, description: 'After closing the listeners, how long in-flight requests may take before the process exits anyway.' },
  { key: 'exitWithParent', flag: '--exit-with-parent', env: SIDECAR_ENV.exitWithParent, kind: 'bool', default: true, description: 'Shut down gracefully (as on SIGTERM) when the parent process exits, e.g. `npx` killed by a signal it does not forward; off as PID 1 or a child of PID 1.' },
  { key: 'processMetrics', flag: '--process-metrics', env: SIDECAR_ENV.processMetrics, kind: 'bool', default: true, description: 'Export prom-client default process/Node.js metrics (process_resident_memory_bytes, ...).' },
  { key: 'proxy', flag: '--proxy', env: SIDECAR_ENV.proxy, kind: 'bool', default: false, description: 'Run the inbound proxy: the agent\'s front door, measuring, limiting and draining every request to --upstream.' },
  { key: 'proxyHost', flag: '--proxy-host', env: SIDECAR_ENV.proxyHost, kind: 'host', default: '0.0.0.0', description: 'Bind address of the inbound proxy; the pod IP by default (the Service targets it).' },
  { key: 'proxyPort', flag: '--proxy-port', env: SIDECAR_ENV.proxyPort, kind: 'port', default: SIDECAR_PROXY_PORT, description: 'Port of the inbound proxy (0 picks a free port).' },
  { key: 'upstream', flag: '--upstream', env: SIDECAR_ENV.upstream, kind: 'httpurl', default: SIDECAR_DEFAULT_UPSTREAM, description: 'http:// URL of the agent the proxy forwards to (its own port, on the pod\'s loopback).' },
  { key: 'upstreamReadyPath', flag: '--upstream-ready-path', env: SIDECAR_ENV.upstreamReadyPath, kind: 'path', default: undefined, description: 'The agent\'s readiness path, polled; /readyz fails while it does not answer 2xx/3xx. Unset: not polled.' },
  { key: 'upstreamReadyIntervalMs', flag: '--upstream-ready-interval-ms', env: SIDECAR_ENV.upstreamReadyIntervalMs, kind: 'int', default: 1000, min: 100, max: 60000, description: 'How often the agent\'s readiness path is polled.' },
  { key: 'upstreamTimeoutMs', flag: '--upstream-timeout-ms', env: SIDECAR_ENV.upstreamTimeoutMs, kind: 'int', default: 300000, min: 100, max: 3600000, description: 'Longest silence from the agent (before its response headers or between two chunks) before 504 / the stream is cut.' },
  { key: 'upstreamMaxSockets', flag: '--upstream-max-sockets', env: SIDECAR_ENV.upstreamMaxSockets, kind: 'int', default: 256, min: 1, max: 65535, description: 'Keep-alive connections to the agent at most (requests beyond wait for one).' },
  { key: 'maxConcurrency', flag: '--max-concurrency', env: SIDECAR_ENV.maxConcurrency, kind: 'int', default: 0, min: 0, max: 100000, description: 'Proxied requests the agent serves at once (AgentService: maxConcurrentRequests); later ones queue. 0: no limit.' },
  { key: 'maxQueue', flag: '--max-queue', env: SIDECAR_ENV.maxQueue, kind: 'int', default: 100, min: 0, max: 100000, description: 'Proxied requests waiting for a slot at most, in FIFO order; beyond it 503 queue_full.' },
  { key: 'queueTimeoutMs', flag: '--queue-timeout-ms', env: SIDECAR_ENV.queueTimeoutMs, kind: 'int', default: 10000, min: 1, max: 600000, description: 'Longest wait for a slot; beyond it 503 queue_timeout.' },
  { key: 'proxyRoutes', flag: '--proxy-routes', env: SIDECAR_ENV.proxyRoutes, kind: 'text', default: undefined, description: 'Operation names by path prefix, e.g. "/v1/chat=chat,/plan=plan" (longest prefix wins; header x-agent-operation wins over it; default invoke_agent).' },
  { key: 'proxyUnmeasuredPaths', flag: '--proxy-unmeasured-paths', env: SIDECAR_ENV.proxyUnmeasuredPaths, kind: 'text', default: undefined, description: 'Paths forwarded without metrics or concurrency limit (probes), e.g. "/health,/ready".' },
  { key: 'logLevel', flag: '--log-level', env: SIDECAR_ENV.logLevel, kind: 'loglevel', default: 'info', description: 'pino log level: fatal, error, warn, info, debug, trace or silent.' },
  { key: 'providers', flag: '--provider', env: SIDECAR_ENV.providers, kind: 'list', default: [], description: 'Model provider `NAME=URL` (repeatable; env: comma list): /v1/providers/NAME/<path> on the API listener is forwarded to URL/<path>.' },
  { key: 'providerApis', flag: '--provider-api', env: SIDECAR_ENV.providerApis, kind: 'list', default: [], description: 'API shape `NAME=openai|anthropic` (repeatable); default anthropic for a provider named anthropic, else openai.' },
  { key: 'providerCache', flag: '--provider-cache', env: SIDECAR_ENV.providerCache, kind: 'list', default: [], description: 'Response cache `NAME=TTL_SECONDS` (repeatable) for deterministic calls to that provider; off when unset.' },
  { key: 'providerTimeoutMs', flag: '--provider-timeout-ms', env: SIDECAR_ENV.providerTimeoutMs, kind: 'int', default: 300000, min: 100, max: 3_600_000, description: 'Longest wait for a provider\'s response headers, and between two chunks of its body (504 / reset beyond).' },
  { key: 'providerStreamUsage', flag: '--provider-stream-usage', env: SIDECAR_ENV.providerStreamUsage, kind: 'bool', default: false, description: 'Add stream_options.include_usage to streamed OpenAI-shape calls that do not set it, so their tokens are counted (adds a final chunk with empty choices).' },
  { key: 'providerMaxBodyBytes', flag: '--provider-max-body-bytes', env: SIDECAR_ENV.providerMaxBodyBytes, kind: 'int', default: 32 * MiB, min: 1024, max: 1024 * MiB, description: 'Largest model request body (413 beyond); responses are streamed whatever their size.' },
  { key: 'maxTokensPerMinute', flag: '--max-tokens-per-minute', env: SIDECAR_ENV.maxTokensPerMinute, kind: 'int', default: 0, min: 0, max: 1_000_000_000, description: 'Token budget of this agent over the last 60 s (0 = unlimited): beyond it model calls get 429 + Retry-After without reaching the provider.' },
  { key: 'maxRequestsPerMinute', flag: '--max-requests-per-minute', env: SIDECAR_ENV.maxRequestsPerMinute, kind: 'int', default: 0, min: 0, max: 100_000_000, description: 'Model calls this agent may start per 60 s (0 = unlimited); beyond it 429 + Retry-After.' },
];

const LOG_LEVELS: readonly string[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/** A configuration error: the message names the flag and the environment variable. */
export class ConfigError extends Error {}

function convertList(spec: OptionSpec, raw: readonly string[], source: string): string[] {
  const out = raw.map((s) => s.trim()).filter((s) => s !== '');
  for (const v of out) {
    if (v.length > 2048) throw new ConfigError(`${source} (${spec.flag} / ${spec.env}): entry longer than 2048 characters`);
  }
  return out;
}

function convert(spec: OptionSpec, raw: string, source: string): string | number | boolean {
  const where = `${source} (${spec.flag} / ${spec.env})`;
  switch (spec.kind) {
    case 'port': {
      if (!/^\d+$/.test(raw) || Number(raw) > 65535) throw new ConfigError(`${where}: expected a port number 0-65535, got "${raw}"`);
      return Number(raw);
    }
    case 'int': {
      if (!/^\d+$/.test(raw)) throw new ConfigError(`${where}: expected a non-negative integer, got "${raw}"`);
      const n = Number(raw);
      if (spec.min !== undefined && n < spec.min) throw new ConfigError(`${where}: must be >= ${spec.min}, got ${n}`);
      if (spec.max !== undefined && n > spec.max) throw new ConfigError(`${where}: must be <= ${spec.max}, got ${n}`);
      return n;
    }
    case 'bool': {
      if (/^(1|true|yes|on)$/i.test(raw)) return true;
      if (/^(0|false|no|off)$/i.test(raw)) return false;
      throw new ConfigError(`${where}: expected true or false, got "${raw}"`);
    }
    case 'loglevel': {
      if (!LOG_LEVELS.includes(raw)) throw new ConfigError(`${where}: expected one of ${LOG_LEVELS.join(', ')}, got "${raw}"`);
      return raw;
    }
    case 'url': {
      let u: URL;
      try {
        u = new URL(raw);
      } catch {
        throw new ConfigError(`${where}: not a URL: "${raw}"`);
      }
      if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') throw new ConfigError(`${where}: expected a redis:// or rediss:// URL, got "${u.protocol}"`);
      return raw;
    }
    case 'httpurl': {
      let u: URL;
      try {
        u = new URL(raw);
      } catch {
        throw new ConfigError(`${where}: not a URL: "${raw}"`);
      }
      if (u.protocol !== 'http:' || u.pathname !== '/' || u.search || u.username) throw new ConfigError(`${where}: expected http://host:port without a path, got "${raw}"`);
      return raw;
    }
    case 'path': {
      if (!/^\/[^\s?#]{0,1023}$/.test(raw)) throw new ConfigError(`${where}: expected an absolute path such as /ready, got "${raw.slice(0, 100)}"`);
      return raw;
    }
    case 'text': {
      if (raw.length > 8192) throw new ConfigError(`${where}: longer than 8192 characters`);
      return raw;
    }
    case 'list':
      throw new Error('lists are converted by convertList');
    case 'secret': {
      if (raw.length > 4096) throw new ConfigError(`${where}: longer than 4096 characters`);
      return raw;
    }
    case 'host':
    case 'string': {
      if (raw.length === 0 || raw.length > 253) throw new ConfigError(`${where}: expected a non-empty string of at most 253 characters`);
      return raw;
    }
  }
}

/**
 * Builds the configuration from argv (without node and script) and the environment.
 * Flags accept `--flag value` and `--flag=value`; booleans also `--flag` / `--no-flag`.
 */
export function parseConfig(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): SidecarConfig {
  const fromFlags = new Map<string, string>();
  const lists = new Map<string, string[]>();
  const byFlag = new Map(OPTIONS.map((o) => [o.flag, o]));
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith('--')) throw new ConfigError(`unexpected argument "${arg}" (see --help)`);
    const eq = arg.indexOf('=');
    let name = eq >= 0 ? arg.slice(0, eq) : arg;
    let value: string | undefined = eq >= 0 ? arg.slice(eq + 1) : undefined;
    if (!byFlag.has(name) && name.startsWith('--no-') && byFlag.get(`--${name.slice(5)}`)?.kind === 'bool' && value === undefined) {
      name = `--${name.slice(5)}`;
      value = 'false';
    }
    const spec = byFlag.get(name);
    if (!spec) throw new ConfigError(`unknown flag "${name}" (see --help)`);
    if (value === undefined) {
      if (spec.kind === 'bool' && (i + 1 >= argv.length || argv[i + 1].startsWith('--'))) value = 'true';
      else if (i + 1 < argv.length) value = argv[++i];
      else throw new ConfigError(`${name} needs a value`);
    }
    if (spec.kind === 'list') lists.set(spec.key, [...(lists.get(spec.key) ?? []), value]);
    else fromFlags.set(spec.key, value);
  }

  const out: Record<string, unknown> = {};
  for (const spec of OPTIONS) {
    const flagValue = fromFlags.get(spec.key);
    const envValue = env[spec.env];
    if (spec.kind === 'list') {
      const flagList = lists.get(spec.key);
      if (flagList) out[spec.key] = convertList(spec, flagList, `flag ${spec.flag}`);
      else out[spec.key] = convertList(spec, envValue ? envValue.split(',') : [], `env ${spec.env}`);
    } else if (flagValue !== undefined) out[spec.key] = convert(spec, flagValue, `flag ${spec.flag}`);
    else if (envValue !== undefined && envValue !== '') out[spec.key] = convert(spec, envValue, `env ${spec.env}`);
    else out[spec.key] = spec.default;
  }
  const config = out as unknown as SidecarConfig;
  if (config.cacheDefaultTtlSeconds > config.cacheMaxTtlSeconds) {
    throw new ConfigError(`cache default TTL (${config.cacheDefaultTtlSeconds}s) exceeds the max TTL (${config.cacheMaxTtlSeconds}s)`);
  }
  if (config.cacheMaxValueBytes > config.cacheMaxBytes) {
    throw new ConfigError(`--cache-max-value-bytes (${config.cacheMaxValueBytes}) exceeds --cache-max-bytes (${config.cacheMaxBytes})`);
  }
  if (config.metricsPort !== 0 && config.metricsPort === config.apiPort && config.metricsHost === config.apiHost) {
    throw new ConfigError(`metrics and API listeners cannot share ${config.apiHost}:${config.apiPort}`);
  }
  try {
    resolveProviders(config);
  } catch (e) {
    throw new ConfigError((e as Error).message);
  }
  for (const [flag, parse, value] of [['--proxy-routes', parseRoutes, config.proxyRoutes], ['--proxy-unmeasured-paths', parsePaths, config.proxyUnmeasuredPaths]] as const) {
    try {
      parse(value);
    } catch (e) {
      throw new ConfigError(`${flag}: ${(e as Error).message}`);
    }
  }
  if (config.proxy && config.proxyPort !== 0 && (config.proxyPort === config.metricsPort || config.proxyPort === config.apiPort)) {
    throw new ConfigError(`--proxy-port (${config.proxyPort}) must differ from --metrics-port and --api-port`);
  }
  return config;
}

/** `--help` text generated from OPTIONS. */
export function helpText(): string {
  const lines = [
    'Usage: agent-sidecar [flags]',
    '',
    'In-pod sidecar for AI agents: Prometheus metrics, execution stats and a TTL/LRU cache.',
    'Every flag can also be set through its environment variable; flags win.',
    '',
  ];
  for (const o of OPTIONS) {
    const def = o.default === undefined ? 'unset' : Array.isArray(o.default) ? 'none' : String(o.default);
    lines.push(`  ${o.flag} <${o.kind}>  [env ${o.env}, default ${def}]`);
    lines.push(`      ${o.description}`);
  }
  lines.push('  --help      print this text', '  --version   print the version');
  return lines.join('\n');
}
