/**
 * `gateway:` of a system spec: the AgentGateway in front of the system's entry agents. Routes
 * name agents by id; everything else is AgentGateway's own options.
 */
import { z } from 'zod';
import { Construct } from 'constructs';
import { AgentGateway, AgentGatewayProps, AgentGatewayRoute } from '../constructs/agent-gateway';
import { AgentService } from '../constructs/agent-service';
import { edgeOptionsSchema, routeSchema } from '../constructs/edge/options';
import { MeshPolicy } from '../constructs/mesh-policy';

/** One route of `gateway.routes`: AgentGateway route options plus the entry agent's id. */
export const systemGatewayRouteSchema = routeSchema.extend({
  agent: z.string().min(1).describe('Id of the entry agent this route sends to.'),
});

/** `gateway:` of a system spec. */
export const systemGatewaySchema = edgeOptionsSchema.extend({
  routes: z.array(systemGatewayRouteSchema).min(1, 'route at least one entry agent')
    .describe('Routes to the entry agents (longest path prefix wins).'),
}).describe('Ingress for the entry agents: Istio Gateway with TLS, end-user JWT, local rate limits (AgentGateway).');

/** `gateway:` of a system: AgentGateway props with routes naming agents by id. */
export interface SystemGatewayOptions extends Omit<AgentGatewayProps, 'mesh' | 'routes'> {
  /** Routes to the entry agents. */
  readonly routes: Array<Omit<AgentGatewayRoute, 'agent'> & { readonly agent: string }>;
}

/** @internal the documented interface accepts what the schema accepts and the reverse (compile time). */
export const _systemGatewayTypeMatchesSchema: [
  [SystemGatewayOptions] extends [z.input<typeof systemGatewaySchema>] ? true : false,
  [z.input<typeof systemGatewaySchema>] extends [SystemGatewayOptions] ? true : false,
] = [true, true];

/** The AgentGateway of a system, or none without `gateway:`. Agent ids are checked by the spec parser. */
export function buildGateway(scope: Construct, id: string, gateway: SystemGatewayOptions | undefined, mesh: MeshPolicy, agents: ReadonlyMap<string, AgentService>, systemName: string): AgentGateway | undefined {
  if (!gateway) return undefined;
  return new AgentGateway(scope, id, {
    ...gateway,
    mesh,
    routes: gateway.routes.map(({ agent, ...route }) => ({ ...route, agent: agents.get(agent)! })),
    // The Gateway is named after the system unless `gateway.gateway.name` says otherwise.
    gateway: { ...gateway.gateway, name: gateway.gateway?.name ?? systemName },
  });
}
