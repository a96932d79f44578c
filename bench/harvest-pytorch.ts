import type { Benchmark } from './benchmarks.js';
import { HARVEST_PROBLEM_OPTIONS } from './harvest.js';
import { runPytorchScript } from './pytorch-reference.js';

/**
 * `harvest`'s comparison: a plain PyTorch GPT-2 forward (bench/pytorch/harvest.py)
 * of the same shapes, random weights, computing the blocks the hook needs.
 * `--threads` sets torch's intra-op threads and `--blas-threads` OpenBLAS's;
 * both default to the library defaults.
 */
export const harvestPytorchBenchmark: Benchmark = {
  options: {
    ...HARVEST_PROBLEM_OPTIONS,
    threads: { type: 'string', default: '0' },
    'blas-threads': { type: 'string' },
  },
  async run(options, log) {
    const keys = [...Object.keys(HARVEST_PROBLEM_OPTIONS), 'threads'];
    const args = keys.flatMap((key) => [`--${key}`, String(options[key])]);
    const blasThreads = options['blas-threads'];
    const env = blasThreads === undefined ? {} : { OPENBLAS_NUM_THREADS: String(blasThreads), OMP_NUM_THREADS: String(blasThreads) };
    const result = runPytorchScript('harvest.py', args, log, env);
    return { ...result, blas_threads: blasThreads ?? 'default' };
  },
};
