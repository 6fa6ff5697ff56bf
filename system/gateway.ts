/**
 * `gateway:` of a system spec: the AgentGateway in front of the system's entry agents. Routes
 * name agents by id; everything else is AgentGateway's own options.
 */
import { z } from 'zod';
import { Construct } from 'constructs';
import { AgentGateway } from '../constructs/agent-gateway';
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

export type SystemGatewayInput = z.input<typeof systemGatewaySchema>;

/** The AgentGateway of a system, or none without `gateway:`. Agent ids are checked by the spec parser. */
export function buildGateway(scope: Construct, id: string, gateway: SystemGatewayInput | undefined, mesh: MeshPolicy, agents: ReadonlyMap<string, AgentService>, systemName: string): AgentGateway | undefined {
  if (!gateway) return undefined;
  return new AgentGateway(scope, id, {
    ...gateway,
    mesh,
    routes: gateway.routes.map(({ agent, ...route }) => ({ ...route, agent: agents.get(agent)! })),
    // The Gateway is named after the system unless `gateway.gateway.name` says otherwise.
    gateway: { ...gateway.gateway, name: gateway.gateway?.name ?? systemName },
  });
}
