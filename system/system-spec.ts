import { z } from 'zod';
import { fromReferenceConfig, referenceAgentConfigSchema } from '../constructs/reference-config';
import { agentServicePropsSchema, DEFAULTS, MAX_AGENT_NAME_LENGTH } from '../constructs/spec';
import type { AgentServiceProps } from '../constructs/agent-service';
import { dns1035Label, dns1123Label, formatPath, labelValue, PropsValidationError } from '../constructs/validation';
import {
  AlertThresholdsInput,
  IngressPeerInput,
  monitoringAgentShape,
  meshAgentOptionsShape,
  meshOptionsSchema,
  MeshAgentOptionsInput,
  MeshOptionsInput,
  monitoringOptionsSchema,
  MonitoringOptionsInput,
  referenceMeshPath,
  referenceMeshShape,
  referenceMeshToOptions,
  splitCanary,
} from './options';
import { dedupe, didYouMean, fromZod, SpecIssue } from './zod-issues';
import { SystemGatewayOptions, systemGatewaySchema } from './gateway';

export { didYouMean, fromZod, levenshtein, unknownFieldMessage } from './zod-issues';
export type { SpecIssue } from './zod-issues';

/*
 * The system spec: one document that describes every agent, the call graph between them,
 * the mesh and the monitoring. Two forms are accepted per agent:
 *  - our camelCase form: AgentService props + per-agent mesh options + `calls`;
 *  - the reference design's snake_case form (`agent_id`, `tag`, `environment`, `ports`,
 *    `health_check`, `scaling`, `routing_rules`, `load_balancer`).
 * A single agent must use one form; different agents of one system may use different forms.
 */

/** An agent id as used in `calls`. */
const agentRef = () => z.string().min(1, 'must be an agent id');

/** Keys of a camelCase agent entry that are not AgentService props. */
const systemOnlyAgentShape = {
  name: dns1035Label(MAX_AGENT_NAME_LENGTH).describe('Agent id: name of its Deployment, Service and ServiceAccount.'),
  calls: z.array(agentRef()).optional().describe('Agents this agent calls (edges of the call graph; the mesh allows only these).'),
};

/** A camelCase agent entry (AgentService props, per-agent mesh options and `calls`). */
export const systemAgentSchema = z.strictObject({
  ...agentServicePropsSchema.shape,
  ...meshAgentOptionsShape,
  ...monitoringAgentShape,
  ...systemOnlyAgentShape,
});

/** A reference-design agent entry (snake_case). */
export const referenceSystemAgentSchema = z.strictObject({
  ...referenceAgentConfigSchema.shape,
  ...referenceMeshShape,
});

/** Keys of the system document itself. */
const systemShape = {
  name: labelValue().min(1).optional().describe('System name: `app.kubernetes.io/part-of` of every object and the output file name. Default: the namespace, else "multi-agents".'),
  namespace: dns1123Label().optional().describe('Namespace of every agent. Default: the system name.'),
  createNamespace: z.boolean().optional().describe('Create the Namespace object (labelled istio-injection: enabled), so the output applies to an empty cluster. Default: true.'),
  calls: z
    .array(z.tuple([agentRef(), agentRef()]))
    .optional()
    .describe('Call graph edges as [from, to] pairs; merged with the per-agent `calls`.'),
  mesh: meshOptionsSchema.optional().describe('Mesh-wide options (MeshPolicy).'),
  monitoring: monitoringOptionsSchema.optional().describe('Monitoring options (MonitoringStack); false for none.'),
  gateway: systemGatewaySchema.optional(),
};

/**
 * The system schema as documentation (JSON Schema export, editor completion). Parsing goes
 * through `parseSystemSpec`, which dispatches each agent to one form so errors name the
 * form's own fields instead of a union mismatch.
 */
export const systemSpecSchema = z.strictObject({
  ...systemShape,
  agents: z.array(z.union([systemAgentSchema, referenceSystemAgentSchema])).min(1, 'a system needs at least one agent').describe('The agents of the system.'),
});

/** A system spec as users write it (either form per agent). */
export type SystemSpecInput = z.input<typeof systemSpecSchema>;
/** One camelCase agent entry. */
export type SystemAgentInput = z.input<typeof systemAgentSchema>;
/** One reference-form agent entry. */
export type ReferenceSystemAgentInput = z.input<typeof referenceSystemAgentSchema>;

/** One agent of a parsed system. */
export interface SystemAgent {
  /** Agent id. */
  readonly name: string;
  /** Position in `agents`, for error messages. */
  readonly index: number;
  /** Which form the agent was written in. */
  readonly form: 'camelCase' | 'reference';
  /** AgentService props (system name and namespace filled in). */
  readonly props: AgentServiceProps;
  /** Per-agent mesh options (MeshPolicy `agents.<id>`). */
  readonly mesh: MeshAgentOptionsInput;
  /** Callers from outside the system. */
  readonly ingress?: IngressPeerInput;
  /** Alert thresholds of this agent (MonitoringStack `overrides`). */
  readonly alertThresholds?: AlertThresholdsInput;
}

/** A parsed, checked system spec. */
export interface SystemSpec {
  readonly name: string;
  readonly namespace: string;
  /** Whether AgentSystem creates the Namespace object. */
  readonly createNamespace: boolean;
  readonly agents: readonly SystemAgent[];
  /** Call graph edges, deduplicated, in order of first appearance. */
  readonly calls: readonly (readonly [string, string])[];
  readonly mesh: MeshOptionsInput;
  readonly monitoring: MonitoringOptionsInput;
  /** The ingress gateway of the entry agents, if any. */
  readonly gateway?: SystemGatewayOptions;
}

export type SystemParseResult = { readonly success: true; readonly data: SystemSpec } | { readonly success: false; readonly issues: readonly SpecIssue[] };

/** Renders an issue as `agents[2].autoscaling.maxReplicas: message`. */
export function formatSpecIssue(issue: SpecIssue): string {
  const path = formatPath(issue.path);
  return path ? `${path}: ${issue.message}` : issue.message;
}

/**
 * Thrown by AgentSystem for an invalid spec: a PropsValidationError (one `path: message` problem
 * per issue) that also carries the issues with their document paths, for mapping to positions.
 */
export class SystemSpecError extends PropsValidationError {
  constructor(constructPath: string, public readonly issues: readonly SpecIssue[]) {
    super(constructPath, issues.map(formatSpecIssue));
    this.name = 'SystemSpecError';
  }
}

const DEFAULT_SYSTEM_NAME = 'multi-agents';
/** Prefix of top-level keys that the spec ignores (room for YAML anchors). */
export const EXTENSION_PREFIX = 'x-';

const CAMEL_AGENT_KEYS = Object.keys(systemAgentSchema.shape);
const REFERENCE_AGENT_KEYS = Object.keys(referenceSystemAgentSchema.shape);
const SYSTEM_KEYS = Object.keys(systemSpecSchema.shape);

/**
 * Parses and checks a system spec: shape, every agent's props (with AgentService's own
 * cross-field rules), unique agent ids, and a call graph that names only known agents.
 * Never throws on bad input; returns every issue found.
 */
export function parseSystemSpec(raw: unknown): SystemParseResult {
  const issues: SpecIssue[] = [];
  if (!isPlainObject(raw)) {
    return { success: false, issues: [{ path: [], message: `expected a mapping with "agents" (and optionally ${SYSTEM_KEYS.filter((k) => k !== 'agents').map((k) => `"${k}"`).join(', ')}), got ${describe(raw)}` }] };
  }
  // Top-level `x-` keys are free for YAML anchors (`x-defaults: &defaults {...}`) and ignored.
  const input = Object.fromEntries(Object.entries(raw).filter(([k]) => !k.startsWith(EXTENSION_PREFIX)));
  const top = z.strictObject({ ...systemShape, agents: z.array(z.unknown()).min(1, 'a system needs at least one agent') }).safeParse(input);
  if (!top.success) issues.push(...fromZod(top.error.issues, [], systemSpecSchema));
  const name = typeof input.name === 'string' ? input.name : typeof input.namespace === 'string' ? input.namespace : DEFAULT_SYSTEM_NAME;
  const namespace = typeof input.namespace === 'string' ? input.namespace : name;

  const rawAgents = Array.isArray(input.agents) ? input.agents : [];
  const agents: SystemAgent[] = [];
  const seen = new Map<string, number>();
  rawAgents.forEach((raw, index) => {
    const path = ['agents', index];
    const agent = parseAgent(raw, index, { name, namespace }, issues);
    const id = agentId(raw);
    if (id !== undefined) {
      const first = seen.get(id);
      if (first !== undefined) {
        issues.push({ path: [...path, isPlainObject(raw) && 'agent_id' in raw ? 'agent_id' : 'name'], message: `duplicate agent id "${id}": already used by agents[${first}]` });
      } else {
        seen.set(id, index);
      }
    }
    if (agent) agents.push(agent);
  });

  // Call graph: per-agent `calls` and top-level [from, to] pairs, checked against the agent ids.
  const known = [...seen.keys()];
  const calls: [string, string][] = [];
  const edgeKeys = new Set<string>();
  const addEdge = (from: string, to: string) => {
    const key = `${from}\u0000${to}`;
    if (!edgeKeys.has(key)) {
      edgeKeys.add(key);
      calls.push([from, to]);
    }
  };
  const checkRef = (ref: unknown, refPath: (string | number)[]): ref is string => {
    if (typeof ref !== 'string') return false; // already reported by the schema
    if (seen.has(ref)) return true;
    issues.push({ path: refPath, message: `calls unknown agent "${ref}"${didYouMean(ref, known)}` });
    return false;
  };
  rawAgents.forEach((raw, index) => {
    if (!isPlainObject(raw) || !Array.isArray(raw.calls)) return;
    const from = agentId(raw);
    raw.calls.forEach((to, j) => {
      if (checkRef(to, ['agents', index, 'calls', j]) && from !== undefined) addEdge(from, to);
    });
  });
  if (Array.isArray(input.calls)) {
    input.calls.forEach((edge, i) => {
      if (!Array.isArray(edge) || edge.length !== 2) return;
      const okFrom = checkRef(edge[0], ['calls', i, 0]);
      const okTo = checkRef(edge[1], ['calls', i, 1]);
      if (okFrom && okTo) addEdge(edge[0], edge[1]);
    });
  }

  // MCP tools served by another agent of the system are call graph edges, at that agent's port.
  const toolEdges = agentToolEdges(agents, namespace, (ref, refPath) => checkRef(ref, refPath));
  for (const [from, to] of toolEdges) addEdge(from, to);

  // Gateway routes name entry agents.
  const gatewayRoutes = isPlainObject(input.gateway) && Array.isArray(input.gateway.routes) ? input.gateway.routes : [];
  gatewayRoutes.forEach((r, i) => {
    if (!isPlainObject(r) || typeof r.agent !== 'string' || seen.has(r.agent)) return;
    issues.push({ path: ['gateway', 'routes', i, 'agent'], message: `routes to unknown agent "${r.agent}"${didYouMean(r.agent, known)}` });
  });

  if (issues.length > 0) return { success: false, issues: dedupe(issues) };
  const data: SystemSpec = {
    name,
    namespace,
    createNamespace: input.createNamespace !== false,
    agents,
    calls,
    mesh: (top.success ? top.data.mesh : undefined) ?? {},
    monitoring: (top.success ? top.data.monitoring : undefined) ?? {},
    gateway: top.success ? top.data.gateway : undefined,
  };
  parsedSpecs.add(data);
  return { success: true, data };
}

/**
 * Edges of the agents' `agent` tools in this namespace (checked against the agent ids), and each
 * such tool's port filled in from the serving agent, so MCP_<NAME>_URL reaches its Service port.
 */
function agentToolEdges(agents: SystemAgent[], namespace: string, checkRef: (ref: unknown, path: (string | number)[]) => boolean): [string, string][] {
  const edges: [string, string][] = [];
  const ports = new Map(agents.map((a) => [a.name, a.props.port ?? DEFAULTS.port]));
  agents.forEach((agent, i) => {
    const tools = agent.props.tools;
    if (!tools) return;
    const filled: NonNullable<AgentServiceProps['tools']> = {};
    for (const [name, tool] of Object.entries(tools)) {
      if (tool.agent === undefined || (tool.namespace !== undefined && tool.namespace !== namespace)) {
        filled[name] = tool;
        continue;
      }
      if (checkRef(tool.agent, ['agents', agent.index, 'tools', name, 'agent'])) {
        edges.push([agent.name, tool.agent]);
        filled[name] = { ...tool, port: tool.port ?? ports.get(tool.agent) };
      } else {
        filled[name] = tool;
      }
    }
    agents[i] = { ...agent, props: { ...agent.props, tools: filled } };
  });
  return edges;
}

// Specs returned by parseSystemSpec, so AgentSystem does not parse them twice.
const parsedSpecs = new WeakSet<object>();

/** Whether `x` is a SystemSpec returned by parseSystemSpec. */
export function isParsedSystemSpec(x: unknown): x is SystemSpec {
  return typeof x === 'object' && x !== null && parsedSpecs.has(x);
}

/**
 * Maps a construct's PropsValidationError back to spec paths: problems of an agent's
 * AgentService to that agent's entry (in the form it was written), problems naming
 * `agents.<id>` to that agent, anything else under `prefix`.
 */
export function toConstructIssues(e: PropsValidationError, spec: SystemSpec, agent?: SystemAgent, prefix: readonly (string | number)[] = []): SpecIssue[] {
  return e.problems.map((problem) => {
    let atKey = false;
    let fieldPath: (string | number)[] = [];
    let message = problem;
    const unknown = /^unknown fields? "([^"]+)"/.exec(problem);
    const field = /^([A-Za-z_$][\w$-]*(?:\.[\w$-]+|\[\d+\])*): (.*)$/s.exec(problem);
    if (unknown) {
      fieldPath = parsePath(unknown[1]);
      atKey = true;
    } else if (field) {
      fieldPath = parsePath(field[1]);
      message = field[2];
    }
    if (agent) {
      const p = agent.form === 'reference' ? referencePath(fieldPath, message, true) : fieldPath;
      return { path: ['agents', agent.index, ...p], message, atKey: atKey && agent.form !== 'reference' };
    }
    if (fieldPath[0] === 'overrides' && typeof fieldPath[1] === 'string') {
      const target = spec.agents.find((a) => a.name === fieldPath[1]);
      if (target) return { path: ['agents', target.index, 'alertThresholds', ...fieldPath.slice(2)], message, atKey };
    }
    if (fieldPath[0] === 'agents' && typeof fieldPath[1] === 'string') {
      const target = spec.agents.find((a) => a.name === fieldPath[1]);
      if (target) return { path: ['agents', target.index, ...(target.form === 'reference' ? referenceMeshPath(fieldPath.slice(2)) : fieldPath.slice(2))], message, atKey };
    }
    return { path: [...prefix, ...fieldPath], message, atKey };
  });
}

/** `a.b[0].c` to `['a', 'b', 0, 'c']`. */
export function parsePath(text: string): (string | number)[] {
  const out: (string | number)[] = [];
  for (const m of text.matchAll(/([^.[\]]+)|\[(\d+)\]/g)) out.push(m[2] !== undefined ? Number(m[2]) : m[1]);
  return out;
}

function parseAgent(raw: unknown, index: number, system: { name: string; namespace: string }, issues: SpecIssue[]): SystemAgent | undefined {
  const path = ['agents', index];
  if (!isPlainObject(raw)) {
    issues.push({ path, message: `expected an agent mapping (with "name" and "image", or the reference form's "agent_id"), got ${describe(raw)}` });
    return undefined;
  }
  const keys = Object.keys(raw);
  const reference = 'agent_id' in raw;
  if (reference) {
    const camelOnly = keys.filter((k) => !REFERENCE_AGENT_KEYS.includes(k) && CAMEL_AGENT_KEYS.includes(k));
    for (const k of camelOnly) {
      issues.push({ path: [...path, k], atKey: true, message: `"${k}" is a camelCase field, but this agent uses the reference form (agent_id): write the agent in one form (camelCase: name, image, ...; reference: agent_id, image, tag, ...)` });
    }
    const parsed = checkShape(referenceSystemAgentSchema, omitKeys(raw, camelOnly.map((k) => [k])), path, issues);
    if (!parsed) return undefined;
    const { routing_rules: routingRules, load_balancer: loadBalancer, ...agentPart } = parsed.data;
    const props = fromReferenceConfig(agentPart, `agents[${index}]`);
    const withSystem = { ...props, system: system.name, namespace: system.namespace } as AgentServiceProps;
    // The props and the mesh options are checked apart: problems of one do not hide the other's.
    const checked = agentServicePropsSchema.safeParse(withSystem);
    if (!checked.success) {
      issues.push(...checked.error.issues.map((i) => ({ path: [...path, ...referencePath(i.path as (string | number)[], i.message, parsed.data.tag !== undefined)], message: i.message })));
    }
    const { options: mesh, problems } = referenceMeshToOptions({ routingRules, loadBalancer }, (checked.success ? checked.data.port : props.port) ?? DEFAULTS.port);
    issues.push(...problems.map((pr) => ({ path: [...path, ...pr.path], message: pr.message })));
    // An unknown field was reported: the rest was checked without it, but the agent is not built.
    if (!checked.success || problems.length > 0 || parsed.stripped || camelOnly.length > 0) return undefined;
    return { name: parsed.data.agent_id, index, form: 'reference', props: withSystem, mesh };
  }

  const referenceOnly = keys.filter((k) => REFERENCE_AGENT_KEYS.includes(k) && !CAMEL_AGENT_KEYS.includes(k));
  if (referenceOnly.length > 0 && !('name' in raw)) {
    issues.push({ path, message: `reference-form fields (${referenceOnly.join(', ')}) need "agent_id"; camelCase agents need "name"` });
    return undefined;
  }
  for (const k of referenceOnly) {
    issues.push({ path: [...path, k], atKey: true, message: `"${k}" is a reference-form field, but this agent uses the camelCase form (name): write the agent in one form${didYouMean(k, CAMEL_AGENT_KEYS)}` });
  }
  const parsed = checkShape(systemAgentSchema, omitKeys(raw, referenceOnly.map((k) => [k])), path, issues);
  if (!parsed) return undefined;
  const d = parsed.data as Record<string, unknown>;
  if (d.namespace !== undefined && d.namespace !== system.namespace) {
    issues.push({ path: [...path, 'namespace'], message: `("${String(d.namespace)}") must be the system namespace "${system.namespace}" or be omitted: the mesh and monitoring of a system live in one namespace` });
  }
  if (d.system !== undefined && d.system !== system.name) {
    issues.push({ path: [...path, 'system'], message: `("${String(d.system)}") must be the system name "${system.name}" or be omitted` });
  }
  const wrongPlace = (d.namespace !== undefined && d.namespace !== system.namespace) || (d.system !== undefined && d.system !== system.name);
  const props: Record<string, unknown> = {};
  const mesh: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(parsed.value)) {
    if (k === 'calls' || k === 'ingress' || k === 'alertThresholds') continue;
    if (k === 'canary') {
      // One canary block: the Deployment (image, version, replicas) and the mesh weight.
      const { service, mesh: meshCanary } = splitCanary(v as never);
      props.canary = service;
      if (meshCanary) mesh.canary = meshCanary;
    } else if (k in meshAgentOptionsShape) {
      mesh[k] = v;
    } else {
      props[k] = v;
    }
  }
  const withSystem = { ...props, system: system.name, namespace: system.namespace } as AgentServiceProps;
  // Cross-field rules of AgentService (replicas vs autoscaling, requests <= limits, ...).
  const checked = agentServicePropsSchema.safeParse(withSystem);
  if (!checked.success) {
    issues.push(...fromZod(checked.error.issues, path, agentServicePropsSchema));
    return undefined;
  }
  // An unknown field was reported: the rest was checked without it, but the agent is not built.
  if (parsed.stripped || referenceOnly.length > 0 || wrongPlace) return undefined;
  return { name: String(d.name), index, form: 'camelCase', props: withSystem, mesh: mesh as MeshAgentOptionsInput, ingress: d.ingress as IngressPeerInput | undefined, alertThresholds: d.alertThresholds as AlertThresholdsInput | undefined };
}

/**
 * Checks an agent entry against its form's schema. Unknown fields do not hide the entry's other
 * problems (cross-field rules, the mesh options): when they are the only shape problems, they are
 * reported and the entry without them is checked on (`stripped`). Undefined when it cannot go on.
 */
function checkShape<S extends z.ZodType>(schema: S, value: Record<string, unknown>, path: (string | number)[], issues: SpecIssue[]): { data: z.output<S>; value: Record<string, unknown>; stripped: boolean } | undefined {
  const first = schema.safeParse(value);
  if (first.success) return { data: first.data, value, stripped: false };
  issues.push(...fromZod(first.error.issues, path, schema));
  if (!first.error.issues.every((i) => i.code === 'unrecognized_keys')) return undefined;
  const unknown = first.error.issues.flatMap((i) => (i.code === 'unrecognized_keys' ? i.keys.map((k) => [...(i.path as (string | number)[]), k]) : []));
  const rest = omitKeys(value, unknown);
  const second = schema.safeParse(rest);
  return second.success ? { data: second.data, value: rest, stripped: true } : undefined;
}

/** A copy of `value` without the keys at `paths` (each path ends with the key). */
function omitKeys(value: Record<string, unknown>, paths: readonly (readonly (string | number)[])[]): Record<string, unknown> {
  const copy = structuredClone(value);
  for (const p of paths) {
    let node: unknown = copy;
    for (const seg of p.slice(0, -1)) node = isPlainObject(node) || Array.isArray(node) ? (node as Record<string | number, unknown>)[seg] : undefined;
    if (isPlainObject(node)) delete node[String(p[p.length - 1])];
  }
  return copy;
}

// camelCase AgentService prop paths back to the reference fields they came from.
function referencePath(p: (string | number)[], message: string, hasTag: boolean): (string | number)[] {
  const [head, ...rest] = p;
  switch (head) {
    case 'name': return ['agent_id'];
    case 'image': return [hasTag && /tag|latest/.test(message) ? 'tag' : 'image'];
    case 'port': return ['ports', 0];
    case 'env': return ['environment', ...rest];
    case 'replicas': return ['scaling', 'initial_replicas'];
    case 'resources': {
      const [kind, which] = rest;
      if (typeof which === 'string') return ['resources', `${which}_${kind === 'limits' ? 'limit' : 'request'}`];
      return ['resources'];
    }
    case 'healthCheck': {
      const map: Record<string, string> = { livenessPath: 'path', readinessPath: 'readiness_path', port: 'port' };
      const f = rest[0];
      return typeof f === 'string' && map[f] ? ['health_check', map[f]] : ['health_check'];
    }
    case 'autoscaling': {
      const map: Record<string, string> = { minReplicas: 'min_replicas', maxReplicas: 'max_replicas', targetCpuPercent: 'target_cpu' };
      const f = rest[0];
      return typeof f === 'string' && map[f] ? ['scaling', map[f]] : ['scaling'];
    }
    default: return [];
  }
}

// --- small helpers ---

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function agentId(raw: unknown): string | undefined {
  if (!isPlainObject(raw)) return undefined;
  const id = 'agent_id' in raw ? raw.agent_id : raw.name;
  return typeof id === 'string' ? id : undefined;
}

function describe(v: unknown): string {
  if (v === null || v === undefined) return 'an empty document';
  if (Array.isArray(v)) return 'a list';
  return `a ${typeof v}`;
}

