import {
  abs,
  add,
  cast,
  customVjp,
  div,
  exp,
  greater,
  less,
  mul,
  mulDims,
  neg,
  relu,
  reshape,
  scatterElements,
  shapeOf,
  sigmoid,
  sub,
  topk,
  zeros,
  type Dim,
  type KeptFeatures,
  type Tensor,
} from '@nnd/core';

/** Dense [batch, transforms] with the k largest relu(pre) of each row kept, zeros elsewhere. */
export function topKGate(preactivations: Tensor, k: number): Tensor {
  return topKGateKept(preactivations, k).gates;
}

/** topKGate with its kept (transform, gate) pairs, [batch, k] each: the contract's sparse featureActs. */
export function topKGateKept(preactivations: Tensor, k: number): { gates: Tensor; kept: KeptFeatures } {
  const dense = relu(preactivations);
  const { values, indices } = topk(dense, k, { axis: -1 });
  return { gates: scatterElements(zeros(dense.graph, dense.shape, dense.dtype), indices, values, 1), kept: { indices, values } };
}

/** Kept pairs of [samples, k] as [...leading, k], as inference reshapes its gates. */
export function keptShaped(kept: KeptFeatures, leading: readonly Dim[]): KeptFeatures {
  const k = kept.indices.shape.at(-1)!;
  return { indices: reshape(kept.indices, [...leading, k]), values: reshape(kept.values, [...leading, k]) };
}

/**
 * Dense [batch, transforms] with the k * batch largest relu(pre) of the whole
 * batch kept: rows share a budget, as BatchTopK SAEs. The batch size is read
 * at run time, so one program serves any batch size.
 */
export function batchTopKGate(preactivations: Tensor, k: number): Tensor {
  const dense = relu(preactivations);
  const flat = reshape(dense, [-1]);
  const count = mul(shapeOf(dense, 0, 1), k);
  const { values, indices } = topk(flat, count, { axis: 0, kDim: mulDims(k, dense.shape[0]) });
  const flatShape: Dim[] = [mulDims(...dense.shape)];
  return reshape(scatterElements(zeros(dense.graph, flatShape, dense.dtype), indices, values, 0), dense.shape);
}

export type JumpReluSurrogate = 'sigmoid' | 'rectangle';

/**
 * phi(pre) = pre * 1[pre > t], t = exp(log_threshold), exact in the forward
 * pass; the backward pass uses a surrogate.
 *
 * - `sigmoid` (the default): the gradient of pre * sigmoid((pre - t) / bandwidth),
 *   so a gate just below its threshold still gets gradient into its encoder
 *   row and can open; reproducers found that with the hard straight-through
 *   estimator MOLT gates die and stay dead. The chain-rule factor t is
 *   applied for log_threshold.
 * - `rectangle`: the JumpReLU SAE's straight-through estimator: d pre =
 *   1[pre > t] dy, d log_threshold = -(t / bandwidth) R((pre - t) / bandwidth) dy.
 */
export function jumpReluGate(preactivations: Tensor, logThreshold: Tensor, bandwidth: number, surrogate: JumpReluSurrogate): Tensor {
  return customVjp(
    [preactivations, logThreshold],
    (pre, log) => mul(pre, cast(greater(pre, exp(log)), pre.dtype)),
    (_graph, [pre, log], _outputs, [dy]) => {
      if (dy === undefined) return [];
      const threshold = exp(log);
      const u = div(sub(pre, threshold), bandwidth);
      if (surrogate === 'rectangle') {
        const kernel = cast(less(abs(u), 0.5), dy.dtype);
        return [mul(cast(greater(pre, threshold), dy.dtype), dy), mul(mul(neg(div(threshold, bandwidth)), kernel), dy)];
      }
      const s = sigmoid(u);
      // d/du sigmoid(u) = s (1 - s); pre * that / bandwidth is the slope the threshold sees.
      const slope = div(mul(pre, mul(s, sub(1, s))), bandwidth);
      return [mul(add(s, slope), dy), mul(neg(mul(slope, threshold)), dy)];
    },
  )[0];
}
