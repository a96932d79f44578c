import { add, div, mul, reduceMean, reduceSumSquare, ShapeError, sqrt, sub, type Tensor } from '@nnd/core';

/** Added to the standard deviation, as the reference does (not to the variance). */
export const INPUT_NORM_EPSILON = 1e-5;

export interface NormalizedInput {
  /** The input the SAE sees and its losses are computed on. */
  readonly x: Tensor;
  /** Maps a reconstruction in the normalised space back to the input space. */
  restore(reconstruction: Tensor): Tensor;
}

/**
 * The reference's `input_unit_norm` (SAELens's `normalize_activations:
 * 'layer_norm'`): per sample, subtract the mean over features and divide by
 * the standard deviation with Bessel's correction plus 1e-5. Losses are
 * computed in that space; only the returned reconstruction is mapped back.
 */
export function normalizeInput(x: Tensor, enabled: boolean): NormalizedInput {
  if (!enabled) return { x, restore: (reconstruction) => reconstruction };
  const width = x.shape[x.rank - 1];
  if (typeof width !== 'number' || width < 2) {
    throw new ShapeError(`input_unit_norm: the feature axis of ${x} must be a static size >= 2 (Bessel's correction divides by n - 1), got ${width}.`);
  }
  const mean = reduceMean(x, -1, true);
  const centered = sub(x, mean);
  const std = sqrt(div(reduceSumSquare(centered, -1, true), width - 1));
  return {
    x: div(centered, add(std, INPUT_NORM_EPSILON)),
    restore: (reconstruction) => add(mul(reconstruction, std), mean),
  };
}
