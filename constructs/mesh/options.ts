/**
 * MeshPolicy options: zod schemas, defaults and the normalized per-agent plan.
 * Pure: no cdk8s, no constructs; `normalizeMesh` takes parsed options plus AgentSpecs.
 */
import { z } from 'zod';
import { AgentSpec, maxReplicasOf } from '../spec';
import { dns1123Label, dns1123Subdomain, formatPath, labelValue, portNumber } from '../validation';
import { istioDuration, istioSeconds } from './durations';
import type { MeshFault } from './props';
import { ConsistentHashPlan, experimentOptionsShape, ExperimentPlan, planExperiments } from './experiments';

export { istioDuration, istioSeconds } from './durations';

/** The reference design's load-balancing strategies. */
export const LOAD_BALANCER_STRATEGIES = ['round_robin', 'least_loaded', 'weighted', 'random'] as const;
export type LoadBalancerStrategyName = (typeof LOAD_BALANCER_STRATEGIES)[number];

/** Istio `simple` load balancer for each strategy; `weighted` splits by subset weight, then balances by least request. */
export const ISTIO_LB: Record<LoadBalancerStrategyName, 'ROUND_ROBIN' | 'LEAST_REQUEST' | 'RANDOM'> = {
  round_robin: 'ROUND_ROBIN',
  least_loaded: 'LEAST_REQUEST',
  weighted: 'LEAST_REQUEST',
  random: 'RANDOM',
};

/** Envoy retry conditions accepted in `retryOn` (besides 3-digit HTTP status codes). */
export const RETRY_ON_CONDITIONS = [
  '5xx', 'gateway-error', 'reset', 'reset-before-request', 'connect-failure', 'envoy-ratelimited', 'retriable-4xx',
  'refused-stream', 'retriable-status-codes', 'retriable-headers', 'http3-post-connect-failure',
  'cancelled', 'deadline-exceeded', 'internal', 'resource-exhausted', 'unavailable',
] as const;

/** Defaults suited to long LLM agent calls, in one place so docs and code cannot drift. */
export const MESH_DEFAULTS = {
  timeout: '300s',
  retries: {
    attempts: 2,
    // perTryTimeout defaults to the route timeout: retryOn below does not retry a timed-out try, so a
    // shorter per-try timeout would only cut long model calls short.
    // Failures where the request never reached the agent (or was refused), so a retry cannot repeat side effects.
    retryOn: 'connect-failure,refused-stream,unavailable,cancelled,503',
  },
  loadBalancer: 'least_loaded' as LoadBalancerStrategyName,
  outlierDetection: { consecutive5xxErrors: 5, interval: '30s', baseEjectionTime: '30s', maxEjectionPercent: 50, minHealthPercent: 30 },
  mtlsMode: 'STRICT' as 'STRICT' | 'PERMISSIVE',
  trustDomain: 'cluster.local',
  prometheusNamespace: 'monitoring',
  tracing: { provider: 'otel-tracing', samplingPercentage: 10 },
  accessLogging: { provider: 'envoy' },
  egressPort: 443,
  networkPolicy: {
    dnsNamespace: 'kube-system',
    dnsPodLabels: { 'k8s-app': 'kube-dns' },
    istioNamespace: 'istio-system',
    istiodPodLabels: { app: 'istiod' },
    // Public internet only: model provider APIs, not other workloads of the cluster network.
    externalCidrs: ['0.0.0.0/0'],
    externalExcept: ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '169.254.0.0/16'],
  },
} as const;

/** Port istiod serves xDS and certificates on (sidecars must reach it). */
export const ISTIOD_XDS_PORT = 15012;
/** Port of the sidecar's pilot-agent: merged Prometheus metrics and rewritten kubelet probes. */
export const ISTIO_AGENT_PORT = 15020;
/** Subset names, selected on `app.kubernetes.io/version`. */
export const SUBSETS = { stable: 'stable', canary: 'canary' } as const;
export const VERSION_LABEL = 'app.kubernetes.io/version';

// ---------------------------------------------------------------------------------------------
// zod schemas

const percentage = () => z.number().gt(0, 'must be a percentage above 0').max(100, 'must be at most 100');
const nonNegInt = () => z.number().int('must be an integer').min(0, 'must not be negative');
const posInt = () => z.number().int('must be an integer').positive('must be positive');

const retryOn = () =>
  z.string().superRefine((s, ctx) => {
    const bad = s.split(',').map((t) => t.trim()).filter((t) => !(RETRY_ON_CONDITIONS as readonly string[]).includes(t) && !/^[1-5][0-9]{2}$/.test(t));
    if (bad.length > 0) {
      ctx.addIssue({ code: 'custom', message: `unknown retry condition${bad.length > 1 ? 's' : ''} ${bad.map((b) => `"${b}"`).join(', ')} (known: ${RETRY_ON_CONDITIONS.join(', ')} or an HTTP status code)` });
    }
  });

export const retriesSchema = z.union([
  z.literal(false),
  z.strictObject({
    attempts: nonNegInt().optional(),
    perTryTimeout: istioDuration().optional(),
    retryOn: retryOn().optional(),
  }),
]);

export const faultSchema = z.strictObject({
  delay: z.strictObject({ fixedDelay: istioDuration(), percentage: percentage() }).optional(),
  abort: z.strictObject({
    httpStatus: z.number().int().min(200, 'must be an HTTP status code (200-599)').max(599, 'must be an HTTP status code (200-599)'),
    percentage: percentage(),
  }).optional(),
}).refine((f) => f.delay || f.abort, 'set delay, abort or both');

const HEADER_NAME = /^[a-z0-9][-a-z0-9_.]*$/;
const headerMatch = z.union([
  z.string(),
  z.strictObject({ exact: z.string().optional(), prefix: z.string().optional(), regex: z.string().optional() })
    .refine((m) => [m.exact, m.prefix, m.regex].filter((v) => v !== undefined).length === 1, 'set exactly one of exact, prefix, regex'),
]);

export const routeSchema = z.strictObject({
  name: dns1123Label().optional(),
  headers: z.record(z.string().regex(HEADER_NAME, 'header names must be lower-case (Istio matches lower-cased headers)'), headerMatch).optional(),
  uriPrefix: z.string().regex(/^\//, 'must start with "/"').optional(),
  subset: z.enum(['stable', 'canary'], { error: 'must be "stable" or "canary"' }).optional(),
  timeout: istioDuration().optional(),
  retries: retriesSchema.optional(),
  fault: faultSchema.optional(),
}).refine((r) => r.headers !== undefined || r.uriPrefix !== undefined, 'a route needs headers or uriPrefix to match on (the default route is added for you)');

const strategySchema = z.enum(LOAD_BALANCER_STRATEGIES, { error: (iss) => `("${String(iss.input)}") must be one of ${LOAD_BALANCER_STRATEGIES.join(', ')}` });

export const loadBalancerSchema = z.preprocess(
  (v) => (typeof v === 'string' ? { strategy: v } : v),
  z.strictObject({
    strategy: strategySchema,
    weights: z.record(z.string(), z.number().int('must be an integer').min(0, 'must not be negative').max(100, 'must be at most 100')).optional(),
  }),
);

export const agentOptionsSchema = z.strictObject({
  timeout: istioDuration().optional(),
  retries: retriesSchema.optional(),
  routes: z.array(routeSchema).optional(),
  canary: z.strictObject({
    version: labelValue().min(1).optional(),
    weight: z.number().int('must be an integer').min(0, 'must not be negative').max(100, 'must be at most 100'),
  }).optional(),
  loadBalancer: loadBalancerSchema.optional(),
  sessionAffinityHeader: z.string().regex(HEADER_NAME, 'header names must be lower-case').optional(),
  connectionPool: z.strictObject({
    maxConnections: posInt().optional(),
    maxRequests: posInt().optional(),
    maxPendingRequests: posInt().optional(),
    maxRetries: nonNegInt().optional(),
    connectTimeout: istioDuration().optional(),
    idleTimeout: istioDuration().optional(),
  }).optional(),
  outlierDetection: z.union([
    z.literal(false),
    z.strictObject({
      consecutive5xxErrors: nonNegInt().optional(),
      consecutiveGatewayErrors: nonNegInt().optional(),
      interval: istioDuration().optional(),
      baseEjectionTime: istioDuration().optional(),
      maxEjectionPercent: z.number().int().min(0).max(100).optional(),
      minHealthPercent: z.number().int().min(0).max(100).optional(),
    }),
  ]).optional(),
  fault: faultSchema.optional(),
  ...experimentOptionsShape,
});

const principal = () => z.string().regex(/^[^/\s]+\/ns\/[a-z0-9-]+\/sa\/[a-z0-9.-]+$/, 'must be a SPIFFE-style principal "<trust-domain>/ns/<namespace>/sa/<service-account>"');
const cidr = () => z.string().regex(/^[0-9a-fA-F.:]+\/[0-9]{1,3}$/, 'must be a CIDR such as "10.0.0.0/8"');

export const ingressPeerSchema = z.strictObject({
  namespaces: z.array(dns1123Label()).optional(),
  principals: z.array(principal()).optional(),
}).refine((p) => (p.namespaces?.length ?? 0) + (p.principals?.length ?? 0) > 0, 'name at least one namespace or principal');

export const egressHostSchema = z.preprocess(
  (v) => (typeof v === 'string' ? { host: v } : v),
  z.strictObject({
    host: dns1123Subdomain()
      .refine((h) => h.includes('.'), 'must be a fully qualified host name such as "api.openai.com"')
      .refine((h) => !h.endsWith('.svc.cluster.local') && !h.endsWith('.svc'), 'is a cluster service: it needs no ServiceEntry'),
    port: portNumber().optional(),
  }),
);

/** Everything in MeshPolicyProps except the AgentService objects. */
export const meshOptionsSchema = z.strictObject({
  agents: z.record(z.string(), agentOptionsSchema).optional(),
  mtlsMode: z.enum(['STRICT', 'PERMISSIVE'], { error: 'must be "STRICT" or "PERMISSIVE"' }).optional(),
  trustDomain: dns1123Subdomain().optional(),
  prometheus: z.union([
    z.literal(false),
    z.strictObject({
      namespace: dns1123Label().optional(),
      principals: z.array(principal()).min(1).optional(),
      plaintext: z.boolean().optional(),
      plaintextFrom: z.array(cidr()).min(1).optional(),
    }),
  ]).optional(),
  telemetry: z.union([
    z.literal(false),
    z.strictObject({
      tracing: z.union([z.literal(false), z.strictObject({
        provider: z.string().min(1).optional(),
        samplingPercentage: z.number().min(0, 'must be between 0 and 100').max(100, 'must be between 0 and 100').optional(),
      })]).optional(),
      accessLogging: z.union([z.literal(false), z.strictObject({
        provider: z.string().min(1).optional(),
        filter: z.string().min(1).optional(),
      })]).optional(),
    }),
  ]).optional(),
  egress: z.strictObject({
    hosts: z.array(egressHostSchema).optional(),
    registryOnly: z.boolean().optional(),
    sidecarHosts: z.array(z.string().regex(/^([a-z0-9-]+|\*|\.|~)\/(\*|(\*\.)?[a-z0-9.-]+)$/, 'must be "<namespace>/<host>" (namespace, "*", "." or "~"; host, "*" or "*.suffix")')).optional(),
  }).optional(),
  networkPolicy: z.union([
    z.literal(false),
    z.strictObject({
      dnsNamespace: dns1123Label().optional(),
      istioNamespace: dns1123Label().optional(),
      externalCidrs: z.array(cidr()).min(1).optional(),
      externalExcept: z.array(cidr()).optional(),
    }),
  ]).optional(),
});

export type MeshOptionsInput = z.input<typeof meshOptionsSchema>;
export type MeshOptions = z.output<typeof meshOptionsSchema>;
export type AgentOptions = z.output<typeof agentOptionsSchema>;
export type RouteOptions = z.output<typeof routeSchema>;
export type FaultOptions = z.output<typeof faultSchema>;
export type IngressPeer = z.output<typeof ingressPeerSchema>;

// ---------------------------------------------------------------------------------------------
// Normalized plan

export interface RetryPlan { readonly attempts: number; readonly perTryTimeout?: string; readonly retryOn?: string }

export interface RoutePlan {
  readonly name: string;
  readonly headers?: Readonly<Record<string, { exact?: string; prefix?: string; regex?: string }>>;
  readonly uriPrefix?: string;
  /** Weighted destinations (subset -> weight); one entry means all traffic. */
  readonly destinations: ReadonlyArray<{ readonly subset: string; readonly weight: number }>;
  readonly timeout: string;
  readonly retries: RetryPlan;
  /** A documented prop type, not z.output: MeshPolicy's published declarations must not depend on zod. */
  readonly fault?: MeshFault;
}

export interface AgentPlan {
  readonly spec: AgentSpec;
  readonly routes: readonly RoutePlan[];
  readonly subsets: ReadonlyArray<{ readonly name: string; readonly version: string }>;
  readonly loadBalancer:
    | { readonly simple: 'ROUND_ROBIN' | 'LEAST_REQUEST' | 'RANDOM' }
    | { readonly consistentHash: ConsistentHashPlan };
  readonly strategy: LoadBalancerStrategyName;
  /** Mirroring, locality failover and the per-pod rate limit. */
  readonly experiments: ExperimentPlan;
  readonly connectionPool: {
    readonly maxConnections: number;
    readonly maxRequests: number;
    readonly maxPendingRequests: number;
    readonly maxRetries?: number;
    readonly connectTimeout?: string;
    readonly idleTimeout?: string;
  };
  readonly outlierDetection?: {
    readonly consecutive5xxErrors?: number;
    readonly consecutiveGatewayErrors?: number;
    readonly interval: string;
    readonly baseEjectionTime: string;
    readonly maxEjectionPercent: number;
    readonly minHealthPercent: number;
  };
}

/** Validation problems as `field: message` lines (PropsValidationError adds the construct path). */
export type Problems = string[];

/**
 * Checks the options against the agents and turns them into per-agent plans.
 * Returns problems instead of throwing so every mistake is reported at once.
 */
export function planAgents(specs: readonly AgentSpec[], options: MeshOptions): { plans: AgentPlan[]; problems: Problems; warnings: string[] } {
  const problems: Problems = [];
  const warnings: string[] = [];
  const byName = new Map(specs.map((s) => [s.name, s]));
  for (const key of Object.keys(options.agents ?? {})) {
    if (!byName.has(key)) problems.push(line(`agents.${key}`, `is not an agent of this mesh (agents: ${[...byName.keys()].sort().join(', ')})`));
  }
  const plans = specs.map((spec) => planAgent(spec, options.agents?.[spec.name] ?? {}, problems, warnings));
  // Routes that inherit the agent's retries would repeat the same line.
  return { plans, problems: [...new Set(problems)], warnings: [...new Set(warnings)] };
}

function planAgent(spec: AgentSpec, o: AgentOptions, problems: Problems, warnings: string[]): AgentPlan {
  const at = (...path: PropertyKey[]) => formatPath(['agents', spec.name, ...path]);

  // Version subsets and the default split.
  const subsets: Array<{ name: string; version: string }> = [{ name: SUBSETS.stable, version: spec.version }];
  if (spec.canary) subsets.push({ name: SUBSETS.canary, version: spec.canary.version });
  let split: Array<{ subset: string; weight: number }> = [{ subset: SUBSETS.stable, weight: 100 }];

  if (o.canary) {
    if (!spec.canary) {
      problems.push(line(at('canary'), `${spec.constructPath} has no canary Deployment; set canary on the AgentService first`));
    } else if (o.canary.version !== undefined && o.canary.version !== spec.canary.version) {
      problems.push(line(at('canary', 'version'), `("${o.canary.version}") does not match the AgentService's canary version "${spec.canary.version}"`));
    } else {
      split = [{ subset: SUBSETS.stable, weight: 100 - o.canary.weight }, { subset: SUBSETS.canary, weight: o.canary.weight }];
    }
  }

  const strategy = o.loadBalancer?.strategy ?? MESH_DEFAULTS.loadBalancer;
  const weights = o.loadBalancer?.weights;
  if (strategy === 'weighted') {
    if (!weights) {
      problems.push(line(at('loadBalancer', 'weights'), `the weighted strategy needs weights per version (e.g. { "${spec.version}": 90${spec.canary ? `, "${spec.canary.version}": 10` : ''} })`));
    } else if (o.canary) {
      problems.push(line(at('loadBalancer', 'weights'), `set either canary.weight or loadBalancer.weights, not both`));
    } else {
      const sum = Object.values(weights).reduce((a, b) => a + b, 0);
      if (sum !== 100) problems.push(line(at('loadBalancer', 'weights'), `must sum to 100 (got ${sum})`));
      const bySubset = new Map(subsets.map((s) => [s.version, s.name]));
      for (const version of Object.keys(weights)) {
        if (!bySubset.has(version)) problems.push(line(at('loadBalancer', 'weights', version), `"${version}" is not a version of ${spec.name} (versions: ${[...bySubset.keys()].join(', ')})`));
      }
      if (sum === 100 && Object.keys(weights).every((v) => bySubset.has(v))) {
        split = subsets.filter((s) => weights[s.version] !== undefined).map((s) => ({ subset: s.name, weight: weights[s.version] }));
      }
    }
  } else if (weights) {
    problems.push(line(at('loadBalancer', 'weights'), `weights only apply to the weighted strategy (strategy is ${strategy})`));
  }

  let loadBalancer: AgentPlan['loadBalancer'] = { simple: ISTIO_LB[strategy] };
  const experiments = planExperiments(spec, o, at, { problems, warnings });
  if (experiments.consistentHash) {
    // Istio's loadBalancer takes `simple` or `consistentHash`, never both.
    if (o.loadBalancer && strategy !== 'weighted') {
      const field = o.sessionAffinity ? 'sessionAffinity' : 'sessionAffinityHeader';
      problems.push(line(at('loadBalancer'), `${field} replaces the ${strategy} strategy (hashing decides the replica); drop one of them`));
    }
    loadBalancer = { consistentHash: experiments.consistentHash };
  }

  const timeout = o.timeout ?? MESH_DEFAULTS.timeout;
  // A terminating pod gets terminationGracePeriodSeconds, minus the preStop drain, to finish its calls.
  const shutdownBudget = spec.terminationGracePeriodSeconds - spec.drainSeconds;
  const checkShutdown = (t: string | undefined, path: PropertyKey[], isDefault = false) => {
    if (t !== undefined && istioSeconds(t) > shutdownBudget) {
      warnings.push(line(at(...path), `(${t}${isDefault ? ', the default route timeout' : ''}) is longer than a terminating pod has to finish calls (terminationGracePeriodSeconds ${spec.terminationGracePeriodSeconds} - drainSeconds ${spec.drainSeconds} = ${shutdownBudget}s): raise terminationGracePeriodSeconds on ${spec.constructPath} or calls are cut during rollouts`));
    }
  };
  // The default timeout counts too: terminationGracePeriodSeconds: 300 with the 300 s default cuts calls.
  checkShutdown(timeout, ['timeout'], o.timeout === undefined);
  (o.routes ?? []).forEach((r, i) => checkShutdown(r.timeout, ['routes', i, 'timeout']));
  const agentRetries = o.retries;
  const routes: RoutePlan[] = [];
  const names = new Set<string>();
  (o.routes ?? []).forEach((r, i) => {
    const name = r.name ?? `${spec.name}-route-${i}`;
    if (names.has(name)) problems.push(line(at('routes', i, 'name'), `("${name}") is used by another route`));
    names.add(name);
    if (r.subset === 'canary' && !spec.canary) {
      problems.push(line(at('routes', i, 'subset'), `${spec.constructPath} has no canary Deployment`));
    }
    const routeTimeout = r.timeout ?? timeout;
    routes.push({
      name,
      headers: r.headers ? Object.fromEntries(Object.entries(r.headers).map(([k, v]) => [k, typeof v === 'string' ? { exact: v } : v])) : undefined,
      uriPrefix: r.uriPrefix,
      destinations: r.subset ? [{ subset: r.subset, weight: 100 }] : split,
      timeout: routeTimeout,
      retries: planRetries(r.retries ?? agentRetries, routeTimeout, r.retries !== undefined ? ['routes', i] : [], at, { problems, warnings }, r.timeout !== undefined || o.timeout !== undefined),
      fault: r.fault ?? o.fault,
    });
  });
  routes.push({
    name: spec.name,
    destinations: split,
    timeout,
    retries: planRetries(agentRetries, timeout, [], at, { problems, warnings }, o.timeout !== undefined),
    fault: o.fault,
  });

  const replicas = maxReplicasOf(spec) + (spec.canary?.replicas ?? 0);
  const capacity = spec.maxConcurrentRequests * replicas;
  const cp = o.connectionPool ?? {};
  const od = o.outlierDetection;
  return {
    spec,
    routes,
    subsets,
    loadBalancer,
    strategy,
    experiments,
    connectionPool: {
      // The reference design's per-instance capacity, summed over the most replicas the agent runs.
      maxConnections: cp.maxConnections ?? capacity,
      maxRequests: cp.maxRequests ?? capacity,
      maxPendingRequests: cp.maxPendingRequests ?? spec.maxConcurrentRequests,
      maxRetries: cp.maxRetries,
      connectTimeout: cp.connectTimeout,
      idleTimeout: cp.idleTimeout,
    },
    outlierDetection: od === false ? undefined : {
      consecutive5xxErrors: od?.consecutive5xxErrors ?? (od?.consecutiveGatewayErrors !== undefined ? undefined : MESH_DEFAULTS.outlierDetection.consecutive5xxErrors),
      consecutiveGatewayErrors: od?.consecutiveGatewayErrors,
      interval: od?.interval ?? MESH_DEFAULTS.outlierDetection.interval,
      baseEjectionTime: od?.baseEjectionTime ?? MESH_DEFAULTS.outlierDetection.baseEjectionTime,
      maxEjectionPercent: od?.maxEjectionPercent ?? MESH_DEFAULTS.outlierDetection.maxEjectionPercent,
      minHealthPercent: od?.minHealthPercent ?? MESH_DEFAULTS.outlierDetection.minHealthPercent,
    },
  };
}

/** Retry conditions under which Envoy retries a try that hit its per-try timeout. */
const RETRIES_TIMEOUTS = ['5xx', 'gateway-error', 'reset', '504'];

/**
 * Retries of one route. A per-try timeout must fit in the route timeout; without one, each try may
 * use the whole route timeout (long model calls are not cut short).
 */
function planRetries(
  r: z.output<typeof retriesSchema> | undefined,
  timeout: string,
  prefix: PropertyKey[],
  at: (...p: PropertyKey[]) => string,
  out: { problems: Problems; warnings: string[] },
  timeoutIsExplicit: boolean,
): RetryPlan {
  if (r === false || r?.attempts === 0) return { attempts: 0 };
  const attempts = r?.attempts ?? MESH_DEFAULTS.retries.attempts;
  const retryOn = r?.retryOn ?? MESH_DEFAULTS.retries.retryOn;
  const perTryTimeout = r?.perTryTimeout ?? timeout;
  const field = at(...prefix, 'retries', 'perTryTimeout');
  if (istioSeconds(perTryTimeout) > istioSeconds(timeout)) {
    out.problems.push(line(field, `(${perTryTimeout}) must not exceed timeout (${timeout}${timeoutIsExplicit ? '' : ', the default'})`));
  } else if (istioSeconds(perTryTimeout) < istioSeconds(timeout) && !retryOn.split(',').some((c) => RETRIES_TIMEOUTS.includes(c.trim()))) {
    out.warnings.push(line(field, `(${perTryTimeout}) is shorter than timeout (${timeout}) but retryOn "${retryOn}" does not retry a timed-out try (add ${RETRIES_TIMEOUTS.join(', ')}): calls fail after ${perTryTimeout}`));
  }
  return { attempts, perTryTimeout, retryOn };
}

/** `<trust-domain>/ns/<namespace>/sa/<service-account>`: the identity Istio gives a workload. */
export function principalOf(spec: AgentSpec, trustDomain: string): string {
  return `${trustDomain}/ns/${spec.namespace}/sa/${spec.serviceAccount.name}`;
}

/** Namespace named in a principal. */
export function namespaceOfPrincipal(p: string): string {
  return /\/ns\/([^/]+)\/sa\//.exec(p)?.[1] ?? '';
}

/** Object name for the ServiceEntry of an external host. */
export function egressName(host: string): string {
  return `egress-${host.replace(/\./g, '-')}`.slice(0, 253);
}

/** One problem line, worded like `formatIssues`: "(value) ..." reads as a sentence about the field, no colon. */
export function line(path: string, message: string): string {
  return message.startsWith('(') ? `${path} ${message}` : `${path}: ${message}`;
}
