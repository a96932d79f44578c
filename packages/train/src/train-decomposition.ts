import type { Decomposition, HostTensor } from '@nnd/core';
import type { ActivationSource } from './activation-source.js';
import type { TrainConfigInput } from './train-config.js';
import { runTraining, type GroupTrainResult, type TrainOptions } from './training-loop.js';

export interface TrainResult {
  readonly status: 'completed' | 'interrupted';
  /** Optimizer steps completed, counting those before a resume. */
  readonly step: number;
  /** The newest checkpoint this run wrote, if any. */
  readonly checkpoint: string | undefined;
  /** The trained parameters and state (host copies). */
  readonly params: Record<string, HostTensor>;
  readonly state: Record<string, HostTensor>;
  /** The last step's metrics (`loss`, `l2_loss`, ...). */
  readonly metrics: Readonly<Record<string, number>> | undefined;
}

/**
 * Trains one decomposition for `num_tokens / batch_size` steps; each step is
 * one compiled program (forward, gradients, clipping, constraint, Adam, state,
 * metrics) whose state stays on the backend's device between steps.
 */
export async function trainDecomposition<D extends Decomposition>(decomposition: D, source: ActivationSource, config: TrainConfigInput, options: TrainOptions<D>): Promise<TrainResult> {
  const result = await runTraining('trainDecomposition', [decomposition], source, [config], options, false);
  const [trained] = result.members;
  return { status: result.status, step: result.step, checkpoint: result.checkpoint, params: trained.params, state: trained.state, metrics: result.metrics };
}

/**
 * Trains several decompositions on the same batches (the seed's
 * `train_sae_group`), each with its own parameters, optimizer and train
 * config, all in one compiled program per step. num_tokens, batch_size and the
 * frequencies must agree across `configs`; metric names get the suffix
 * `_{index}`; checkpoints hold one directory `sae_{index}` per member (an SAELens directory for SAEs).
 */
export async function trainDecompositionGroup<D extends Decomposition>(
  decompositions: readonly D[],
  source: ActivationSource,
  configs: readonly TrainConfigInput[],
  options: TrainOptions<D>,
): Promise<GroupTrainResult> {
  return runTraining('trainDecompositionGroup', decompositions, source, configs, options, true);
}
