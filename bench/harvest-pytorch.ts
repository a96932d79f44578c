import type { Benchmark } from './benchmarks.js';
import { runPytorchScript } from './pytorch-reference.js';

/**
 * `harvest`'s comparison: a plain PyTorch GPT-2 forward (bench/pytorch/harvest.py)
 * of the same shapes, random weights, computing the blocks the hook needs.
 * `--threads` sets torch's intra-op threads and `--blas-threads` OpenBLAS's;
 * both default to the library defaults.
 */
export const harvestPytorchBenchmark: Benchmark = {
  options: {
    'n-layer': { type: 'string', default: '12' },
    'd-model': { type: 'string', default: '768' },
    'n-head': { type: 'string', default: '12' },
    'n-ctx': { type: 'string', default: '1024' },
    vocab: { type: 'string', default: '50257' },
    hook: { type: 'string', default: 'blocks.8.hook_resid_pre' },
    batch: { type: 'string', default: '8' },
    seq: { type: 'string', default: '128' },
    runs: { type: 'string', default: '5' },
    threads: { type: 'string', default: '0' },
    'blas-threads': { type: 'string' },
  },
  async run(options, log) {
    const keys = ['n-layer', 'd-model', 'n-head', 'n-ctx', 'vocab', 'hook', 'batch', 'seq', 'runs', 'threads'];
    const args = keys.flatMap((key) => [`--${key}`, String(options[key])]);
    const blasThreads = options['blas-threads'];
    const env = blasThreads === undefined ? {} : { OPENBLAS_NUM_THREADS: String(blasThreads), OMP_NUM_THREADS: String(blasThreads) };
    const result = runPytorchScript('harvest.py', args, log, env);
    return { ...result, blas_threads: blasThreads ?? 'default' };
  },
};
