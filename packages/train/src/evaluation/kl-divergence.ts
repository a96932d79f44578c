import { exp, logSoftmax, mul, reduceSum, sub, type Tensor } from '@nnd/core';

/**
 * The clean model's next-token distribution at every position, in the two
 * forms the KL divergence needs: log-probabilities and probabilities.
 */
export interface CleanDistribution {
  readonly logProbabilities: Tensor;
  readonly probabilities: Tensor;
}

export function cleanDistribution(cleanLogits: Tensor): CleanDistribution {
  const logProbabilities = logSoftmax(cleanLogits, -1);
  return { logProbabilities, probabilities: exp(logProbabilities) };
}

/**
 * Σ over positions of KL(P_clean ‖ P_other) = Σ_v p_clean (log p_clean − log p_other),
 * in nats: SAELens's `kl` in evals.py (original distribution first), summed
 * rather than averaged, so that batches of any size add up.
 */
export function klDivergenceSum(clean: CleanDistribution, otherLogits: Tensor): Tensor {
  return reduceSum(mul(clean.probabilities, sub(clean.logProbabilities, logSoftmax(otherLogits, -1))));
}

/** The mean KL divergence per position from the clean model, with the decomposition spliced in and with the hooks zero-ablated. */
export interface KlDivergences {
  readonly reconstructed: number;
  readonly zeroAblation: number;
}

/**
 * SAELens's `kl_div_score`: (KL_ablation − KL_spliced) / KL_ablation, the
 * share of the zero-ablation's KL divergence that splicing the
 * decomposition in removes (1 when splicing changes no prediction's
 * distribution, 0 when it is as bad as zero-ablation). A zero denominator
 * gives ±Infinity or NaN, as the CE recoveries do.
 */
export function klDivergenceScore({ reconstructed, zeroAblation }: KlDivergences): number {
  return (zeroAblation - reconstructed) / zeroAblation;
}
