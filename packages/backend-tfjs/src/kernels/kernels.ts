import type { Dim, Node, OpAttributes, OpName } from '@nnd/core';
import { fromHostTensor } from '../tfjs-tensors.js';
import { ELEMENTWISE_KERNELS } from './elementwise-kernels.js';
import { INDEXING_KERNELS } from './indexing-kernels.js';
import type { KernelTable } from './kernel.js';
import { LAYOUT_KERNELS } from './layout-kernels.js';
import { NORMALIZATION_KERNELS } from './normalization-kernels.js';
import { REDUCTION_KERNELS } from './reduction-kernels.js';

/** One kernel per IR op; a mapped type, so an op added to the IR without a tfjs kernel fails to compile. */
export const KERNELS: KernelTable<OpName> = {
  ...ELEMENTWISE_KERNELS,
  ...LAYOUT_KERNELS,
  ...INDEXING_KERNELS,
  ...REDUCTION_KERNELS,
  ...NORMALIZATION_KERNELS,
  // Programs create constants once at compile time; this runs only if one is evaluated on its own.
  Constant: (_inputs, { value }, { tf, where }) => [fromHostTensor(tf, value, where)],
  // Autodiff reads the rule; the forward value is the forward sub-graph's outputs.
  CustomVjp: (inputs, { primalCount }, { tf }) => inputs.slice(primalCount).map((output) => tf.clone(output)),
};

/**
 * Inputs whose values a node's kernel reads on the host (scalars that steer
 * the computation), loaded with `await data()` before the kernel runs
 * unless they are constants or shapes, which the interpreter already knows.
 */
export function hostInputs(node: Node, lookup: (dim: Dim) => number | undefined): number[] {
  if (node.op === 'Range') return [0, 1, 2];
  if (node.op === 'TopK' && lookup((node.attributes as OpAttributes['TopK']).kDim) === undefined) return [1];
  return [];
}
