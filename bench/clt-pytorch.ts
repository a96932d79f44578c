import type { Benchmark } from './benchmarks.js';
import { pytorchArgs, runPytorchScript } from './pytorch-reference.js';

/**
 * The cross-layer transcoder training problem and its timing. A `clt` benchmark of
 * nnd's own trainer should take these same options, so that both time the same thing.
 */
const CLT_PROBLEM_OPTIONS = {
  type: { type: 'string', default: 'topk' },
  layers: { type: 'string', default: '4' },
  'd-model': { type: 'string', default: '768' },
  'dict-size': { type: 'string', default: '4096' },
  batch: { type: 'string', default: '4096' },
  k: { type: 'string', default: '16' },
  steps: { type: 'string', default: '5' },
  warmup: { type: 'string', default: '3' },
  'l1-coeff': { type: 'string' },
  'aux-penalty': { type: 'string' },
} as const satisfies Benchmark['options'];

/**
 * A CLT training step (forward over all layers, backward, clip_grad_norm_,
 * per-vector decoder projection, Adam) in PyTorch, as the reference
 * (bartbussmann/nn_decompositions clt.py) runs it: bench/pytorch/clt_step.py,
 * on two pre-drawn sets of per-layer Gaussian (input, target) batches that alternate.
 */
export const cltPytorchBenchmark: Benchmark = {
  options: {
    ...CLT_PROBLEM_OPTIONS,
    threads: { type: 'string', default: '0' },
  },
  async run(options, log) {
    const args = pytorchArgs(options, [...Object.keys(CLT_PROBLEM_OPTIONS), 'threads']);
    return runPytorchScript('clt_step.py', ['bench', ...args], log);
  },
};
