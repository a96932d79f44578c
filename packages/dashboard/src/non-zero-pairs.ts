import { abs, add, gatherElements, topk, type Tensor } from '@nnd/core';

/** The graph input that says how many pairs per position `nonZeroPairs` keeps. */
export const KEEP_INPUT = 'dashboard.keep';

/** Pairs kept per position at first (or every column, when there are fewer). */
export const INITIAL_KEEP = 64;

/**
 * Past this share of the columns, a selection on the device saves too little
 * over the dense values (its TopK nears a sort of each row) and the pass
 * reads the dense values instead.
 */
const MAX_KEEP_SHARE = 1 / 8;

/**
 * The `keep` (a graph input, so one program serves every count) values of
 * largest magnitude at each position of `values` ([positions, columns]), as
 * (feature, value) pairs with features numbered from `firstFeature`: for
 * decompositions whose inference gives no kept pairs (JumpReLU, BatchTopK
 * with its threshold, vanilla, SPD), so that neither the dense tensor's copy
 * to the host nor the collector's O(columns) work per position is paid. The
 * pairs hold every non-zero value of a position unless it has more than
 * `keep` of them, which `mayOverflow` detects; the caller then runs the batch
 * again with a larger `keep` (`nextKeep`).
 */
export function nonZeroPairs(values: Tensor, firstFeature: number): { indices: Tensor; values: Tensor } {
  const { graph } = values;
  const keep = graph.input(KEEP_INPUT, [1], 'int64');
  const { indices } = topk(abs(values), keep, { axis: -1, kDim: 'keep' });
  return {
    indices: firstFeature === 0 ? indices : add(indices, graph.constant([firstFeature], [1], 'int64')),
    values: gatherElements(values, indices, 1),
  };
}

/**
 * Whether some position may have more non-zero values than the `keep` pairs
 * it kept ([positions, keep], by decreasing magnitude): its last kept value
 * is not 0. (A position with exactly `keep` counts too: the values cannot
 * tell it apart.)
 */
export function mayOverflow(values: Float32Array, keep: number): boolean {
  for (let last = keep - 1; last < values.length; last += keep) if (values[last] !== 0) return true;
  return false;
}

/** The next count to try after an overflow at `keep` of `columns`; undefined: read the dense values instead. */
export function nextKeep(keep: number, columns: number): number | undefined {
  const next = Math.min(columns, 2 * keep);
  return next > columns * MAX_KEEP_SHARE ? undefined : next;
}
