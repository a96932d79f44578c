import { GraphError } from '../errors/graph-error.js';
import { add, div, minimum, mul, reduceSumSquare, sqrt } from '../primitives.js';
import type { Tensor } from '../tensor.js';
type TensorMap = Record<string, Tensor>;

/**
 * torch.nn.utils.clip_grad_norm_ as graph ops: the global L2 norm over all
 * gradients, and every gradient scaled by min(1, maxNorm / (norm + 1e-6)).
 * Torch multiplies by the clamped coefficient unconditionally, so a factor of
 * exactly 1 leaves gradients unchanged when the norm is below the limit.
 * `maxNorm` Infinity measures the norm and leaves the gradients as they are.
 */
export function clipGradNorm(gradients: TensorMap, maxNorm: number): { gradients: TensorMap; totalNorm: Tensor } {
  const entries = Object.entries(gradients);
  if (entries.length === 0) throw new GraphError('clipGradNorm: no gradients given; a decomposition needs at least one parameter.');
  let sumOfSquares: Tensor | undefined;
  for (const [, gradient] of entries) {
    const squares = reduceSumSquare(gradient);
    sumOfSquares = sumOfSquares ? add(sumOfSquares, squares) : squares;
  }
  const totalNorm = sqrt(sumOfSquares!);
  if (maxNorm === Infinity) return { gradients, totalNorm };
  const coefficient = minimum(div(maxNorm, add(totalNorm, 1e-6)), 1);
  return {
    gradients: Object.fromEntries(entries.map(([name, gradient]) => [name, mul(gradient, coefficient)])),
    totalNorm,
  };
}
