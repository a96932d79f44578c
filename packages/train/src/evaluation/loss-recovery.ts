/** The model's mean next-token cross-entropy (nats) over the evaluated batches, under each intervention at the hook. */
export interface SplicedLosses {
  /** The model as it is. */
  readonly original: number;
  /** The decomposition's reconstruction spliced in at the hook. */
  readonly reconstructed: number;
  /** The hook's value replaced by zeros. */
  readonly zeroAblation: number;
  /** The hook's value replaced by its mean over batch and positions. */
  readonly meanAblation: number;
}

export interface LossRecovery {
  /** original − reconstructed: negative when splicing hurts (the reference's sign). */
  readonly ceDegradation: number;
  /** (reconstructed − zero) / (original − zero): 1 when splicing costs nothing, 0 when it is as bad as zero-ablation. */
  readonly recoveryFromZero: number;
  /** (reconstructed − mean) / (original − mean), the same with mean-ablation as the baseline. */
  readonly recoveryFromMean: number;
}

/**
 * The reference's `log_model_performance` formulas. A zero denominator (an
 * ablation that does not change the loss) gives ±Infinity or NaN, as it does
 * there; the raw losses stay available to tell why.
 */
export function lossRecovery(losses: SplicedLosses): LossRecovery {
  const { original, reconstructed, zeroAblation, meanAblation } = losses;
  return {
    ceDegradation: original - reconstructed,
    recoveryFromZero: (reconstructed - zeroAblation) / (original - zeroAblation),
    recoveryFromMean: (reconstructed - meanAblation) / (original - meanAblation),
  };
}
