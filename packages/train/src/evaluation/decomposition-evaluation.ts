import { klDivergenceScore, type KlDivergences } from './kl-divergence.js';
import type { LossRecovery, SplicedLosses } from './loss-recovery.js';
import type { ReconstructionMetrics } from './reconstruction-totals.js';

/**
 * What evaluating a decomposition at a hook gives, under the names the
 * logger and the results report use: `performance/*` as the reference's
 * `log_model_performance` (plus the four raw losses), the activation metrics
 * as @nnd/results' metric definitions.
 */
export interface DecompositionEvaluation {
  /** original − reconstructed loss (negative when splicing hurts). */
  readonly 'performance/ce_degradation': number;
  /** (reconstructed − zero-ablation) / (original − zero-ablation). */
  readonly 'performance/recovery_from_zero': number;
  /** (reconstructed − mean-ablation) / (original − mean-ablation). */
  readonly 'performance/recovery_from_mean': number;
  /** Mean next-token cross-entropy (nats) of the unchanged model. */
  readonly 'performance/original_loss': number;
  readonly 'performance/reconstructed_loss': number;
  readonly 'performance/zero_ablation_loss': number;
  readonly 'performance/mean_ablation_loss': number;
  /** SAELens's `kl_div_score`: (KL_zero-ablation − KL_spliced) / KL_zero-ablation; 1 when splicing leaves every next-token distribution as it was. */
  readonly 'performance/kl_div_score': number;
  /** Mean over positions of KL(clean ‖ spliced) next-token distributions, nats (SAELens's `kl_div_with_sae`). */
  readonly 'performance/reconstructed_kl_div': number;
  /** The same with the written hooks zero-ablated (SAELens's `kl_div_with_ablation`). */
  readonly 'performance/zero_ablation_kl_div': number;
  /** 1 − Σ‖x − x̂‖² / Σ‖x − mean(x)‖² over the evaluated positions. */
  readonly explained_variance: number;
  /** Σ‖x − x̂‖² / Σ‖x‖². */
  readonly normalized_mse: number;
  /** Mean over positions and elements of (x − x̂)², the target's units squared. */
  readonly mse: number;
  /** Fraction of variance unexplained, Σ‖x − x̂‖² / Σ‖x − mean(x)‖² = 1 − explained_variance (sparsify's FVU). */
  readonly fvu: number;
  /** Mean number of features > 0 per evaluated position. */
  readonly l0_norm: number;
  readonly dead_fraction: number;
  /** Fraction of features firing on more than 10% of the evaluated positions. */
  readonly dense_fraction: number;
  /** Per feature, log10(firing count / evaluated positions); null for features that never fired. */
  readonly feature_density_log10: (number | null)[];
  /** Per feature, the sum of its activations over the evaluated positions: only with the evaluator's featureActivationSums option. */
  readonly feature_activation_sums?: number[];
  /** For a decomposition that writes several hooks (a CLT's layers): explained variance and MSE of each written hook. */
  readonly per_hook?: Readonly<Record<string, { readonly explained_variance: number; readonly mse: number }>>;
  /** Fraction of positions (all of them) where the spliced model's most likely next token is the original model's. */
  readonly top1_agreement: number;
  /** Positions the activation metrics cover (all positions, or all but BOS). */
  readonly evaluated_tokens: number;
  readonly evaluated_batches: number;
}

/** The scalars the trainer's evaluation callback logs: the reference's three, then the losses they come from. */
export const PERFORMANCE_METRIC_NAMES = [
  'performance/ce_degradation',
  'performance/recovery_from_zero',
  'performance/recovery_from_mean',
  'performance/original_loss',
  'performance/reconstructed_loss',
  'performance/zero_ablation_loss',
  'performance/mean_ablation_loss',
  'performance/kl_div_score',
  'performance/reconstructed_kl_div',
  'performance/zero_ablation_kl_div',
] as const satisfies readonly (keyof DecompositionEvaluation)[];

export function decompositionEvaluation(
  losses: SplicedLosses,
  recovery: LossRecovery,
  reconstruction: ReconstructionMetrics,
  evaluatedBatches: number,
  top1Agreement: number,
  perHook: DecompositionEvaluation['per_hook'],
  kl: KlDivergences,
): DecompositionEvaluation {
  return {
    'performance/ce_degradation': recovery.ceDegradation,
    'performance/recovery_from_zero': recovery.recoveryFromZero,
    'performance/recovery_from_mean': recovery.recoveryFromMean,
    'performance/original_loss': losses.original,
    'performance/reconstructed_loss': losses.reconstructed,
    'performance/zero_ablation_loss': losses.zeroAblation,
    'performance/mean_ablation_loss': losses.meanAblation,
    'performance/kl_div_score': klDivergenceScore(kl),
    'performance/reconstructed_kl_div': kl.reconstructed,
    'performance/zero_ablation_kl_div': kl.zeroAblation,
    explained_variance: reconstruction.explainedVariance,
    normalized_mse: reconstruction.normalizedMse,
    mse: reconstruction.mse,
    fvu: 1 - reconstruction.explainedVariance,
    l0_norm: reconstruction.l0Norm,
    dead_fraction: reconstruction.deadFraction,
    dense_fraction: reconstruction.denseFraction,
    feature_density_log10: reconstruction.featureDensityLog10,
    ...(reconstruction.featureActivationSums === undefined ? {} : { feature_activation_sums: reconstruction.featureActivationSums }),
    evaluated_tokens: reconstruction.evaluatedTokens,
    evaluated_batches: evaluatedBatches,
    top1_agreement: top1Agreement,
    ...(perHook === undefined ? {} : { per_hook: perHook }),
  };
}

/**
 * The `performance/*` scalars to log; with `index` (group training) each
 * name gets the suffix `_{index}`, as the trainer's and the reference's
 * group metrics do.
 */
export function performanceMetrics(evaluation: DecompositionEvaluation, index?: number): Record<string, number> {
  const suffix = index === undefined ? '' : `_${index}`;
  return Object.fromEntries(PERFORMANCE_METRIC_NAMES.map((name) => [`${name}${suffix}`, evaluation[name]]));
}
