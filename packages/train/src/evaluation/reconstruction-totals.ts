import { ShapeError } from '@nnd/core';

/**
 * Features firing on more than this fraction of the evaluated tokens count
 * as dense; the results report (`dense_fraction` in @nnd/results'
 * metric definitions) draws the same line.
 */
const DENSE_DENSITY_THRESHOLD = 0.1;

/** Sums over the evaluated positions of one batch, as the evaluation program returns them. */
export interface BatchReconstructionSums {
  /** Positions counted (all, or all but the excluded tokens). */
  readonly count: number;
  /** Σ x over the positions, [act_size]. */
  readonly sum: ArrayLike<number>;
  /** Σ ‖x − mean‖² with this batch's own mean. */
  readonly centeredSquareSum: number;
  /** Σ ‖x‖². */
  readonly squareSum: number;
  /** Σ ‖x − x̂‖². */
  readonly squaredErrorSum: number;
  /** Per feature, the positions where its activation is > 0, [dict_size]. */
  readonly firingCounts: ArrayLike<number>;
  /** Per feature, the sum of its activations, [dict_size]; only when the evaluation asks for them. */
  readonly activationSums?: ArrayLike<number>;
}

export interface ReconstructionMetrics {
  /** 1 − Σ‖x − x̂‖² / Σ‖x − mean(x)‖², mean over all evaluated positions. */
  readonly explainedVariance: number;
  /** Σ‖x − x̂‖² / Σ‖x‖². */
  readonly normalizedMse: number;
  /** Σ‖x − x̂‖² / (positions × width). */
  readonly mse: number;
  /** Mean count of features with activation > 0 per position. */
  readonly l0Norm: number;
  /** Fraction of features that never fired. */
  readonly deadFraction: number;
  /** Fraction of features with density above DENSE_DENSITY_THRESHOLD. */
  readonly denseFraction: number;
  /** Per feature log10(firing count / evaluated positions); null for a feature that never fired. */
  readonly featureDensityLog10: (number | null)[];
  /** Per feature, the sum of its activations over the evaluated positions, when the batches gave them. */
  readonly featureActivationSums?: number[];
  readonly evaluatedTokens: number;
}

/**
 * Accumulates batch sums in float64 across an evaluation. The variance is
 * merged from per-batch centred sums (Chan et al.'s parallel formula) rather
 * than computed as Σ‖x‖² − N‖mean‖², which cancels catastrophically for
 * residual streams whose mean is large next to their spread.
 */
export class ReconstructionTotals {
  private count = 0;
  private mean: Float64Array | undefined;
  private centeredSquareSum = 0;
  private squareSum = 0;
  private squaredErrorSum = 0;
  private firingCounts: Float64Array | undefined;
  private activationSums: Float64Array | undefined;

  add(batch: BatchReconstructionSums): void {
    this.mean ??= new Float64Array(batch.sum.length);
    this.firingCounts ??= new Float64Array(batch.firingCounts.length);
    if (batch.sum.length !== this.mean.length || batch.firingCounts.length !== this.firingCounts.length) {
      throw new ShapeError(
        `ReconstructionTotals: a batch has ${batch.sum.length} activation sums and ${batch.firingCounts.length} firing counts; earlier batches had ${this.mean.length} and ${this.firingCounts.length}.`,
      );
    }
    for (let feature = 0; feature < this.firingCounts.length; feature++) this.firingCounts[feature] += batch.firingCounts[feature];
    if (batch.activationSums !== undefined) {
      this.activationSums ??= new Float64Array(batch.activationSums.length);
      for (let feature = 0; feature < this.activationSums.length; feature++) this.activationSums[feature] += batch.activationSums[feature];
    }
    this.squareSum += batch.squareSum;
    this.squaredErrorSum += batch.squaredErrorSum;
    if (batch.count === 0) return;
    const total = this.count + batch.count;
    let meanShift = 0;
    for (let index = 0; index < this.mean.length; index++) {
      const delta = batch.sum[index] / batch.count - this.mean[index];
      meanShift += delta * delta;
      this.mean[index] += (delta * batch.count) / total;
    }
    this.centeredSquareSum += batch.centeredSquareSum + (meanShift * this.count * batch.count) / total;
    this.count = total;
  }

  metrics(): ReconstructionMetrics {
    const firingCounts = this.firingCounts ?? new Float64Array(0);
    const tokens = this.count;
    let firings = 0;
    let dead = 0;
    let dense = 0;
    const featureDensityLog10 = Array.from(firingCounts, (count) => {
      firings += count;
      if (count === 0) dead++;
      if (count / tokens > DENSE_DENSITY_THRESHOLD) dense++;
      return count === 0 ? null : Math.log10(count / tokens);
    });
    const features = firingCounts.length;
    return {
      explainedVariance: 1 - this.squaredErrorSum / this.centeredSquareSum,
      normalizedMse: this.squaredErrorSum / this.squareSum,
      mse: this.squaredErrorSum / (tokens * (this.mean?.length ?? 0)),
      l0Norm: firings / tokens,
      deadFraction: features === 0 ? 0 : dead / features,
      denseFraction: features === 0 ? 0 : dense / features,
      featureDensityLog10,
      ...(this.activationSums === undefined ? {} : { featureActivationSums: Array.from(this.activationSums) }),
      evaluatedTokens: tokens,
    };
  }
}
