/**
 * Metrics of model calls through the gateway, with OpenTelemetry GenAI names and attributes:
 * gen_ai_client_operation_duration_seconds and gen_ai_client_token_usage (shared with the
 * records agents report, told apart by gen_ai_provider_name), time to first chunk and time per
 * output chunk for streams, plus cache, budget, retry and missing-usage counters.
 *
 * Models come from requests and responses, so they are capped like every other label
 * (--max-label-values per label, --max-series combinations; later ones become `other`).
 */
import type { Registry } from 'prom-client';
import { BoundedLabel } from '../labels';
import { CHUNK_BUCKETS_SECONDS, DURATION_BUCKETS_SECONDS, FOLDED_LABEL_VALUE, LABELS, METRICS, TOKEN_BUCKETS, TTFC_BUCKETS_SECONDS } from '../contract';
import { HistogramState, Labels, MetricValue, registerCollected, SidecarMetrics } from '../metrics';
import type { Budget } from './budget';

/** One model call as the gateway saw it. */
export interface CallObservation {
  provider: string;
  operation: string;
  requestModel?: string;
  responseModel?: string;
  /** '' on success; else the HTTP status, `timeout`, `reset`, `tls`, `unreachable`, ... */
  errorType: string;
  durationSeconds: number;
  inputTokens?: number;
  outputTokens?: number;
}

class CallSeries {
  readonly duration = new HistogramState(DURATION_BUCKETS_SECONDS);
  readonly input = new HistogramState(TOKEN_BUCKETS);
  readonly output = new HistogramState(TOKEN_BUCKETS);
  readonly ttfc = new HistogramState(TTFC_BUCKETS_SECONDS);
  readonly perChunk = new HistogramState(CHUNK_BUCKETS_SECONDS);
  constructor(readonly labels: Labels) {}
}

const inc = (m: Map<string, number>, k: string, n = 1) => m.set(k, (m.get(k) ?? 0) + n);

export class GatewayMetrics {
  private readonly series = new Map<string, CallSeries>();
  private readonly requestModels: BoundedLabel;
  private readonly responseModels: BoundedLabel;
  private readonly errorTypes: BoundedLabel;
  /** provider \u0001 hit|miss */
  readonly cache = new Map<string, number>();
  /** provider \u0001 input|output */
  readonly savedTokens = new Map<string, number>();
  /** provider \u0001 reason */
  readonly retries = new Map<string, number>();
  /** provider \u0001 reason */
  readonly usageMissing = new Map<string, number>();

  /**
   * Request models and error types share the caps (and folded counters) of the agent-reported
   * records; response models get their own cap.
   */
  constructor(
    private readonly agent: string,
    requestModels: BoundedLabel,
    errorTypes: BoundedLabel,
    maxLabelValues: number,
    private readonly maxSeries: number,
    private readonly folded: { seriesFolded: number },
  ) {
    this.requestModels = requestModels;
    this.errorTypes = errorTypes;
    this.responseModels = new BoundedLabel('response_model', maxLabelValues);
  }

  /** The series of a call; labels folded under the caps. */
  seriesOf(provider: string, operation: string, requestModel: string | undefined, responseModel: string | undefined, errorType: string): CallSeries {
    const rq = requestModel === undefined ? '' : this.requestModels.resolve(requestModel.slice(0, 128));
    const rs = responseModel === undefined ? '' : this.responseModels.resolve(responseModel.slice(0, 128));
    const e = errorType === '' ? '' : this.errorTypes.resolve(errorType);
    let key = `${provider}\u0001${operation}\u0001${rq}\u0001${rs}\u0001${e}`;
    let s = this.series.get(key);
    if (s) return s;
    let [o, m1, m2, et] = [operation, rq, rs, e];
    if (this.series.size >= this.maxSeries) {
      this.folded.seriesFolded++;
      const f = FOLDED_LABEL_VALUE;
      [o, m1, m2, et] = [f, rq && f, rs && f, e && f];
      key = `${provider}\u0001${o}\u0001${m1}\u0001${m2}\u0001${et}`;
      s = this.series.get(key);
      if (s) return s;
    }
    const labels: Labels = { [LABELS.agentName]: this.agent, [LABELS.operationName]: o, [LABELS.providerName]: provider };
    if (m1) labels[LABELS.requestModel] = m1;
    if (m2) labels[LABELS.responseModel] = m2;
    if (et) labels[LABELS.errorType] = et;
    s = new CallSeries(labels);
    this.series.set(key, s);
    return s;
  }

  observe(c: CallObservation): CallSeries {
    const s = this.seriesOf(c.provider, c.operation, c.requestModel, c.responseModel, c.errorType);
    s.duration.observe(c.durationSeconds);
    if (c.inputTokens !== undefined) s.input.observe(c.inputTokens);
    if (c.outputTokens !== undefined) s.output.observe(c.outputTokens);
    return s;
  }

  cacheLookup(provider: string, hit: boolean): void {
    inc(this.cache, `${provider}\u0001${hit ? 'hit' : 'miss'}`);
  }

  saved(provider: string, input: number | undefined, output: number | undefined): void {
    if (input) inc(this.savedTokens, `${provider}\u0001input`, input);
    if (output) inc(this.savedTokens, `${provider}\u0001output`, output);
  }

  retried(provider: string, reason: string): void {
    inc(this.retries, `${provider}\u0001${reason}`);
  }

  missingUsage(provider: string, reason: string): void {
    inc(this.usageMissing, `${provider}\u0001${reason}`);
  }

  register(registry: Registry, core: SidecarMetrics, budget: Budget): void {
    const hist = (name: string, pick: (s: CallSeries) => HistogramState, extra?: Labels) => () => {
      const out: MetricValue[] = [];
      for (const s of this.series.values()) {
        const h = pick(s);
        if (h.count === 0) continue;
        for (const v of h.values(name, extra ? { ...s.labels, ...extra } : s.labels)) out.push(v);
      }
      return out;
    };
    core.extend(METRICS.operationDuration, hist(METRICS.operationDuration, (s) => s.duration));
    core.extend(METRICS.tokenUsage, () => [
      ...hist(METRICS.tokenUsage, (s) => s.input, { [LABELS.tokenType]: 'input' })(),
      ...hist(METRICS.tokenUsage, (s) => s.output, { [LABELS.tokenType]: 'output' })(),
    ]);
    registerCollected(registry, METRICS.timeToFirstChunk, 'Streamed model calls through the gateway: seconds from the request to the first chunk (OpenTelemetry gen_ai.client.operation.time_to_first_chunk).', 'histogram', hist(METRICS.timeToFirstChunk, (s) => s.ttfc));
    registerCollected(registry, METRICS.timePerOutputChunk, 'Streamed model calls through the gateway: seconds between output chunks after the first (OpenTelemetry gen_ai.client.operation.time_per_output_chunk).', 'histogram', hist(METRICS.timePerOutputChunk, (s) => s.perChunk));
    const byProvider = (m: Map<string, number>, second: string) => () =>
      [...m].map(([k, value]) => {
        const [provider, x] = k.split('\u0001');
        return { labels: { [LABELS.agentName]: this.agent, [LABELS.providerName]: provider, [second]: x }, value };
      });
    registerCollected(registry, METRICS.gatewayCacheRequests, 'Gateway response-cache lookups by provider and result (hit|miss).', 'counter', byProvider(this.cache, LABELS.cacheResult));
    registerCollected(registry, METRICS.gatewayCacheSavedTokens, 'Tokens not spent thanks to gateway cache hits, by provider and gen_ai_token_type.', 'counter', byProvider(this.savedTokens, LABELS.tokenType));
    registerCollected(registry, METRICS.gatewayRetries, 'Provider calls retried because the caller asked (x-sidecar-retry), by provider and reason.', 'counter', byProvider(this.retries, LABELS.reason));
    registerCollected(registry, METRICS.gatewayUsageMissing, 'Provider responses whose token usage could not be read, by provider and reason.', 'counter', byProvider(this.usageMissing, LABELS.reason));
    registerCollected(registry, METRICS.gatewayBudgetRejections, 'Model calls answered 429 by the gateway budget before reaching the provider, by budget (tokens|requests).', 'counter', () => [
      { labels: { [LABELS.agentName]: this.agent, [LABELS.budget]: 'tokens' }, value: budget.rejected.tokens },
      { labels: { [LABELS.agentName]: this.agent, [LABELS.budget]: 'requests' }, value: budget.rejected.requests },
    ]);
    registerCollected(registry, METRICS.gatewayTokensLastMinute, 'Tokens (input + output) used by model calls through the gateway in the last 60 s.', 'gauge', () => [
      { labels: { [LABELS.agentName]: this.agent }, value: budget.tokensLastMinute() },
    ]);
    registerCollected(registry, METRICS.gatewayTokenBudget, 'Token budget per minute of this agent (--max-tokens-per-minute); absent when unlimited.', 'gauge', () =>
      budget.maxTokensPerMinute > 0 ? [{ labels: { [LABELS.agentName]: this.agent }, value: budget.maxTokensPerMinute }] : [],
    );
  }
}
