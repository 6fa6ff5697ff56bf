import { ApiObject, ApiObjectMetadata } from 'cdk8s';
import * as kplus from 'cdk8s-plus-28';
import { Construct, IConstruct } from 'constructs';
import { EnvoyFilter, Gateway, VirtualService } from '../imports/istio-networking.istio.io';
import { AuthorizationPolicy, AuthorizationPolicySpecAction, RequestAuthentication, RequestAuthenticationSpec, toJson_RequestAuthenticationSpec } from '../imports/istio-security.istio.io';
import { AgentService } from './agent-service';
import { gatewayTuningSpec } from './edge/envoy-filters';
import { EdgeOptionsInput, edgeOptionsSchema, EdgePlan, gatewayPrincipal, hostsOverlap, planEdge } from './edge/options';
import { edgeRouteName, entryAllowRules, gatewayDenySpec, gatewaySpec, gatewayVirtualServiceSpec, requestAuthenticationSpec } from './edge/render';
import { MeshPolicy } from './mesh-policy';
import { AgentPlan } from './mesh/options';
import { MeshRateLimit } from './mesh/props';
import { sortKeys } from './mesh/render';
import { MANAGED_BY } from './spec';
import { formatIssues, PropsValidationError } from './validation';

/** TLS of the gateway's HTTPS server. */
export interface AgentGatewayTls {
  /** Secret (type kubernetes.io/tls) with the certificate, in the gateway pods' namespace. */
  readonly secretName: string;
  /** Lowest TLS version accepted. @default 'TLSV1_2' */
  readonly minProtocolVersion?: 'TLSV1_2' | 'TLSV1_3';
  /** Also listen on port 80 and redirect to HTTPS. @default true */
  readonly httpsRedirect?: boolean;
}

/** End-user authentication with JWTs (Istio RequestAuthentication). */
export interface AgentGatewayJwt {
  /** Issuer (`iss` claim), an https URL. */
  readonly issuer: string;
  /** JWKS URI of the issuer, https. */
  readonly jwksUri: string;
  /** Accepted audiences (`aud`). @default any audience */
  readonly audiences?: string[];
  /** Claims copied into request headers for the agents, claim -> lower-case header name. @default none */
  readonly forwardClaims?: Record<string, string>;
  /** Forward the token to the entry agents, which validate it again (needed for requiredClaims). @default true */
  readonly forwardOriginalToken?: boolean;
  /** Claims every request must carry, claim -> accepted values (any one). @default none */
  readonly requiredClaims?: Record<string, string[]>;
}

/** The ingress gateway pods that serve the Gateway. */
export interface AgentGatewayWorkload {
  /** Name of the Gateway (and prefix of its objects). @default the construct id */
  readonly name?: string;
  /** Namespace of the gateway pods; the Gateway, its TLS Secret and its policies live there. @default 'istio-ingress' */
  readonly namespace?: string;
  /** Labels of the gateway pods. @default { istio: 'ingressgateway' } */
  readonly selector?: Record<string, string>;
  /** Service account of the gateway pods (their identity at the entry agents). @default 'istio-ingressgateway' */
  readonly serviceAccount?: string;
}

/** A route from the gateway to an entry agent. */
export interface AgentGatewayRoute {
  /** The entry agent; it must be in `mesh`. */
  readonly agent: AgentService;
  /** Path prefix routed to the agent. @default '/' */
  readonly pathPrefix?: string;
  /** Hosts of this route (among the gateway's). @default all the gateway's hosts */
  readonly hosts?: string[];
  /** Route timeout: above the agent's longest call, streaming included. @default the agent's mesh timeout ('300s') */
  readonly timeout?: string;
  /** Stream idle timeout (longest pause between bytes of a streamed response). @default Envoy's (5m) */
  readonly idleTimeout?: string;
  /** Local rate limit of this route at each gateway pod. @default the gateway's rateLimit */
  readonly rateLimit?: MeshRateLimit;
  /** Claims required on this route, in addition to jwt.requiredClaims. @default none */
  readonly requiredClaims?: Record<string, string[]>;
}

/** Props of AgentGateway. */
export interface AgentGatewayProps {
  /** The mesh of the entry agents: routes follow its canary split and mirror, and its default-deny stays in force. */
  readonly mesh: MeshPolicy;
  /** Host names served (e.g. 'agents.example.com', '*.agents.example.com'). */
  readonly hosts: string[];
  /** HTTPS certificate. */
  readonly tls: AgentGatewayTls;
  /** Routes to the entry agents. */
  readonly routes: AgentGatewayRoute[];
  /** End-user JWT validation; without it any client reaching the gateway may call the entry agents (a warning says so). @default none */
  readonly jwt?: AgentGatewayJwt;
  /** Local rate limit of each route without its own, per gateway pod. @default none */
  readonly rateLimit?: MeshRateLimit;
  /** The gateway pods. @default Istio's ingress gateway in 'istio-ingress' */
  readonly gateway?: AgentGatewayWorkload;
}

// Hosts claimed by the AgentGateways of one app: two Gateways serving one host split its traffic unpredictably.
const hostsByRoot = new WeakMap<IConstruct, Array<{ host: string; path: string }>>();

/**
 * The edge of an agent system: an Istio Gateway with TLS, routes to the entry agents that follow
 * the mesh's canary split and mirror, end-user JWT validation at the gateway and again at each
 * entry agent, and local rate limits per route.
 */
export class AgentGateway extends Construct {
  /** The normalized plan. */
  public readonly plan: EdgePlan;
  public readonly gateway: Gateway;
  /** VirtualService `<name>-ingress` in the agents' namespace. */
  public readonly virtualService: VirtualService;
  /** Warnings raised at construction (also printed to stderr). */
  public readonly warnings: string[] = [];

  constructor(scope: Construct, id: string, props: AgentGatewayProps) {
    super(scope, id);
    const problems: string[] = [];
    const mesh = props?.mesh;
    if (!(mesh instanceof MeshPolicy)) problems.push('mesh: must be the MeshPolicy of the entry agents');
    const routes = Array.isArray(props?.routes) ? props.routes : [];
    const agentPlans = new Map<string, AgentPlan>();
    const routed = routes.map((r, i) => {
      if (!(r?.agent instanceof AgentService)) {
        problems.push(`routes[${i}].agent: must be an AgentService`);
        return { name: `routes-${i}`, meshTimeout: '300s' };
      }
      const plan = mesh instanceof MeshPolicy ? mesh.planOf(r.agent) : undefined;
      if (mesh instanceof MeshPolicy && !plan) problems.push(`routes[${i}].agent: ${r.agent.spec.name} (${r.agent.spec.constructPath}) is not in the mesh ${mesh.node.path}`);
      if (plan) agentPlans.set(plan.spec.name, plan);
      return { name: r.agent.spec.name, meshTimeout: plan?.routes[plan.routes.length - 1].timeout ?? '300s' };
    });
    const { mesh: _m, routes: _r, ...rest } = props ?? ({} as AgentGatewayProps);
    const input = { ...rest, routes: routes.map(({ agent: _a, ...route }) => route) };
    const parsed = edgeOptionsSchema.safeParse(input);
    if (!parsed.success) problems.push(...formatIssues(parsed.error.issues));
    if (problems.length > 0) throw new PropsValidationError(this.node.path, problems);

    const { plan, problems: planProblems, warnings } = planEdge(id, parsed.data!, routed);
    problems.push(...planProblems, ...this.claimHosts(parsed.data!.hosts));
    if (problems.length > 0 || !plan) throw new PropsValidationError(this.node.path, problems);
    this.plan = plan;
    for (const w of warnings) this.warn(w);

    const ns = mesh.namespace;
    this.gateway = new Gateway(this, 'Gateway', { metadata: this.metadata(plan.name, plan.gatewayNamespace), spec: gatewaySpec(plan, ns) });
    this.virtualService = new VirtualService(this, 'VirtualService', {
      metadata: this.metadata(`${plan.name}-ingress`, ns),
      spec: gatewayVirtualServiceSpec(plan, ns, agentPlans),
    });

    if (plan.jwt) {
      requestAuthentication(this, 'GatewayJwt', this.metadata(`${plan.name}-jwt`, plan.gatewayNamespace), requestAuthenticationSpec(plan, plan.selector, true));
      new AuthorizationPolicy(this, 'GatewayRequireJwt', {
        metadata: this.metadata(`${plan.name}-require-jwt`, plan.gatewayNamespace),
        spec: gatewayDenySpec(plan),
      });
    }

    const principal = gatewayPrincipal(plan, mesh.trustDomain);
    for (const [agentName, agent] of agentPlans) {
      const spec = agent.spec;
      const agentRoutes = plan.routes.filter((r) => r.agent === agentName);
      if (plan.jwt?.forwardOriginalToken) {
        requestAuthentication(this, `${agentName}-Jwt`, this.metadata(`${plan.name}-${agentName}-jwt`, ns, spec.labels), requestAuthenticationSpec(plan, spec.selectorLabels, false));
      }
      new AuthorizationPolicy(this, `${agentName}-Allow`, {
        metadata: this.metadata(`${plan.name}-${agentName}`, ns, spec.labels),
        spec: {
          selector: { matchLabels: sortKeys(spec.selectorLabels) },
          action: AuthorizationPolicySpecAction.ALLOW,
          rules: entryAllowRules(plan, agentRoutes, principal, spec.targetPort),
        },
      });
      if (Object.keys(mesh.networkPolicies).length > 0) {
        new kplus.k8s.KubeNetworkPolicy(this, `${agentName}-Network`, {
          metadata: this.metadata(`${plan.name}-${agentName}`, ns, spec.labels),
          spec: {
            podSelector: { matchLabels: sortKeys(spec.selectorLabels) },
            policyTypes: ['Ingress'],
            ingress: [{
              from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': plan.gatewayNamespace } }, podSelector: { matchLabels: sortKeys(plan.selector) } }],
              ports: [{ port: kplus.k8s.IntOrString.fromNumber(spec.targetPort), protocol: 'TCP' }],
            }],
          },
        });
      }
    }

    const tuning = gatewayTuningSpec(plan.selector, plan.routes.map((r) => ({ routeName: edgeRouteName(plan, ns, r), rateLimit: r.rateLimit, idleTimeout: r.idleTimeout })));
    if (tuning) new EnvoyFilter(this, 'GatewayTuning', { metadata: this.metadata(`${plan.name}-${ns}-routes`, plan.gatewayNamespace), spec: tuning });
  }

  private claimHosts(hosts: readonly string[]): string[] {
    const root = this.node.root;
    let claimed = hostsByRoot.get(root);
    if (!claimed) hostsByRoot.set(root, (claimed = []));
    const problems: string[] = [];
    hosts.forEach((h, i) => {
      const other = claimed!.find((c) => hostsOverlap(c.host, h));
      if (other) problems.push(`hosts[${i}] ("${h}") overlaps "${other.host}" of the AgentGateway ${other.path}: serve each host from one gateway`);
    });
    if (problems.length === 0) for (const h of hosts) claimed.push({ host: h, path: this.node.path });
    return problems;
  }

  private metadata(name: string, namespace: string, labels: Record<string, string> = {}): ApiObjectMetadata {
    return { name, namespace, labels: sortKeys({ ...labels, 'app.kubernetes.io/managed-by': MANAGED_BY }) };
  }

  private warn(message: string) {
    this.warnings.push(message);
    this.node.addMetadata('warning', message);
    process.stderr.write(`[WARNING] ${this.node.path}: ${message}\n`);
  }
}

/**
 * A RequestAuthentication with Istio's documented `jwksUri`: the CRD has both `jwksUri` and the
 * legacy `jwks_uri`, and the generated binding (which merged them) writes the legacy one.
 */
function requestAuthentication(scope: Construct, id: string, metadata: ApiObjectMetadata, spec: RequestAuthenticationSpec): ApiObject {
  const json = toJson_RequestAuthenticationSpec(spec)!;
  const jwtRules = (json.jwtRules as Array<Record<string, unknown>>).map(({ jwks_uri: jwksUri, ...rule }) => ({ ...rule, jwksUri }));
  return new ApiObject(scope, id, { ...RequestAuthentication.GVK, metadata, spec: { ...json, jwtRules } });
}

// Keep the documented interfaces and the zod schema in step at compile time.
type Assert<T extends true> = T;
type EdgeProps = Omit<AgentGatewayProps, 'mesh' | 'routes'> & { routes: Array<Omit<AgentGatewayRoute, 'agent'>> };
export type _EdgePropsMatchSchema = Assert<EdgeProps extends EdgeOptionsInput ? true : false>;
export type _EdgeSchemaMatchesProps = Assert<Required<EdgeOptionsInput> extends Required<{ [K in keyof EdgeProps]: unknown }> ? true : false>;
