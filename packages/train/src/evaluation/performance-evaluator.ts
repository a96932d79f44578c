import type { Backend } from '@nnd/core';
import type { HookedTransformer, TokenInput } from '@nnd/models';
import type { Logger } from '../logger.js';
import type { EvaluateCallback, DecompositionSnapshot } from '../training-loop.js';
import type { ReconstructionMode, SplicedInputs } from './evaluation-graph.js';
import { performanceMetrics, type DecompositionEvaluation } from './decomposition-evaluation.js';
import { DecompositionEvaluator, type TokenBatches } from './decomposition-evaluator.js';

export interface PerformanceEvaluatorOptions {
  readonly model: HookedTransformer;
  /** The model's backend (the trainer's may differ: snapshots are host copies). */
  readonly backend: Backend;
  /**
   * The batches of each evaluation. An array is evaluated every time (a
   * fixed held-out set, so points of the curve compare); a function is called
   * per evaluation, e.g. to draw fresh batches as the reference's
   * `get_batch_tokens()` does.
   */
  readonly tokenBatches: readonly TokenInput[] | ((step: number) => TokenBatches);
  /** Receives the `performance/*` scalars at the evaluated step. */
  readonly logger: Logger;
  /**
   * Suffix names with `_{index}` as group training does. Default: when the
   * trainer hands over more than one decomposition. Pass true for a group of
   * one, so its names match the trainer's `loss_0`.
   */
  readonly grouped?: boolean;
  readonly excludeBos?: boolean;
  readonly reconstruction?: ReconstructionMode;
  readonly splicedInputs?: SplicedInputs;
  /** Every evaluation in full (densities, explained variance), e.g. for a run summary. */
  readonly onEvaluation?: (step: number, evaluations: readonly DecompositionEvaluation[]) => void | Promise<void>;
}

/** An EvaluateCallback that holds compiled programs; `dispose` releases them once training is over. */
export type PerformanceEvaluator = EvaluateCallback & { dispose(): Promise<void> };

/**
 * The trainer's `onEvaluate` (every `perf_log_freq` steps) as the
 * reference's `log_model_performance`: evaluates every decomposition of the
 * snapshot at the hook on the same batches, in one program per batch, and
 * logs `performance/ce_degradation`, `performance/recovery_from_zero`,
 * `performance/recovery_from_mean` and the four losses behind them.
 */
export function createPerformanceEvaluator(options: PerformanceEvaluatorOptions): PerformanceEvaluator {
  const evaluator = new DecompositionEvaluator(options);
  const { tokenBatches, logger } = options;
  const callback = async (step: number, members: readonly DecompositionSnapshot[]): Promise<void> => {
    const batches = typeof tokenBatches === 'function' ? tokenBatches(step) : tokenBatches;
    const evaluations = await evaluator.evaluate(members, batches);
    const grouped = options.grouped ?? members.length > 1;
    const metrics: Record<string, number> = {};
    for (const [position, evaluation] of evaluations.entries()) Object.assign(metrics, performanceMetrics(evaluation, grouped ? members[position].index : undefined));
    await logger.log(metrics, step);
    await options.onEvaluation?.(step, evaluations);
  };
  return Object.assign(callback, { dispose: () => evaluator.dispose() });
}
