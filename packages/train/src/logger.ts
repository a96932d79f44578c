/** How a run ended that the trainer ends itself, by exiting the process on a signal (SIGINT, SIGTERM, SIGHUP). */
export type ExitSummary = {
  /** `interrupted` before the last step; `completed` when the signal came during it; `failed` when training threw after it. */
  readonly status: 'interrupted' | 'completed' | 'failed';
  /** Optimizer steps completed, counting those before a resume. */
  readonly steps: number;
  /** The newest checkpoint this run wrote, or null. */
  readonly checkpoint: string | null;
  /** The error's message, when `status` is `failed`. */
  readonly error?: string;
};

/**
 * Where the trainer sends metrics. Any object with this `log` method works;
 * @nnd/logging's `createLogger()` is one, and its `finish` is the one below.
 */
export interface Logger {
  /** `metrics` maps names (`loss`, `l0_norm`, ... with `_{index}` in group training) to plain numbers. */
  log(metrics: Readonly<Record<string, number>>, step: number): void | Promise<void>;
  /**
   * Awaited only before the trainer exits the process on a signal (`handleSignals`,
   * after the checkpoint is written), because the caller's code after
   * `trainDecomposition` then never runs: flush and close here (a run directory's
   * summary, a W&B upload). A second signal while it runs exits at once. When
   * training returns or throws instead, closing the logger is the caller's job,
   * and the trainer does not call this.
   */
  finish?(summary: ExitSummary): void | Promise<void>;
}

/** The default: metrics are computed (the loss is checked every step) but not recorded. */
export const noopLogger: Logger = { log() {} };

/** One line per logged step, e.g. `step 100 loss=0.0123 l0_norm=32`. */
export function consoleLogger(write: (line: string) => void = (line) => console.log(line)): Logger {
  return {
    log(metrics, step) {
      const fields = Object.entries(metrics).map(([name, value]) => `${name}=${formatMetric(value)}`);
      write(`step ${step} ${fields.join(' ')}`);
    },
  };
}

function formatMetric(value: number): string {
  return Number.isInteger(value) ? String(value) : value.toPrecision(5);
}
