import type { Benchmark } from './benchmarks.js';
import { pytorchArgs, runPytorchScript } from './pytorch-reference.js';

/**
 * The SPD training problem and its timing. A `spd` benchmark of nnd's own trainer should take these
 * same options (and the same loss set), so that both time the same step.
 */
export const SPD_PROBLEM_OPTIONS = {
  model: { type: 'string', default: 'tiny-lm' },
  /** `mlp` (both MLP matrices of every layer), `mlp_in`, `mlp_out`, or comma-separated `blocks.{L}.mlp.W_in|W_out`. */
  modules: { type: 'string', default: 'mlp' },
  c: { type: 'string', default: '256' },
  batch: { type: 'string', default: '8' },
  seq: { type: 'string', default: '128' },
  /** `mlp` (spd's layerwise default), `vector_mlp` or `shared_mlp`. */
  'ci-fn': { type: 'string', default: 'mlp' },
  'ci-hidden': { type: 'string', default: '16' },
  /** Turns the delta component (W - VU with its own mask) off. */
  'no-delta': { type: 'boolean', default: false },
  /**
   * Comma-separated, of faithfulness, stochastic_recon, stochastic_recon_layerwise, stochastic_recon_subset,
   * importance_minimality, pgd_recon. The default is the paper's loss (5a).
   */
  losses: { type: 'string', default: 'faithfulness,stochastic_recon,stochastic_recon_layerwise,importance_minimality' },
  'pgd-steps': { type: 'string', default: '4' },
  steps: { type: 'string', default: '5' },
  warmup: { type: 'string', default: '2' },
} as const satisfies Benchmark['options'];

/**
 * An SPD training step on the shipped tiny LM (packages/models/tiny-lm) in PyTorch, as goodfire-ai/spd
 * runs it (docs DECOMPOSITIONS.md 5b): bench/pytorch/spd_bench.py, on two pre-drawn token batches that
 * alternate, with the masks' random sources drawn each step.
 */
export const spdPytorchBenchmark: Benchmark = {
  options: {
    ...SPD_PROBLEM_OPTIONS,
    threads: { type: 'string', default: '0' },
  },
  async run(options, log) {
    const args = pytorchArgs(options, [...Object.keys(SPD_PROBLEM_OPTIONS), 'threads']);
    return runPytorchScript('spd_bench.py', args, log);
  },
};
