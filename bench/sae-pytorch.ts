import type { Benchmark } from './benchmarks.js';
import { runPytorchScript } from './pytorch-reference.js';

/**
 * `sae`'s comparison: the reference implementation's training step
 * (bench/pytorch/sae_step.py, after bartbussmann/BatchTopK) in PyTorch, on
 * the same shapes and the same kind of data.
 */
export const saePytorchBenchmark: Benchmark = {
  options: {
    type: { type: 'string', default: 'topk' },
    'act-size': { type: 'string', default: '768' },
    'dict-size': { type: 'string', default: '12288' },
    batch: { type: 'string', default: '4096' },
    k: { type: 'string', default: '32' },
    steps: { type: 'string', default: '5' },
    warmup: { type: 'string', default: '3' },
    threads: { type: 'string', default: '0' },
    'aux-penalty': { type: 'string' },
    'l1-coeff': { type: 'string' },
  },
  async run(options, log) {
    const keys = ['type', 'act-size', 'dict-size', 'batch', 'k', 'steps', 'warmup', 'threads', 'aux-penalty', 'l1-coeff'];
    const args = keys.filter((key) => options[key] !== undefined).flatMap((key) => [`--${key}`, String(options[key])]);
    return runPytorchScript('sae_step.py', args, log);
  },
};
