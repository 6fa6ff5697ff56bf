/**
 * Per-agent budgets over a sliding minute: model calls started and tokens used. A call is refused
 * (429 + Retry-After) before it reaches the provider when either budget is already spent.
 * Tokens are charged when the response reports them, so one call may overshoot the token budget
 * by its own size; the next call waits.
 */
const SLOTS = 60;

class MinuteWindow {
  private readonly counts = new Float64Array(SLOTS);
  private readonly stamps = new Float64Array(SLOTS);
  add(nowMs: number, n: number): void {
    const sec = Math.floor(nowMs / 1000);
    const i = sec % SLOTS;
    if (this.stamps[i] !== sec) {
      this.stamps[i] = sec;
      this.counts[i] = 0;
    }
    this.counts[i] += n;
  }
  /** Total over the last 60 whole seconds (the current one included). */
  total(nowMs: number): number {
    const sec = Math.floor(nowMs / 1000);
    let t = 0;
    for (let i = 0; i < SLOTS; i++) if (sec - this.stamps[i] < SLOTS) t += this.counts[i];
    return t;
  }
  /** Seconds until the total drops below `limit` (at least 1). */
  secondsUntilBelow(nowMs: number, limit: number): number {
    const sec = Math.floor(nowMs / 1000);
    let t = this.total(nowMs);
    for (let age = SLOTS - 1; age >= 0; age--) {
      const i = (((sec - age) % SLOTS) + SLOTS) % SLOTS;
      if (this.stamps[i] === sec - age) t -= this.counts[i];
      if (t < limit) return SLOTS - age;
    }
    return SLOTS;
  }
}

export type BudgetVerdict = { ok: true } | { ok: false; budget: 'tokens' | 'requests'; retryAfterSeconds: number };

export class Budget {
  private readonly requests = new MinuteWindow();
  private readonly tokens = new MinuteWindow();
  readonly rejected = { tokens: 0, requests: 0 };

  constructor(
    readonly maxTokensPerMinute: number,
    readonly maxRequestsPerMinute: number,
  ) {}

  /** Checks both budgets and, when the call may go, counts it as started. */
  admit(nowMs = Date.now()): BudgetVerdict {
    if (this.maxTokensPerMinute > 0 && this.tokens.total(nowMs) >= this.maxTokensPerMinute) {
      this.rejected.tokens++;
      return { ok: false, budget: 'tokens', retryAfterSeconds: this.tokens.secondsUntilBelow(nowMs, this.maxTokensPerMinute) };
    }
    if (this.maxRequestsPerMinute > 0 && this.requests.total(nowMs) >= this.maxRequestsPerMinute) {
      this.rejected.requests++;
      return { ok: false, budget: 'requests', retryAfterSeconds: this.requests.secondsUntilBelow(nowMs, this.maxRequestsPerMinute) };
    }
    this.requests.add(nowMs, 1);
    return { ok: true };
  }

  charge(tokens: number, nowMs = Date.now()): void {
    if (tokens > 0) this.tokens.add(nowMs, tokens);
  }

  tokensLastMinute(nowMs = Date.now()): number {
    return this.tokens.total(nowMs);
  }
}
