import type { Backend, Decomposition, HostTensor } from '@nnd/core';
import type { HookedTransformer } from '@nnd/models';
import type { ReconstructionMode, SplicedInputs } from './evaluation-graph.js';
import type { DecompositionEvaluation } from './decomposition-evaluation.js';
import { DecompositionEvaluator, type TokenBatches } from './decomposition-evaluator.js';

export interface EvaluateDecompositionOptions {
  readonly model: HookedTransformer;
  /** Any decomposition (core's contract): it is spliced in at the hooks it writes, fed from the hooks it reads. */
  readonly decomposition: Decomposition;
  readonly params: Readonly<Record<string, HostTensor>>;
  readonly state: Readonly<Record<string, HostTensor>>;
  /** Held-out [batch, seq] token batches; every one is evaluated. */
  readonly tokenBatches: TokenBatches;
  /** The model's backend. */
  readonly backend: Backend;
  /** Leave BOS positions out of the activation metrics (default false, as the reference). */
  readonly excludeBos?: boolean;
  /** Default 'forward', as the reference. */
  readonly reconstruction?: ReconstructionMode;
  /** Default 'replacement' (see SplicedInputs). */
  readonly splicedInputs?: SplicedInputs;
}

/**
 * The reference's "model performance" of a trained decomposition, over all
 * `tokenBatches`: the model's loss as it is, with the decomposition's outputs
 * spliced in at the hooks it writes, with those hooks zero- and mean-ablated, and what
 * follows from them (`performance/ce_degradation`, `recovery_from_zero`,
 * `recovery_from_mean`), plus the reconstruction metrics and feature
 * densities of the report. One compiled program runs per batch.
 */
export async function evaluateDecomposition(options: EvaluateDecompositionOptions): Promise<DecompositionEvaluation> {
  const evaluator = new DecompositionEvaluator(options);
  try {
    const [evaluation] = await evaluator.evaluate([{ decomposition: options.decomposition, params: options.params, state: options.state }], options.tokenBatches);
    return evaluation;
  } finally {
    await evaluator.dispose();
  }
}
