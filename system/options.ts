import { z } from 'zod';
import { monitoringStackPropsSchema } from '../constructs/monitoring-stack';
import { monitoringOptionsSchema as monitoringRuleOptionsSchema } from '../constructs/rules/options';
import { agentOptionsSchema, ingressPeerSchema, meshOptionsSchema as meshPolicyOptionsSchema } from '../constructs/mesh/options';
import { canarySchema } from '../constructs/spec';
import type { MeshAgentOptions, MeshIngressPeer, MeshPolicyProps } from '../constructs/mesh-policy';
import type { MonitoringStackProps } from '../constructs/monitoring-stack';
import type { AlertThresholds } from '../constructs/rules/options';

/*
 * How the system spec maps onto MeshPolicy and MonitoringStack options, including the
 * reference form's routing_rules / load_balancer.
 */

const { canary: meshCanarySchema, ...meshAgentRest } = agentOptionsSchema.shape;

/** Canary of a system agent: the AgentService canary Deployment plus the mesh traffic weight. */
export const systemCanarySchema = z.strictObject({
  ...canarySchema.shape,
  weight: meshCanarySchema.unwrap().shape.weight.optional()
    .describe('Percent of traffic the mesh sends to the canary (0-100). Default: none (routes may still select the canary subset).'),
});

/**
 * Per-agent mesh options accepted on a camelCase agent entry: MeshPolicy `agents.<id>` options,
 * and `ingress` (callers from outside the system, e.g. an ingress gateway's namespace).
 */
export const meshAgentOptionsShape = {
  ...meshAgentRest,
  canary: systemCanarySchema.optional(),
  ingress: ingressPeerSchema.optional().describe('Workloads outside the system allowed to call this agent: { namespaces, principals }.'),
};
// The parsed spec is typed with the documented interfaces, not z.input<...>, so the published
// declarations of SystemSpec (AgentSystem.spec) do not depend on zod (see scripts/public-dts.js).
export type IngressPeerInput = MeshIngressPeer;
export type MeshAgentOptionsInput = MeshAgentOptions;

/** System-level `mesh:` options: MeshPolicy options except the per-agent ones (set on each agent). */
export const meshOptionsSchema = meshPolicyOptionsSchema.omit({ agents: true });
export type MeshOptionsInput = Omit<MeshPolicyProps, 'services' | 'calls' | 'ingress' | 'agents'>;

const thresholdsSchema = monitoringRuleOptionsSchema.shape.thresholds.unwrap();

/** Per-agent alert thresholds (MonitoringStack `overrides.<agent>`), on a camelCase agent entry. */
export const monitoringAgentShape = {
  alertThresholds: thresholdsSchema.optional().describe('Alert thresholds of this agent (errorRatio, latencyP95Seconds, ...), overriding the system-wide monitoring.thresholds.'),
};

/**
 * System-level `monitoring:` options: MonitoringStack props except `services` (every agent),
 * `overrides` (set per agent as `alertThresholds`) and `customAlerts` (code, not data);
 * `false` builds no monitoring.
 */
export const monitoringOptionsSchema = z.union([
  z.literal(false),
  monitoringStackPropsSchema.omit({ services: true, overrides: true, customAlerts: true }).extend({
    namespace: monitoringStackPropsSchema.shape.namespace.describe('Namespace of the monitoring objects. Default: the system namespace.'),
  }),
]);
export type MonitoringOptionsInput = false | Omit<MonitoringStackProps, 'services' | 'overrides' | 'customAlerts'>;
export type AlertThresholdsInput = AlertThresholds;

// Every documented type must accept what its schema accepts and the reverse (checked at compile time).
type Assignable<A, B> = [A] extends [B] ? true : false;
/** @internal */
export const _systemOptionTypesMatchSchemas: [
  Assignable<z.input<typeof ingressPeerSchema>, IngressPeerInput>,
  Assignable<IngressPeerInput, z.input<typeof ingressPeerSchema>>,
  Assignable<MeshAgentOptionsInput, z.input<typeof agentOptionsSchema>>,
  Assignable<MeshOptionsInput, z.input<typeof meshOptionsSchema>>,
  Assignable<AlertThresholdsInput, z.input<typeof thresholdsSchema>>,
  Assignable<z.input<typeof thresholdsSchema>, AlertThresholdsInput>,
] = [true, true, true, true, true, true];

/** Splits a camelCase agent's `canary` into the AgentService part and the mesh part. */
export function splitCanary(canary: z.input<typeof systemCanarySchema> | undefined): { service?: z.input<typeof canarySchema>; mesh?: { version?: string; weight: number } } {
  if (!canary) return {};
  const { weight, ...service } = canary;
  return { service, mesh: weight !== undefined ? { version: canary.version, weight } : undefined };
}

// --- the reference form's routing_rules and load_balancer ---

const istioPercentage = z.strictObject({ value: z.number() });

/** The reference design's routing rule (its VirtualService http entry, snake_case). */
export const referenceRoutingRuleSchema = z.strictObject({
  headers: z.record(z.string(), z.union([z.string(), z.strictObject({ exact: z.string().optional(), prefix: z.string().optional(), regex: z.string().optional() })])).optional(),
  path_prefix: z.string().optional(),
  port: z.number().optional(),
  weight: z.number().optional(),
  fault_injection: z.strictObject({
    delay: z.strictObject({ fixedDelay: z.string(), percentage: istioPercentage }).optional(),
    abort: z.strictObject({ httpStatus: z.number(), percentage: istioPercentage }).optional(),
  }).optional(),
  retry_policy: z.strictObject({ attempts: z.number().optional(), perTryTimeout: z.string().optional(), retryOn: z.string().optional() }).optional(),
});

/** Istio `simple` load balancers the reference form names, mapped to MeshPolicy strategies. */
const REFERENCE_LB = { ROUND_ROBIN: 'round_robin', LEAST_REQUEST: 'least_loaded', LEAST_CONN: 'least_loaded', RANDOM: 'random' } as const;

export const referenceMeshShape = {
  routing_rules: z.array(referenceRoutingRuleSchema).optional(),
  load_balancer: z.enum(Object.keys(REFERENCE_LB) as [keyof typeof REFERENCE_LB, ...(keyof typeof REFERENCE_LB)[]]).optional(),
};

/**
 * Maps routing_rules / load_balancer to MeshPolicy agent options. Returns problems (paths
 * relative to the agent entry) for what the mesh cannot express.
 */
export function referenceMeshToOptions(
  r: { routingRules?: z.output<typeof referenceRoutingRuleSchema>[]; loadBalancer?: keyof typeof REFERENCE_LB },
  agentPort: number,
): { options: MeshAgentOptionsInput; problems: { path: (string | number)[]; message: string }[] } {
  const problems: { path: (string | number)[]; message: string }[] = [];
  const options: Record<string, unknown> = {};
  if (r.loadBalancer) options.loadBalancer = REFERENCE_LB[r.loadBalancer];
  if (r.routingRules?.length) {
    options.routes = r.routingRules.map((rule, i) => {
      if (rule.port !== undefined && rule.port !== agentPort) {
        problems.push({ path: ['routing_rules', i, 'port'], message: `(${rule.port}) must be the agent's port ${agentPort}: routes match the agent's http port` });
      }
      if (rule.weight !== undefined && rule.weight !== 100) {
        problems.push({ path: ['routing_rules', i, 'weight'], message: `(${rule.weight}) must be 100: a rule routes to one destination; split traffic with a canary (camelCase form: canary.weight)` });
      }
      const f = rule.fault_injection;
      return prune({
        headers: rule.headers,
        uriPrefix: rule.path_prefix ?? '/',
        fault: f && prune({
          delay: f.delay && { fixedDelay: f.delay.fixedDelay, percentage: f.delay.percentage.value },
          abort: f.abort && { httpStatus: f.abort.httpStatus, percentage: f.abort.percentage.value },
        }),
        retries: rule.retry_policy && prune({ ...rule.retry_policy }),
      });
    });
  }
  return { options: options as MeshAgentOptionsInput, problems };
}

/** MeshPolicy option paths back to the reference fields they came from. */
export function referenceMeshPath(p: readonly (string | number)[]): (string | number)[] {
  const [head, i, field, ...rest] = p;
  if (head === 'loadBalancer') return ['load_balancer'];
  if (head === 'routes' && typeof i === 'number') {
    const map: Record<string, string> = { uriPrefix: 'path_prefix', fault: 'fault_injection', retries: 'retry_policy', headers: 'headers' };
    return typeof field === 'string' && map[field] ? ['routing_rules', i, map[field], ...rest] : ['routing_rules', i];
  }
  return [];
}

function prune<T extends Record<string, unknown>>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

// --- construct wiring ---
