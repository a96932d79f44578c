import { customVjp, gather, matmul, mul, reduceSum, reshape, scatterND, ShapeError, squeeze, unsqueeze, zeros, type Tensor } from '@nnd/core';
import type { KeptActivations } from './kept-activations.js';

/**
 * Adds `rows` ([n, width]) into a zero [count, width] tensor at `indices`
 * ([n]): ONNX ScatterND with reduction 'add', so repeated indices sum.
 */
export function scatterAddRows(rows: Tensor, indices: Tensor, count: number | string): Tensor {
  const width = rows.shape[rows.rank - 1];
  return scatterND(zeros(rows.graph, [count, width], rows.dtype), reshape(indices, [-1, 1]), reshape(rows, [-1, width]), 'add');
}

/**
 * The decoder product acts @ W_dec computed from the kept activations only:
 * the kept rows of W_dec are gathered ([batch, k, act_size] per sample, or
 * [k * batch, act_size] flat) and weighted by the kept values, instead of a
 * dense [batch, dict_size] x [dict_size, act_size] MatMul. Its gradient is
 * hand-written so that it stays sparse too:
 *
 * - d values[e] = <dy[sample(e)], W_dec[feature(e)]>, reusing the gathered rows;
 * - d W_dec = ScatterND-add of values[e] * dy[sample(e)] into the kept rows.
 *
 * Generic autodiff of Gather would give the same W_dec gradient, but it would
 * gather the rows a second time and route d values through a dense MatMul;
 * this rule does neither. Returns [batch, act_size] without b_dec.
 */
export function sparseDecode(kept: KeptActivations, wDec: Tensor): Tensor {
  const [dictSize, actSize] = wDec.shape;
  if (wDec.rank !== 2 || typeof dictSize !== 'number' || typeof actSize !== 'number') {
    throw new ShapeError(`sparseDecode: W_dec must be a static [dict_size, act_size] matrix, got ${wDec}.`);
  }
  let rows: Tensor | undefined;
  if (kept.layout === 'per-sample') {
    const { features } = kept;
    return customVjp(
      [kept.values, wDec],
      (values, weights) => {
        rows = gather(weights, features, 0);
        return squeeze(matmul(unsqueeze(values, 1), rows), 1);
      },
      (_graph, [values], _outputs, [dy]) => {
        if (dy === undefined) return [];
        const dValues = squeeze(matmul(rows!, unsqueeze(dy, 2)), 2);
        const weighted = mul(unsqueeze(values, 2), unsqueeze(dy, 1));
        return [dValues, scatterAddRows(weighted, features, dictSize)];
      },
    )[0];
  }
  const { features, samples } = kept;
  const batch = kept.preactivations.shape[0];
  return customVjp(
    [kept.values, wDec],
    (values, weights) => {
      rows = gather(weights, features, 0);
      return scatterAddRows(mul(unsqueeze(values, 1), rows), samples, batch);
    },
    (_graph, [values], _outputs, [dy]) => {
      if (dy === undefined) return [];
      const dyRows = gather(dy, samples, 0);
      const dValues = reduceSum(mul(dyRows, rows!), -1);
      return [dValues, scatterAddRows(mul(unsqueeze(values, 1), dyRows), features, dictSize)];
    },
  )[0];
}
