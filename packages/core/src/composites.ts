import { GraphError } from './errors/graph-error.js';
import { add, div, gatherElements, logSoftmax, mul, neg, pow, reduceMean, sqrt, tanh, unsqueeze, squeeze } from './primitives.js';
import type { Tensor } from './tensor.js';

/** GELU with the tanh approximation (GPT-2's `gelu_new`, PyTorch's approximate='tanh'). */
export function geluTanh(x: Tensor): Tensor {
  const inner = mul(add(x, mul(pow(x, 3), 0.044715)), Math.sqrt(2 / Math.PI));
  return mul(mul(x, 0.5), add(tanh(inner), 1));
}

/** RMSNorm over the last axis, as Llama: x / sqrt(mean(x^2) + eps) * scale. */
export function rmsNorm(x: Tensor, scale: Tensor, epsilon = 1e-6): Tensor {
  return mul(div(x, sqrt(add(reduceMean(mul(x, x), -1, true), epsilon))), scale);
}

/**
 * Mean cross-entropy of integer labels under logits [..., vocab]; labels have
 * the logits' shape without the last axis.
 */
export function crossEntropy(logits: Tensor, labels: Tensor): Tensor {
  if (labels.dtype !== 'int64') throw new GraphError(`crossEntropy: labels must be int64 token ids, got ${labels.dtype}.`);
  const logProbabilities = logSoftmax(logits, -1);
  const picked = squeeze(gatherElements(logProbabilities, unsqueeze(labels, -1), -1), -1);
  return neg(reduceMean(picked));
}
