import { z } from 'zod';
import type { AgentServicePropsInput } from './spec';
import { parseProps } from './validation';

/**
 * The reference design's agent config (snake_case), as teams have it in their
 * existing system configs. `tag` is required here: the reference default `latest` is not accepted.
 */
export const referenceAgentConfigSchema = z.strictObject({
  agent_id: z.string(),
  image: z.string(),
  tag: z.string().optional(),
  resources: z
    .strictObject({
      cpu_request: z.union([z.string(), z.number()]).optional(),
      cpu_limit: z.union([z.string(), z.number()]).optional(),
      memory_request: z.union([z.string(), z.number()]).optional(),
      memory_limit: z.union([z.string(), z.number()]).optional(),
    })
    .optional(),
  environment: z.record(z.string(), z.string()).optional(),
  ports: z.array(z.number()).min(1).max(1, 'only one agent port is supported (the first is the http port)').optional(),
  health_check: z
    .strictObject({
      path: z.string().optional(),
      readiness_path: z.string().optional(),
      port: z.number().optional(),
    })
    .optional(),
  scaling: z
    .strictObject({
      initial_replicas: z.number().optional(),
      min_replicas: z.number().optional(),
      max_replicas: z.number().optional(),
      target_cpu: z.number().optional(),
    })
    .optional(),
});

/** An agent config in the reference design's shape (snake_case). */
export interface ReferenceAgentConfig {
  /** Agent id (becomes `name`). */
  readonly agent_id: string;
  /** Image repository, without the tag. */
  readonly image: string;
  /** Image tag; required in practice (`latest` and untagged images are rejected). @default none */
  readonly tag?: string;
  /** CPU and memory requests and limits. @default the AgentService defaults */
  readonly resources?: {
    readonly cpu_request?: string | number;
    readonly cpu_limit?: string | number;
    readonly memory_request?: string | number;
    readonly memory_limit?: string | number;
  };
  /** Plain environment variables. @default none */
  readonly environment?: Record<string, string>;
  /** The agent port (one port: it becomes `http`). @default [8080] */
  readonly ports?: number[];
  /** Probe paths and port. @default `/health`, `/ready`, the agent port */
  readonly health_check?: { readonly path?: string; readonly readiness_path?: string; readonly port?: number };
  /** Replica count and autoscaling. @default the AgentService defaults */
  readonly scaling?: {
    readonly initial_replicas?: number;
    readonly min_replicas?: number;
    readonly max_replicas?: number;
    readonly target_cpu?: number;
  };
}

// Keep the documented interface and the zod schema in step at compile time (both directions).
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
/** @internal */
export const _referenceConfigMatchesSchema: Same<ReferenceAgentConfig, z.input<typeof referenceAgentConfigSchema>> = true;

/**
 * Maps a reference agent config to AgentService props. Shape errors are reported with
 * the snake_case field names; value errors (bad image, quantities, ...) by AgentService.
 */
export function fromReferenceConfig(config: unknown, constructPath: string): AgentServicePropsInput {
  const c = parseProps(referenceAgentConfigSchema, config, constructPath);
  const image = c.tag !== undefined ? `${c.image}:${c.tag}` : c.image;
  const r = c.resources;
  const s = c.scaling;
  const props: Record<string, unknown> = {
    name: c.agent_id,
    image,
    port: c.ports?.[0],
    env: c.environment,
    resources: r && {
      requests: prune({ cpu: r.cpu_request, memory: r.memory_request }),
      limits: prune({ cpu: r.cpu_limit, memory: r.memory_limit }),
    },
    healthCheck: c.health_check && prune({ livenessPath: c.health_check.path, readinessPath: c.health_check.readiness_path, port: c.health_check.port }),
    // initial_replicas has no meaning once an HPA owns the count; min/max/target do.
    autoscaling: s && (s.min_replicas !== undefined || s.max_replicas !== undefined || s.target_cpu !== undefined)
      ? prune({ minReplicas: s.min_replicas, maxReplicas: s.max_replicas, targetCpuPercent: s.target_cpu })
      : undefined,
    replicas: s && s.min_replicas === undefined && s.max_replicas === undefined && s.target_cpu === undefined ? s.initial_replicas : undefined,
  };
  return prune(props) as AgentServicePropsInput;
}

function prune<T extends Record<string, unknown>>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}
