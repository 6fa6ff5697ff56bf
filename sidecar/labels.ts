/**
 * Bounded label values. A label keeps its first `maxValues` distinct values; any later value
 * becomes `other`. Combinations of labels are bounded too (`maxSeries`), so a client sending
 * random agent/operation names can grow neither /metrics nor the sidecar's memory.
 */
import { FOLDED_LABEL_VALUE } from './contract';

export class BoundedLabel {
  private readonly seen = new Set<string>();
  /** Values folded into `other` since start. */
  folded = 0;

  constructor(
    readonly name: string,
    private readonly maxValues: number,
  ) {}

  /** The value to export for `value`: itself while under the cap (or already seen), else `other`. */
  resolve(value: string): string {
    if (this.seen.has(value)) return value;
    if (this.seen.size < this.maxValues) {
      this.seen.add(value);
      return value;
    }
    this.folded++;
    return FOLDED_LABEL_VALUE;
  }

  get size(): number {
    return this.seen.size;
  }
}

/** The labels of one execution record after folding. */
export interface LabelTuple {
  readonly agent: string;
  readonly operation: string;
  /** '' when the record has no model. */
  readonly model: string;
  /** '' on success. */
  readonly errorType: string;
}

/** Folds each label, then caps the number of distinct combinations. */
export class LabelLimiter {
  readonly agent: BoundedLabel;
  readonly operation: BoundedLabel;
  readonly model: BoundedLabel;
  readonly errorType: BoundedLabel;
  private readonly tuples = new Set<string>();
  /** Combinations folded because maxSeries or maxLabelBytes was reached. */
  seriesFolded = 0;
  /** Characters of label values over all combinations (what /metrics repeats on every line). */
  labelBytes = 0;

  constructor(
    maxValues: number,
    private readonly maxSeries: number,
    /** Cap on labelBytes: with maxSeries it bounds the size of /metrics. */
    private readonly maxLabelBytes = Infinity,
  ) {
    this.agent = new BoundedLabel('agent', maxValues);
    this.operation = new BoundedLabel('operation', maxValues);
    this.model = new BoundedLabel('model', maxValues);
    this.errorType = new BoundedLabel('error_type', maxValues);
  }

  /**
   * Resolves a record's labels. `accepted` is false when anything was folded: such tuples
   * must not be memoised under their raw key (the raw keys of a flood are unbounded).
   */
  resolve(agent: string, operation: string, model: string, errorType: string): { tuple: LabelTuple; key: string; accepted: boolean } {
    const a = this.agent.resolve(agent);
    const o = this.operation.resolve(operation);
    const m = model === '' ? '' : this.model.resolve(model);
    const e = errorType === '' ? '' : this.errorType.resolve(errorType);
    let key = tupleKey(a, o, m, e);
    let accepted = a === agent && o === operation && m === model && e === errorType;
    if (!this.tuples.has(key)) {
      const bytes = a.length + o.length + m.length + e.length;
      if (this.tuples.size < this.maxSeries && this.labelBytes + bytes <= this.maxLabelBytes) {
        this.tuples.add(key);
        this.labelBytes += bytes;
      } else {
        // Keep the agent (itself bounded) so per-agent totals stay right; fold the rest.
        this.seriesFolded++;
        accepted = false;
        const other = FOLDED_LABEL_VALUE;
        const fm = m === '' ? '' : other;
        const fe = e === '' ? '' : other;
        key = tupleKey(a, other, fm, fe);
        this.tuples.add(key); // at most one extra tuple per agent value and error/model presence
        return { tuple: { agent: a, operation: other, model: fm, errorType: fe }, key, accepted };
      }
    }
    return { tuple: { agent: a, operation: o, model: m, errorType: e }, key, accepted };
  }

  get series(): number {
    return this.tuples.size;
  }
}

export function tupleKey(agent: string, operation: string, model: string, errorType: string): string {
  return `${agent}\u0001${operation}\u0001${model}\u0001${errorType}`;
}
