import { add, customVjp, erf, exp, matmul, mul, reduceSum, reshape, transpose, unsqueeze, type HostTensor, type Rng, type Tensor, type TensorMap } from '@nnd/core';

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
    // The default 1 -> hidden -> 1 per component as broadcast products in [positions, C, hidden]:
    // no transposes and no batched matmuls with an inner size of 1 (slow in onnxruntime).
    const hidden = params[`${prefix}.W0`].shape[2];
    const first = reshape(params[`${prefix}.W0`], [C, hidden]);
    const last = reshape(params[`${prefix}.W1`], [C, hidden]);
    const activated = gelu(add(mul(unsqueeze(h, 2), first), params[`${prefix}.b0`]));
    return add(reduceSum(mul(activated, last), 2), reshape(params[`${prefix}.b1`], [C]));
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
