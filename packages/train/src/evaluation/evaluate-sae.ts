import type { Backend, Decomposition, HostTensor } from '@nnd/core';
import type { HookedTransformer } from '@nnd/models';
import type { ReconstructionMode } from './evaluation-graph.js';
import type { SaeEvaluation } from './sae-evaluation.js';
import { SaeEvaluator, type TokenBatches } from './sae-evaluator.js';

export interface EvaluateSaeOptions {
  readonly model: HookedTransformer;
  /** Any decomposition (core's contract); the trained one of @nnd/sae in practice. */
  readonly sae: Decomposition;
  readonly params: Readonly<Record<string, HostTensor>>;
  readonly state: Readonly<Record<string, HostTensor>>;
  readonly hookPoint: string;
  /** Held-out [batch, seq] token batches; every one is evaluated. */
  readonly tokenBatches: TokenBatches;
  /** The model's backend. */
  readonly backend: Backend;
  /** Leave BOS positions out of the activation metrics (default false, as the reference). */
  readonly excludeBos?: boolean;
  /** Default 'forward', as the reference. */
  readonly reconstruction?: ReconstructionMode;
}

/**
 * The reference's "model performance" of a trained SAE at its hook, over
 * all `tokenBatches`: the model's loss as it is, with the SAE's
 * reconstruction spliced in, with the hook zero- and mean-ablated, and what
 * follows from them (`performance/ce_degradation`, `recovery_from_zero`,
 * `recovery_from_mean`), plus the reconstruction metrics and feature
 * densities of the report. One compiled program runs per batch.
 */
export async function evaluateSae(options: EvaluateSaeOptions): Promise<SaeEvaluation> {
  const evaluator = new SaeEvaluator(options);
  try {
    const [evaluation] = await evaluator.evaluate([{ decomposition: options.sae, params: options.params, state: options.state }], options.tokenBatches);
    return evaluation;
  } finally {
    await evaluator.dispose();
  }
}
