import { LoggingError } from './errors/index.js';

/** One step's scalar metrics, keyed by the reference's names (`loss`, `l0_norm`, `performance/ce_degradation`, ...). */
export type Metrics = Record<string, number>;

/**
 * The trainer's configuration, as plain JSON. The loggers read only these
 * fields, each optional: `name`, `wandb`, `wandb_project`, `wandb_entity`,
 * `num_tokens`, `batch_size`, and the fields of `runName`.
 */
export type RunConfig = Record<string, unknown>;

/** Final values of a run (JSON values); metrics logged last are merged under it. */
export type Summary = Record<string, unknown>;

export interface InitOptions {
  /** Steps the run will take in all; the progress bar's end. Defaults to `floor(num_tokens / batch_size)` as the reference computes it. */
  totalSteps?: number;
}

/**
 * What the trainer talks to. Every sink (console, run directory, W&B) is a
 * Logger, and `composeLoggers` makes one Logger of several, so training code
 * logs each step once.
 */
export interface Logger {
  /** Opens the run. Resolves once local state is ready; never waits for the network. */
  init(config: RunConfig, options?: InitOptions): Promise<void>;
  /** Records one step. Synchronous and cheap: nothing here waits for the network. */
  log(metrics: Metrics, step: number): void;
  /** Records a named group of files (a checkpoint). Paths are read by sinks that upload them, possibly later. */
  artifact(name: string, files: readonly string[], metadata?: Record<string, unknown>): void;
  /** Closes the run, writing `summary` (merged over the last value of each metric). */
  finish(summary?: Summary): Promise<void>;
}

/** Calls every sink in order. `finish` finishes all of them even when one fails, then rethrows the first failure. */
export function composeLoggers(...sinks: Logger[]): Logger {
  return {
    async init(config, options) {
      // In order: the run directory sink comes first in createLogger so that it exists before W&B reads it.
      for (const sink of sinks) await sink.init(config, options);
    },
    log(metrics, step) {
      for (const sink of sinks) sink.log(metrics, step);
    },
    artifact(name, files, metadata) {
      for (const sink of sinks) sink.artifact(name, files, metadata);
    },
    async finish(summary) {
      const results = await Promise.allSettled(sinks.map((sink) => sink.finish(summary)));
      const failure = results.find((result): result is PromiseRejectedResult => result.status === 'rejected');
      if (failure !== undefined) throw failure.reason;
    },
  };
}

/** Names that the run directory's rows use for themselves, so a metric may not take them. */
const RESERVED_METRIC_NAMES = new Set(['step', 'time']);

/** Checks one `log` call; every sink runs it so that a bad call fails the same way whichever sinks are on. */
export function checkLogCall(metrics: Metrics, step: number): void {
  if (!Number.isSafeInteger(step) || step < 0) {
    throw new LoggingError(`log: step must be a non-negative integer, got ${String(step)}`);
  }
  if (typeof metrics !== 'object' || metrics === null) {
    throw new LoggingError(`log: metrics must be an object of numbers, got ${String(metrics)}`);
  }
  for (const [name, value] of Object.entries(metrics)) {
    if (typeof value !== 'number') {
      throw new LoggingError(`log: metric '${name}' at step ${step} must be a number, got ${typeof value}`);
    }
    if (RESERVED_METRIC_NAMES.has(name)) {
      throw new LoggingError(`log: '${name}' is reserved for the row itself in metrics.jsonl; rename the metric`);
    }
  }
}

/** The progress bar's end: the explicit option, else the reference's `num_tokens // batch_size`, else unknown. */
export function totalStepsOf(config: RunConfig, options: InitOptions = {}): number | undefined {
  if (options.totalSteps !== undefined) {
    if (!Number.isSafeInteger(options.totalSteps) || options.totalSteps < 0) {
      throw new LoggingError(`init: totalSteps must be a non-negative integer, got ${String(options.totalSteps)}`);
    }
    return options.totalSteps;
  }
  const tokens = config.num_tokens;
  const batchSize = config.batch_size;
  if (typeof tokens === 'number' && typeof batchSize === 'number' && batchSize > 0) return Math.floor(tokens / batchSize);
  return undefined;
}
