/**
 * Concurrency limit with a bounded FIFO queue (the hard per-pod limit the mesh's connection pool
 * cannot give: Envoy's pool is per caller pod, this is per agent pod).
 *
 * At most `maxConcurrency` holders run at once; later callers wait in arrival order, at most
 * `maxQueue` of them and at most `queueTimeoutMs` each. Callbacks, not promises: the uncontended
 * path costs two integer updates and no allocation beyond the ticket.
 */

/** Why a caller was not admitted. */
export type RejectReason = 'queue_full' | 'queue_timeout';

interface Waiter {
  granted: () => void;
  rejected: (reason: RejectReason) => void;
  timer: NodeJS.Timeout | undefined;
  done: boolean;
}

export interface BreakerOptions {
  /** Most holders at once; 0 means no limit (the queue is then never used). */
  readonly maxConcurrency: number;
  /** Most callers waiting; beyond it they are rejected with `queue_full` at once. */
  readonly maxQueue: number;
  /** Longest wait in the queue before `queue_timeout`. */
  readonly queueTimeoutMs: number;
}

export class Breaker {
  private active = 0;
  /** Waiters in arrival order; cancelled ones are skipped lazily (`done`). */
  private queue: Waiter[] = [];
  private head = 0;
  private waiting = 0;

  constructor(private readonly opts: BreakerOptions) {}

  /** Holders running now. */
  get inUse(): number {
    return this.active;
  }

  /** Callers waiting now. */
  get queued(): number {
    return this.waiting;
  }

  get capacity(): number {
    return this.opts.maxConcurrency;
  }

  /**
   * Asks for a slot. `granted` runs (synchronously when a slot is free) once admitted; the holder
   * must then call `release()` exactly once. `rejected` runs instead when the queue is full or the
   * wait times out. Returns a cancel function for a caller that goes away while queued (it is a
   * no-op once granted or rejected).
   */
  acquire(granted: () => void, rejected: (reason: RejectReason) => void): () => void {
    const max = this.opts.maxConcurrency;
    if (max === 0 || (this.active < max && this.waiting === 0)) {
      this.active++;
      granted();
      return noop;
    }
    if (this.waiting >= this.opts.maxQueue) {
      rejected('queue_full');
      return noop;
    }
    const w: Waiter = { granted, rejected, timer: undefined, done: false };
    w.timer = setTimeout(() => {
      if (w.done) return;
      w.done = true;
      this.waiting--;
      this.sweep();
      rejected('queue_timeout');
    }, this.opts.queueTimeoutMs);
    this.queue.push(w);
    this.waiting++;
    return () => {
      if (w.done) return;
      w.done = true;
      clearTimeout(w.timer);
      this.waiting--;
      this.sweep();
    };
  }

  /** While no slot frees up, timed-out and cancelled entries must not pile up: drop them. */
  private sweep(): void {
    if (this.queue.length - this.head > 2 * this.opts.maxQueue + 64) {
      this.queue = this.queue.slice(this.head).filter((w) => !w.done);
      this.head = 0;
    }
  }

  /** Gives a slot back; the oldest live waiter, if any, gets it. */
  release(): void {
    this.active--;
    while (this.head < this.queue.length) {
      const w = this.queue[this.head++];
      if (w.done) continue;
      w.done = true;
      clearTimeout(w.timer);
      this.waiting--;
      this.active++;
      this.compact();
      w.granted();
      return;
    }
    this.compact();
  }

  /** Drops consumed entries so the array does not grow with the number of requests ever queued. */
  private compact(): void {
    if (this.head === this.queue.length) {
      this.queue = [];
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
  }
}

function noop(): void {
  /* nothing to cancel */
}
