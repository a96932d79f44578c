import { add, customVjp, greater, less, lessOrEqual, maximum, minimum, mul, sub, where, type Tensor } from '@nnd/core';

/** goodfire-ai/spd's leak below 0 (masks) and above 1 (importance loss). */
export const LEAK = 0.01;

/**
 * clamp(x, 0, 1) whose gradient leaks below 0 only when it would push x up
 * (spd's LowerLeakyHardSigmoidFunction): for x <= 0 the gradient is
 * alpha * dy where dy < 0 and 0 otherwise; 1 inside (0, 1]; 0 above 1. The
 * causal importances that build masks use it, so that a component whose
 * gate has gone below 0 can still come back when reconstruction needs it.
 */
export function lowerLeakyHardSigmoid(x: Tensor, alpha = LEAK): Tensor {
  return customVjp(
    [x],
    (value) => minimum(maximum(value, 0), 1),
    (_graph, [value], _outputs, [dy]) => {
      if (dy === undefined) return [undefined];
      const leak = where(less(dy, 0), mul(dy, alpha), 0);
      return [where(lessOrEqual(value, 0), leak, where(lessOrEqual(value, 1), dy, 0))];
    },
  )[0];
}

/**
 * clamp(x, 0, 1) below 1 and 1 + alpha (x - 1) above (spd's
 * upper_leaky_hard_sigmoid): what the importance-minimality loss penalises,
 * so that gates above 1 are still pulled down. Gradients as torch's:
 * 1 on [0, 1] (clamp passes its bounds), alpha above 1, 0 below 0.
 */
export function upperLeakyHardSigmoid(x: Tensor, alpha = LEAK): Tensor {
  return customVjp(
    [x],
    (value) => where(greater(value, 1), add(mul(sub(value, 1), alpha), 1), minimum(maximum(value, 0), 1)),
    (_graph, [value], _outputs, [dy]) => {
      if (dy === undefined) return [undefined];
      return [where(greater(value, 1), mul(dy, alpha), where(less(value, 0), 0, dy))];
    },
  )[0];
}
