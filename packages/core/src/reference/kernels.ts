import type { OpName } from '../op-set.js';
import { fromHost, type Kernel } from './dense.js';
import { ELEMENTWISE_KERNELS } from './elementwise.js';
import { INDEXING_KERNELS } from './indexing.js';
import { LAYOUT_KERNELS } from './layout.js';
import { NORMALIZATION_KERNELS } from './normalization.js';
import { REDUCTION_KERNELS } from './reductions.js';

/** One kernel per op; a mapped type, so an op added to the IR without a kernel fails to compile. */
export const KERNELS: { [O in OpName]: Kernel<O> } = {
  ...ELEMENTWISE_KERNELS,
  ...LAYOUT_KERNELS,
  ...INDEXING_KERNELS,
  ...REDUCTION_KERNELS,
  ...NORMALIZATION_KERNELS,
  Identity: ([x]) => [x],
  StopGradient: ([x]) => [x],
  Constant: (_inputs, { value }, { where }) => [fromHost(value, where)],
  // Autodiff reads the rule; the forward value is the forward sub-graph's outputs.
  CustomVjp: (inputs, { primalCount }) => inputs.slice(primalCount),
};
