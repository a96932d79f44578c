import { abs, cast, greater, reduceMean, reduceSum, sub, mul, type Tensor } from '@nnd/core';

/** mean over all elements of (reconstruction - x)^2. */
export function l2Loss(reconstruction: Tensor, x: Tensor): Tensor {
  const error = sub(reconstruction, x);
  return reduceMean(mul(error, error));
}

/** Mean over samples of sum |acts| and of count(acts > 0), from dense [batch, dict_size] acts. */
export function denseNorms(acts: Tensor): { l1Norm: Tensor; l0Norm: Tensor } {
  return {
    l1Norm: reduceMean(reduceSum(abs(acts), -1)),
    l0Norm: reduceMean(reduceSum(cast(greater(acts, 0), acts.dtype), -1)),
  };
}
