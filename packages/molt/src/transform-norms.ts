import { cast, customVjp, div, greater, matmul, maximum, mul, reduceSum, sqrt, transpose, unsqueeze, type Tensor } from '@nnd/core';

/**
 * ||V_t U_t||_F for every transform of one rank group, V [count, d_in, r]
 * and U [count, r, d_out], without forming the [d_in, d_out] products:
 * ||V U||_F^2 = tr(U^T V^T V U) = sum_ij (V^T V)_ij (U U^T)_ij, two
 * [count, r, r] Gram matrices, O(count r^2 d).
 *
 * The gradient is written by hand: both Grams are symmetric, so
 * d||VU||^2/dV = 2 V (U U^T) and d||VU||^2/dU = 2 (V^T V) U, one batched
 * MatMul per factor (autodiff of the two Grams would take two per factor,
 * one per operand); the chain through the square root is 1 / (2 ||VU||),
 * taken as 0 where the product is 0 (a transform whose U starts at 0,
 * `uv_init: 'zero_u'`), where autodiff of sqrt would give 0 * inf = NaN.
 */
export function groupTransformNorms(v: Tensor, u: Tensor): Tensor {
  let gramV: Tensor | undefined;
  let gramU: Tensor | undefined;
  const [norms] = customVjp(
    [v, u],
    (vs, us) => {
      gramV = matmul(transpose(vs, [0, 2, 1]), vs);
      gramU = matmul(us, transpose(us, [0, 2, 1]));
      // Rounding can make the sum of a product of Grams of a zero factor slightly negative.
      return sqrt(maximum(reduceSum(mul(gramV, gramU), [1, 2]), 0));
    },
    (_graph, [vs, us], [norm], [dNorm]) => {
      if (dNorm === undefined) return [];
      // d norm / d squared = 1 / (2 norm); 2 of d squared's factor 2 cancels it.
      const nonzero = greater(norm, 0);
      const perTransform = mul(div(dNorm, maximum(norm, 1e-30)), cast(nonzero, norm.dtype));
      const scale = unsqueeze(perTransform, [1, 2]);
      return [matmul(vs, mul(gramU!, scale)), matmul(mul(gramV!, scale), us)];
    },
  );
  return norms;
}
