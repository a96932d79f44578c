import { cast, gather, greater, matmul, mul, reduceMax, reduceMean, scatterElements, sub, topk, where, zeros, type Tensor } from '@nnd/core';

export interface AuxiliaryLossInputs {
  /** relu'd pre-activations, [batch, dict_size] (before top-k). */
  readonly preactivations: Tensor;
  /** bool [dict_size], counter >= n_batches_to_dead (after this batch's update). */
  readonly dead: Tensor;
  /** x - reconstruction in the normalised space; not detached, as in the reference. */
  readonly residual: Tensor;
  readonly wDec: Tensor;
  readonly topKAux: number;
  readonly auxPenalty: number;
}

/**
 * The reference's auxiliary loss on dead features, as one static graph:
 * per sample, the min(top_k_aux, #dead) largest pre-activations among dead
 * features reconstruct the residual through W_dec (no b_dec);
 * aux = aux_penalty * mean((recon_aux - residual)^2), or 0 when no feature is dead.
 *
 * The data-dependent selection acts[:, dead] becomes a mask: non-dead
 * features get -1 (below every relu'd value) before a top-k of the static
 * size min(top_k_aux, dict_size), and kept entries that are not dead are
 * zeroed afterwards, which leaves exactly min(top_k_aux, #dead) per sample.
 */
export function auxiliaryLoss(inputs: AuxiliaryLossInputs): Tensor {
  const { preactivations, dead, residual, wDec } = inputs;
  const dictSize = preactivations.shape[1] as number;
  const k = Math.min(inputs.topKAux, dictSize);
  const masked = where(dead, preactivations, -1);
  const { values, indices } = topk(masked, k, { axis: -1 });
  const keptValues = where(gather(dead, indices, 0), values, 0);
  const auxActs = scatterElements(zeros(values.graph, preactivations.shape, values.dtype), indices, keptValues, 1);
  const error = sub(matmul(auxActs, wDec), residual);
  const loss = mul(reduceMean(mul(error, error)), inputs.auxPenalty);
  const anyDead = greater(reduceMax(cast(dead, values.dtype)), 0);
  return where(anyDead, loss, 0);
}
