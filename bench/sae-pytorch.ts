import type { Benchmark } from './benchmarks.js';
import { runPytorchScript } from './pytorch-reference.js';
import { SAE_PROBLEM_OPTIONS } from './sae.js';

/**
 * `sae`'s comparison: the reference implementation's training step
 * (bench/pytorch/sae_step.py, after bartbussmann/BatchTopK) in PyTorch, on
 * the same shapes and the same kind of data.
 */
export const saePytorchBenchmark: Benchmark = {
  options: {
    ...SAE_PROBLEM_OPTIONS,
    threads: { type: 'string', default: '0' },
  },
  async run(options, log) {
    const keys = [...Object.keys(SAE_PROBLEM_OPTIONS), 'threads'];
    const args = keys.filter((key) => options[key] !== undefined).flatMap((key) => [`--${key}`, String(options[key])]);
    return runPytorchScript('sae_step.py', args, log);
  },
};
