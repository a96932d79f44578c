export interface BackoffOptions {
  /** First wait after a failure (default 1 s). */
  initialDelayMs?: number;
  /** Longest wait (default 60 s). */
  maxDelayMs?: number;
}

/**
 * Exponential backoff: waits double from `initialDelayMs` up to `maxDelayMs`,
 * each with up to 25% random jitter so that many runs losing the same server
 * do not retry in lockstep.
 */
export class ExponentialBackoff {
  private readonly initialDelayMs: number;
  private readonly maxDelayMs: number;
  private failures = 0;

  constructor(options: BackoffOptions = {}) {
    this.initialDelayMs = options.initialDelayMs ?? 1_000;
    this.maxDelayMs = options.maxDelayMs ?? 60_000;
  }

  /** The wait before the next try, counting one more failure. */
  nextDelayMs(): number {
    const base = Math.min(this.maxDelayMs, this.initialDelayMs * 2 ** Math.min(this.failures, 30));
    this.failures += 1;
    return Math.min(this.maxDelayMs, base * (1 + Math.random() * 0.25));
  }

  reset(): void {
    this.failures = 0;
  }
}

/**
 * A sleep that `wake()` ends early. Its timer is unref'd: a background
 * uploader waiting to retry never keeps the process alive on its own.
 */
export class WakeableSleep {
  private pending: { timer: NodeJS.Timeout | undefined; resolve: () => void } | undefined;

  /** Sleeps `ms` (forever when `Infinity`, until `wake`). */
  sleep(ms: number): Promise<void> {
    this.wake();
    return new Promise((resolve) => {
      const timer = Number.isFinite(ms) ? setTimeout(() => this.wake(), Math.max(0, ms)) : undefined;
      timer?.unref();
      this.pending = { timer, resolve };
    });
  }

  get sleeping(): boolean {
    return this.pending !== undefined;
  }

  wake(): void {
    const pending = this.pending;
    if (pending === undefined) return;
    this.pending = undefined;
    if (pending.timer !== undefined) clearTimeout(pending.timer);
    pending.resolve();
  }
}
