import { add, customVjp, erf, exp, matmul, mul, reshape, sub, transpose, unsqueeze, type HostTensor, type Rng, type Tensor, type TensorMap } from '@nnd/core';

/**
 * The causal-importance function kinds of goodfire-ai/spd's layerwise CI:
 * - `mlp`: one MLP per component on its own scalar activation h_c = x . V[:, c] (1 -> hidden -> 1);
 * - `vector_mlp`: one MLP per component on the module's whole input vector (d_in -> hidden -> 1);
 * - `shared_mlp`: one MLP on the input vector for all components (d_in -> hidden -> C).
 */
export type CiFnType = 'mlp' | 'vector_mlp' | 'shared_mlp';

/**
 * torch's nn.GELU() (exact, erf), with its derivative written by hand:
 * d/dx x Phi(x) = Phi(x) + x phi(x). The CI functions apply it to
 * [positions, C, hidden] tensors, the largest of an SPD step, and autodiff
 * of the composite would take several more passes over them.
 */
export function gelu(x: Tensor): Tensor {
  // Phi(x) is computed once and shared by the forward and the derivative; the rule gives it no gradient of its own.
  return customVjp(
    [x, cdf(x)],
    (value, phi) => mul(value, phi),
    (_graph, [value, phi], _outputs, [dy]) => {
      if (dy === undefined) return [undefined, undefined];
      const density = mul(exp(mul(mul(value, value), -0.5)), 1 / Math.sqrt(2 * Math.PI));
      return [mul(dy, add(phi, mul(value, density))), undefined];
    },
  )[0];
}

/** z (1 + erf z), which is sqrt 2 GELU(sqrt 2 z); its derivative (1 + erf z) + z (2 / sqrt pi) exp(-z^2) reuses 1 + erf z. */
function zGelu(z: Tensor): Tensor {
  return customVjp(
    [z, add(erf(z), 1)],
    (value, onePlusErf) => mul(value, onePlusErf),
    (_graph, [value, onePlusErf], _outputs, [dy]) => {
      if (dy === undefined) return [undefined, undefined];
      const density = exp(sub(Math.log(2 / Math.sqrt(Math.PI)), mul(value, value)));
      return [mul(dy, add(onePlusErf, mul(value, density))), undefined];
    },
  )[0];
}

/**
 * a [B, M, 1] times b [B, 1, N] by broadcasting, [B, M, N]; its gradients as
 * batched matmuls (dy b^T and a^T dy) rather than autodiff's multiply and
 * reduce over the big product.
 */
function outerProduct(a: Tensor, b: Tensor): Tensor {
  return customVjp(
    [a, b],
    (left, right) => mul(left, right),
    (_graph, [left, right], _outputs, [dy]) => {
      if (dy === undefined) return [undefined, undefined];
      return [matmul(dy, transpose(right, [0, 2, 1])), matmul(transpose(left, [0, 2, 1]), dy)];
    },
  )[0];
}

/** The standard normal CDF, 0.5 (1 + erf(x / sqrt 2)). */
function cdf(x: Tensor): Tensor {
  return mul(add(erf(mul(x, Math.SQRT1_2)), 1), 0.5);
}

/**
 * spd's init_param_: Normal(0, gain / sqrt(fan)), gain sqrt(2) for the
 * layers followed by a nonlinearity ("relu") and 1 for the last ("linear");
 * biases 0.
 */
function kaimingNormal(rng: Rng, shape: readonly number[], fan: number, gain: number): HostTensor {
  return {
    dtype: 'float32',
    shape: [...shape],
    data: rng.normal(
      shape.reduce((a, b) => a * b, 1),
      0,
      gain / Math.sqrt(fan),
    ),
  };
}

/** Layer widths of a CI function: input, the hidden dims, output. */
function widths(type: CiFnType, dIn: number, C: number, hidden: readonly number[]): number[] {
  if (type === 'mlp') return [1, ...hidden, 1];
  if (type === 'vector_mlp') return [dIn, ...hidden, 1];
  return [dIn, ...hidden, C];
}

/** The CI function's parameters, named `{prefix}.W{i}` and `{prefix}.b{i}`: [C, in, out] per component, [in, out] shared. */
export function initialCiParams(rng: Rng, prefix: string, type: CiFnType, dIn: number, C: number, hidden: readonly number[]): Record<string, HostTensor> {
  const sizes = widths(type, dIn, C, hidden);
  const params: Record<string, HostTensor> = {};
  for (let layer = 0; layer + 1 < sizes.length; layer++) {
    const [fanIn, fanOut] = [sizes[layer], sizes[layer + 1]];
    const gain = layer + 2 < sizes.length ? Math.SQRT2 : 1;
    const parallel = type !== 'shared_mlp';
    params[`${prefix}.W${layer}`] = kaimingNormal(rng, parallel ? [C, fanIn, fanOut] : [fanIn, fanOut], fanIn, gain);
    params[`${prefix}.b${layer}`] = { dtype: 'float32', shape: parallel ? [C, fanOut] : [fanOut], data: new Float32Array((parallel ? C : 1) * fanOut) };
  }
  return params;
}

/**
 * The CI function's raw output ("pre-sigmoid") [positions, C]: `h` is the
 * components' activations x V [positions, C] (for `mlp`), `x` the module's
 * input [positions, d_in] (for the vector kinds). Positions are flattened.
 */
export function ciFunction(type: CiFnType, params: TensorMap, prefix: string, layers: number, h: Tensor, x: Tensor): Tensor {
  const positions = h.shape[0];
  const C = h.shape[1];
  let value: Tensor;
  if (type === 'shared_mlp') {
    value = x;
    for (let layer = 0; layer < layers; layer++) {
      value = add(matmul(value, params[`${prefix}.W${layer}`]), params[`${prefix}.b${layer}`]);
      if (layer + 1 < layers) value = gelu(value);
    }
    return value;
  }
  if (type === 'mlp' && layers === 2) {
    // The default 1 -> hidden -> 1 per component in [C, positions, hidden], the largest tensors of an SPD
    // step: the first layer a broadcast outer product whose gradients are batched matmuls, the last a
    // batched matmul, and the GELU in z = x / sqrt 2, where x Phi(x) = z (1 + erf z) / sqrt 2 and the
    // scales fold into the small weights. Each pass over the big tensors that this saves is a few percent of the step.
    const columns = unsqueeze(transpose(h, [1, 0]), 2);
    const z = add(outerProduct(columns, mul(params[`${prefix}.W0`], Math.SQRT1_2)), unsqueeze(mul(params[`${prefix}.b0`], Math.SQRT1_2), 1));
    const out = matmul(zGelu(z), mul(params[`${prefix}.W1`], Math.SQRT1_2));
    return add(transpose(reshape(out, [C, -1]), [1, 0]), reshape(params[`${prefix}.b1`], [C]));
  }
  // Parallel layers as a batched matmul over components: [C, positions, in] @ [C, in, out].
  // vector_mlp's [1, positions, d_in] broadcasts against the components' [C, d_in, hidden].
  value = type === 'mlp' ? unsqueeze(transpose(h, [1, 0]), 2) : unsqueeze(x, 0);
  for (let layer = 0; layer < layers; layer++) {
    const bias = unsqueeze(params[`${prefix}.b${layer}`], 1);
    value = add(matmul(value, params[`${prefix}.W${layer}`]), bias);
    if (layer + 1 < layers) value = gelu(value);
  }
  // [C, positions, 1] -> [positions, C]
  return transpose(reshape(value, [C, positions]), [1, 0]);
}
