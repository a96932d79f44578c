import { customVjp, matmul, mul, reduceSum, sqrt, transpose, unsqueeze, type Tensor } from '@nnd/core';

/**
 * ||V_t U_t||_F for every transform of one rank group, V [count, d_in, r]
 * and U [count, r, d_out], without forming the [d_in, d_out] products:
 * ||V U||_F^2 = tr(U^T V^T V U) = sum_ij (V^T V)_ij (U U^T)_ij, two
 * [count, r, r] Gram matrices, O(count r^2 d).
 *
 * The gradient is written by hand: both Grams are symmetric, so
 * d/dV = 2 V (U U^T) and d/dU = 2 (V^T V) U, one batched MatMul per factor
 * (autodiff of the two Grams would take two per factor, one per operand).
 */
export function groupTransformNorms(v: Tensor, u: Tensor): Tensor {
  let gramV: Tensor | undefined;
  let gramU: Tensor | undefined;
  const [squared] = customVjp(
    [v, u],
    (vs, us) => {
      gramV = matmul(transpose(vs, [0, 2, 1]), vs);
      gramU = matmul(us, transpose(us, [0, 2, 1]));
      return reduceSum(mul(gramV, gramU), [1, 2]);
    },
    (_graph, [vs, us], _outputs, [dSquared]) => {
      if (dSquared === undefined) return [];
      const twice = mul(unsqueeze(dSquared, [1, 2]), 2);
      return [matmul(vs, mul(gramU!, twice)), matmul(mul(gramV!, twice), us)];
    },
  );
  return sqrt(squared);
}
