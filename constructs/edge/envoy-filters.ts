/**
 * EnvoyFilter specs for local rate limits and per-route idle timeouts: Istio's documented way to
 * use Envoy's `local_ratelimit` filter (Istio has no first-class API for it). Pure builders.
 */
import {
  EnvoyFilterSpec,
  EnvoyFilterSpecConfigPatches,
  EnvoyFilterSpecConfigPatchesApplyTo,
  EnvoyFilterSpecConfigPatchesMatchContext,
  EnvoyFilterSpecConfigPatchesPatchOperation,
} from '../../imports/istio-networking.istio.io';
import { RATE_LIMIT_HEADER, RATE_LIMIT_STAT_PREFIX, TokenBucket } from './rate-limit';

const FILTER = 'envoy.filters.http.local_ratelimit';
const HCM = 'envoy.filters.network.http_connection_manager';
const TYPE_URL = 'type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit';
const TYPED_STRUCT = 'type.googleapis.com/udpa.type.v1.TypedStruct';

const ALL = { numerator: 100, denominator: 'HUNDRED' };

/** The filter's config: enforce the bucket on every request, mark limited responses with a header. */
function limitConfig(bucket: TokenBucket | undefined): Record<string, unknown> {
  const value: Record<string, unknown> = { stat_prefix: RATE_LIMIT_STAT_PREFIX };
  if (bucket) {
    value.token_bucket = { max_tokens: bucket.maxTokens, tokens_per_fill: bucket.tokensPerFill, fill_interval: bucket.fillInterval };
    value.filter_enabled = { runtime_key: 'local_rate_limit_enabled', default_value: ALL };
    value.filter_enforced = { runtime_key: 'local_rate_limit_enforced', default_value: ALL };
    value.response_headers_to_add = [{ append_action: 'OVERWRITE_IF_EXISTS_OR_ADD', header: { key: RATE_LIMIT_HEADER, value: 'true' } }];
  }
  return { '@type': TYPED_STRUCT, type_url: TYPE_URL, value };
}

/**
 * A bucket on every request an agent's pod receives on its serving port (SIDECAR_INBOUND): each
 * replica admits `tokensPerFill` per `fillInterval`, answering 429 beyond it.
 */
export function agentRateLimitSpec(selectorLabels: Readonly<Record<string, string>>, port: number, bucket: TokenBucket): EnvoyFilterSpec {
  return {
    workloadSelector: { labels: { ...selectorLabels } },
    configPatches: [{
      applyTo: EnvoyFilterSpecConfigPatchesApplyTo.HTTP_UNDERSCORE_FILTER,
      match: {
        context: EnvoyFilterSpecConfigPatchesMatchContext.SIDECAR_UNDERSCORE_INBOUND,
        // Only the serving port: the sidecar's metrics port (Prometheus, probes) is not limited.
        listener: { portNumber: port, filterChain: { filter: { name: HCM } } },
      },
      patch: { operation: EnvoyFilterSpecConfigPatchesPatchOperation.INSERT_UNDERSCORE_BEFORE, value: { name: FILTER, typed_config: limitConfig(bucket) } },
    }],
  };
}

/** What the gateway needs per route: its Envoy route name and the route's bucket and idle timeout. */
export interface GatewayRouteTuning {
  readonly routeName: string;
  readonly rateLimit?: TokenBucket;
  readonly idleTimeout?: string;
}

/**
 * The gateway's filter (inert without a per-route config, so other hosts on a shared gateway are
 * not limited) plus one HTTP_ROUTE patch per tuned route of ours, matched by route name.
 */
export function gatewayTuningSpec(selector: Readonly<Record<string, string>>, routes: readonly GatewayRouteTuning[]): EnvoyFilterSpec | undefined {
  const tuned = routes.filter((r) => r.rateLimit || r.idleTimeout);
  if (tuned.length === 0) return undefined;
  const patches: EnvoyFilterSpecConfigPatches[] = [];
  if (tuned.some((r) => r.rateLimit)) {
    patches.push({
      applyTo: EnvoyFilterSpecConfigPatchesApplyTo.HTTP_UNDERSCORE_FILTER,
      match: {
        context: EnvoyFilterSpecConfigPatchesMatchContext.GATEWAY,
        listener: { filterChain: { filter: { name: HCM, subFilter: { name: 'envoy.filters.http.router' } } } },
      },
      patch: { operation: EnvoyFilterSpecConfigPatchesPatchOperation.INSERT_UNDERSCORE_BEFORE, value: { name: FILTER, typed_config: limitConfig(undefined) } },
    });
  }
  for (const r of tuned) {
    const value: Record<string, unknown> = {};
    if (r.rateLimit) value.typed_per_filter_config = { [FILTER]: limitConfig(r.rateLimit) };
    // Route-level stream idle timeout: streamed model output may pause longer than Envoy's 5 min default.
    if (r.idleTimeout) value.route = { idle_timeout: r.idleTimeout };
    patches.push({
      applyTo: EnvoyFilterSpecConfigPatchesApplyTo.HTTP_UNDERSCORE_ROUTE,
      match: { context: EnvoyFilterSpecConfigPatchesMatchContext.GATEWAY, routeConfiguration: { vhost: { route: { name: r.routeName } } } },
      patch: { operation: EnvoyFilterSpecConfigPatchesPatchOperation.MERGE, value },
    });
  }
  return { workloadSelector: { labels: { ...selector } }, configPatches: patches };
}
