import { add, cast, greater, greaterOrEqual, not, reduceSum, where, type Tensor } from '@nnd/core';

export interface DeadFeatureUpdate {
  /** `num_batches_not_active` after this batch. */
  readonly counter: Tensor;
  /** bool [dict_size]: counter >= n_batches_to_dead, the set the auxiliary loss revives. */
  readonly dead: Tensor;
  /** count(counter > n_batches_to_dead), as the reference reports it (strictly greater). */
  readonly numDeadFeatures: Tensor;
  /** Features that did not fire in this batch. */
  readonly deadInBatch: Tensor;
}

/**
 * The reference's `update_inactive_features`: a feature whose activations sum
 * to more than 0 over the batch resets its counter to 0; every other feature
 * adds 1. Counts are returned in `dtype` (the metrics' float type).
 */
export function updateDeadFeatures(counter: Tensor, featureTotals: Tensor, nBatchesToDead: number, dtype: Tensor['dtype']): DeadFeatureUpdate {
  const fired = greater(featureTotals, 0);
  const next = where(fired, 0, add(counter, 1));
  return {
    counter: next,
    dead: greaterOrEqual(next, nBatchesToDead),
    numDeadFeatures: reduceSum(cast(greater(next, nBatchesToDead), dtype)),
    deadInBatch: reduceSum(cast(not(fired), dtype)),
  };
}
