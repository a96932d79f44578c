import type { Benchmark } from './benchmarks.js';
import { pytorchArgs, runPytorchScript } from './pytorch-reference.js';

/**
 * The transcoder training problem and its timing. A `transcoder` benchmark of
 * nnd's own trainer should take these same options, so that both time the same thing.
 */
const TRANSCODER_PROBLEM_OPTIONS = {
  type: { type: 'string', default: 'topk' },
  'd-in': { type: 'string', default: '768' },
  'd-out': { type: 'string', default: '768' },
  'dict-size': { type: 'string', default: '12288' },
  batch: { type: 'string', default: '4096' },
  k: { type: 'string', default: '32' },
  steps: { type: 'string', default: '5' },
  warmup: { type: 'string', default: '3' },
  'l1-coeff': { type: 'string' },
  'aux-penalty': { type: 'string' },
  /** Adds the skip connection W_skip [d_out, d_in]. */
  skip: { type: 'boolean', default: false },
} as const satisfies Benchmark['options'];

/**
 * A transcoder training step (forward, backward, clip_grad_norm_, decoder
 * projection, Adam) in PyTorch, as the reference (bartbussmann/nn_decompositions)
 * runs it: bench/pytorch/transcoder_step.py, on two pre-drawn Gaussian
 * (input, target) batches that alternate.
 */
export const transcoderPytorchBenchmark: Benchmark = {
  options: {
    ...TRANSCODER_PROBLEM_OPTIONS,
    threads: { type: 'string', default: '0' },
  },
  async run(options, log) {
    const args = pytorchArgs(options, [...Object.keys(TRANSCODER_PROBLEM_OPTIONS), 'threads']);
    return runPytorchScript('transcoder_step.py', ['bench', ...args], log);
  },
};
