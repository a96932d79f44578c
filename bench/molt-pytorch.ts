import type { Benchmark } from './benchmarks.js';
import { MOLT_PROBLEM_OPTIONS } from './molt.js';
import { pytorchArgs, runPytorchScript } from './pytorch-reference.js';

/** `molt`'s comparison: the same MOLT training step in PyTorch (bench/pytorch/molt_step.py). */
export const moltPytorchBenchmark: Benchmark = {
  options: { ...MOLT_PROBLEM_OPTIONS, threads: { type: 'string', default: '0' } },
  async run(options, log) {
    return runPytorchScript('molt_step.py', pytorchArgs(options, [...Object.keys(MOLT_PROBLEM_OPTIONS), 'threads']), log);
  },
};
