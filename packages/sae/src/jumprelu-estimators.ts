import { abs, cast, customVjp, div, exp, greater, less, mul, neg, sub, type Tensor } from '@nnd/core';

/** The rectangle kernel R(u) = 1 where |u| < 0.5, else 0. */
function rectangle(u: Tensor): Tensor {
  return cast(less(abs(u), 0.5), u.dtype);
}

/**
 * JumpReLU: out = pre * (pre > t), t = exp(log_threshold), with the
 * reference's straight-through gradients: d pre = (pre > t) * dy and
 * d log_threshold = -(t / bandwidth) * R((pre - t) / bandwidth) * dy,
 * summed over samples by autodiff (the threshold broadcasts over the batch).
 */
export function jumpRelu(preactivations: Tensor, logThreshold: Tensor, bandwidth: number): Tensor {
  return customVjp(
    [preactivations, logThreshold],
    (pre, log) => mul(pre, cast(greater(pre, exp(log)), pre.dtype)),
    (_graph, [pre, log], _outputs, [dy]) => {
      if (dy === undefined) return [];
      const threshold = exp(log);
      const mask = cast(greater(pre, threshold), dy.dtype);
      const kernel = rectangle(div(sub(pre, threshold), bandwidth));
      return [mul(mask, dy), mul(mul(neg(div(threshold, bandwidth)), kernel), dy)];
    },
  )[0];
}

/**
 * The step H(x > t) with the reference's straight-through gradient:
 * zero for x, and -(1 / bandwidth) * R((x - t) / bandwidth) * dy for
 * log_threshold (no factor t, as in the reference's StepFunction).
 */
export function thresholdStep(x: Tensor, logThreshold: Tensor, bandwidth: number): Tensor {
  return customVjp(
    [x, logThreshold],
    (input, log) => cast(greater(input, exp(log)), input.dtype),
    (_graph, [input, log], _outputs, [dy]) => {
      if (dy === undefined) return [];
      const kernel = rectangle(div(sub(input, exp(log)), bandwidth));
      return [undefined, mul(mul(kernel, -1 / bandwidth), dy)];
    },
  )[0];
}
