import { add, cast, div, mul, pow, sqrt, sub } from '../primitives.js';
import type { Tensor } from '../tensor.js';

export interface AdamHyperparameters {
  lr: number;
  beta1: number;
  beta2: number;
  /** Added to the denominator; torch.optim.Adam's default is 1e-8. */
  epsilon: number;
}

/**
 * The two scalars that depend on the step number (and the learning rate),
 * shared by every parameter of a step: build them in the graph with
 * `adamCorrections`, or from scalars fed per step when the learning rate
 * follows a schedule. torch's update p -= lr / c1 * m / (sqrt(v) / c2 + eps), with
 * c1 = 1 - beta1^t and c2 = sqrt(1 - beta2^t), is rewritten as
 * p -= (lr * c2 / c1) * m / (sqrt(v) + eps * c2): the same value up to
 * rounding, one pass over the parameter fewer (the division by c2).
 */
export interface AdamCorrections {
  /** lr * sqrt(1 - beta2^t) / (1 - beta1^t), float32. */
  stepSize: Tensor;
  /** eps * sqrt(1 - beta2^t), float32. */
  epsilon: Tensor;
}

/**
 * Bias corrections for step `step` (a float64 scalar, 1 for the first step).
 * Computed in float64 and then rounded to float32 because torch computes them
 * in Python floats: 1 - 0.999^1 in float32 is off by 1e-5 relative.
 */
export function adamCorrections(step: Tensor, hyperparameters: AdamHyperparameters): AdamCorrections {
  const graph = step.graph;
  const firstCorrection = sub(graph.scalar(1, 'float64'), pow(graph.scalar(hyperparameters.beta1, 'float64'), step));
  const secondCorrection = sqrt(sub(graph.scalar(1, 'float64'), pow(graph.scalar(hyperparameters.beta2, 'float64'), step)));
  return {
    stepSize: cast(div(mul(secondCorrection, hyperparameters.lr), firstCorrection), 'float32'),
    epsilon: cast(mul(secondCorrection, hyperparameters.epsilon), 'float32'),
  };
}

export interface AdamResult {
  param: Tensor;
  firstMoment: Tensor;
  secondMoment: Tensor;
}

/**
 * One torch.optim.Adam update (no weight decay, no amsgrad). The moments
 * follow torch's single-tensor path operation for operation, so they match
 * in float32:
 *   m = m.lerp(g, 1 - beta1)              (m + (1 - beta1) * (g - m))
 *   v = v * beta2 + ((1 - beta2) * g) * g (addcmul)
 *   p = p - stepSize * (m / (sqrt(v) + epsilon))   (see AdamCorrections)
 * On CPU every line is a pass over memory (12 per parameter), which is most
 * of the trainer's own cost at SAE sizes.
 */
export function adamUpdate(
  param: Tensor,
  gradient: Tensor,
  firstMoment: Tensor,
  secondMoment: Tensor,
  corrections: AdamCorrections,
  hyperparameters: Pick<AdamHyperparameters, 'beta1' | 'beta2'>,
): AdamResult {
  const nextFirstMoment = add(firstMoment, mul(sub(gradient, firstMoment), 1 - hyperparameters.beta1));
  const nextSecondMoment = add(mul(secondMoment, hyperparameters.beta2), mul(mul(gradient, 1 - hyperparameters.beta2), gradient));
  const denominator = add(sqrt(nextSecondMoment), corrections.epsilon);
  const nextParam = sub(param, mul(div(nextFirstMoment, denominator), corrections.stepSize));
  return { param: nextParam, firstMoment: nextFirstMoment, secondMoment: nextSecondMoment };
}
