import { cast, div, greater, maximum, mul, reduceSum, sub, type Tensor } from '@nnd/core';

/** In-graph sums over the evaluated positions of one batch; the host merges them across batches (see ReconstructionTotals). */
export interface ActivationSums {
  /** Positions counted, a scalar. */
  readonly count: Tensor;
  /** Σ x, [act_size]. */
  readonly sum: Tensor;
  /** Σ ‖x − batch mean‖², a scalar. */
  readonly centeredSquareSum: Tensor;
  /** Σ ‖x‖², a scalar. */
  readonly squareSum: Tensor;
}

export interface ReconstructionSums {
  /** Σ ‖x − x̂‖², a scalar. */
  readonly squaredErrorSum: Tensor;
  /** Per feature, the positions where it is > 0, [dict_size]. */
  readonly firingCounts: Tensor;
  /** Per feature, the sum of its activations, [dict_size]. */
  readonly activationSums: Tensor;
}

/**
 * `weights` is [positions, 1] with 1 for positions that count and 0 for
 * excluded ones (BOS), or undefined when all count. Sums stay in the graph so
 * that only a few scalars and two vectors per batch reach the host.
 */
export function activationSums(samples: Tensor, weights: Tensor | undefined, count: Tensor): ActivationSums {
  const sum = reduceSum(weighted(samples, weights), 0);
  // An all-excluded batch has count 0; its sums are 0 too, so any divisor works.
  const mean = div(sum, maximum(count, 1));
  const centered = sub(samples, mean);
  return {
    count,
    sum,
    centeredSquareSum: reduceSum(weighted(mul(centered, centered), weights)),
    squareSum: reduceSum(weighted(mul(samples, samples), weights)),
  };
}

export function reconstructionSums(samples: Tensor, reconstruction: Tensor, featureActs: Tensor, weights: Tensor | undefined): ReconstructionSums {
  const error = sub(samples, reconstruction);
  return {
    squaredErrorSum: reduceSum(weighted(mul(error, error), weights)),
    firingCounts: reduceSum(weighted(cast(greater(featureActs, 0), featureActs.dtype), weights), 0),
    activationSums: reduceSum(weighted(featureActs, weights), 0),
  };
}

function weighted(values: Tensor, weights: Tensor | undefined): Tensor {
  return weights === undefined ? values : mul(values, weights);
}
