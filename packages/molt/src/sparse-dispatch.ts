import {
  add,
  axisSize,
  mulDims,
  cast,
  concat,
  customVjp,
  expand,
  gather,
  gatherElements,
  greater,
  matmul,
  maximum,
  mul,
  range,
  reduceMax,
  reduceSum,
  reshape,
  scatterElements,
  slice,
  topk,
  transpose,
  unsqueeze,
  zeros,
  type Tensor,
} from '@nnd/core';
import type { RankGroup } from './molt-config.js';

/** One rank group's factors: V [count, d_in, r] and U [count, r, d_out]. */
export interface GroupFactors {
  readonly group: RankGroup;
  readonly v: Tensor;
  readonly u: Tensor;
}

/** The largest number of entries > 0 along `axis` of `gates`, at least 1, as TopK's int64 [1] k. */
function mostOpen(gates: Tensor, axis: number): Tensor {
  const open = reduceSum(cast(greater(gates, 0), gates.dtype), [axis]);
  return reshape(cast(maximum(reduceMax(open), 1), 'int64'), [1]);
}

/**
 * sum_t phi_t (x V_t) U_t over every transform, computing each transform
 * only on the tokens whose gate is open (the `sparse` dispatch), without a
 * scatter:
 *
 * 1. per group, m = the largest number of open tokens of any of its
 *    transforms (read at run time), and per transform its m tokens of
 *    largest gate (TopK along the tokens): every open token, then tokens
 *    whose gate is 0, whose rows come out exactly 0;
 * 2. those tokens' inputs gathered to [count, m, d_in] and two batched
 *    MatMuls with V and U, the gates scaling the r columns in between:
 *    count * m * r * d per product instead of the dense rows * count * r * d;
 * 3. every group's [count, m, d_out] rows stacked (plus one zero row), and
 *    each token's sum gathered from them: a table [transforms, rows] holds
 *    where transform t's row for token i is (the zero row when t did not
 *    take i), and each token reads the rows of its most open transforms
 *    (as many as the most open transforms any token has: k under TopK).
 *
 * Step 3's gradient is hand-written: the rows of transform t get the
 * output gradient of the tokens t took (a Gather). Rows of tokens taken
 * with a gate of 0 get one too, though they wrote nothing; it reaches only
 * gate entries that are 0 and not kept, which TopK and BatchTopK gates pass
 * no gradient from, so the gradient is the dense dispatch's. JumpReLU's
 * surrogates do pass gradient from closed gates, so JumpReLU MOLTs use the
 * dense dispatch.
 */
export function sparseMoltOutput(x: Tensor, gates: Tensor, factors: readonly GroupFactors[]): Tensor {
  const graph = x.graph;
  const dOut = factors[0].u.shape[2];
  const rows = x.shape[0];
  const taken = factors.map(({ group, v, u }) => {
    const byTransform = transpose(slice(gates, { starts: [group.offset], ends: [group.offset + group.count], axes: [1] })); // [count, rows]
    const { values, indices } = topk(byTransform, mostOpen(byTransform, 1), { axis: 1 });
    const projected = mul(matmul(gather(x, indices, 0), v), unsqueeze(values, 2)); // [count, m, r]
    return { group, indices, written: matmul(projected, u) }; // [count, m, d_out]
  });

  // Where each (transform, token) row is in the stacked rows; the zero row (last) when the transform did not take the token.
  const sizes = taken.map(({ indices }) => mul(axisSize(indices, 0, 'int64'), axisSize(indices, 1, 'int64')));
  let total = graph.scalar(0, 'int64');
  const tables: Tensor[] = [];
  for (const [index, { group, indices }] of taken.entries()) {
    tables.push(reshape(range(total, add(total, sizes[index]), 1, { length: mulDims(group.count, indices.shape[1]) }), [group.count, -1]));
    total = add(total, sizes[index]);
  }
  const where = transpose(
    concat(
      taken.map(({ group, indices }, index) => scatterElements(expand(total, [group.count, rows]), indices, tables[index], 1)),
      0,
    ),
  ); // [rows, transforms]
  const { indices: strongest } = topk(gates, mostOpen(gates, 1), { axis: 1 });
  const slots = gatherElements(where, strongest, 1); // [rows, most open per token]

  const written = taken.map(({ written }) => written);
  return customVjp(
    written,
    (...groups) => reduceSum(gather(concat([...groups.map((rowsOf) => reshape(rowsOf, [-1, dOut])), zeros(graph, [1, dOut], x.dtype)], 0), slots, 0), [1]),
    (_graph, _primals, _outputs, [dy]) => (dy === undefined ? [] : taken.map(({ indices }) => gather(dy, indices, 0))),
  )[0];
}
