import { Rng } from '@nnd/core';
import { BACKEND_OPTIONS } from './backend-option.js';
import type { Benchmark } from './benchmarks.js';
import { timeTrainingSteps } from './timing.js';

/** The MOLT training problem, shared with `molt-pytorch` so that both time the same thing. */
export const MOLT_PROBLEM_OPTIONS = {
  gate: { type: 'string', default: 'topk' },
  'd-model': { type: 'string', default: '768' },
  /** N of the rank counts N, 2N, 4N, 8N, 16N (ranks 512..32, halved below d-model). */
  n: { type: 'string', default: '8' },
  batch: { type: 'string', default: '4096' },
  k: { type: 'string', default: '16' },
  lambda: { type: 'string', default: '0.001' },
  steps: { type: 'string', default: '3' },
  warmup: { type: 'string', default: '1' },
} as const satisfies Benchmark['options'];

/**
 * One MOLT training step (forward, gradients, clipping, Adam, dead-transform
 * counters, metrics: one compiled program) through the real trainer, on two
 * pre-drawn Gaussian (input, target) batches that alternate. Step times are
 * the gaps between consecutive logger calls; the first `warmup` steps are not
 * counted. Peak memory is the process's maximum resident set size.
 */
export const moltBenchmark: Benchmark = {
  options: {
    ...MOLT_PROBLEM_OPTIONS,
    /** 'sparse' (the default for topk and batchtopk) or 'dense': the MOLT's `dispatch`. */
    dispatch: { type: 'string', default: '' },
    device: { type: 'string', default: 'cpu' },
    ...BACKEND_OPTIONS,
    profile: { type: 'boolean', default: false },
  },
  async run(options, log) {
    const [dModel, n, batchSize, k, lambda, steps, warmup] = ['d-model', 'n', 'batch', 'k', 'lambda', 'steps', 'warmup'].map((key) => Number(options[key]));
    const { createMoltFromConfig, defaultRankCounts } = await import('@nnd/molt');
    const molt = createMoltFromConfig({
      d_in: dModel,
      d_out: dModel,
      rank_counts: defaultRankCounts(dModel, n),
      gate: options.gate,
      top_k: k,
      lambda,
      ...(options.dispatch ? { dispatch: options.dispatch } : {}),
    });
    const rng = new Rng(0);
    const batches = [0, 1].map(() => ({ input: rng.normal(batchSize * dModel), target: rng.normal(batchSize * dModel) }));
    if (options.profile) {
      // Per-op times of the step with ORT's profiler (onnx only); input and target are fed the same batch.
      const { profileTrainingStep } = await import('./sae-profile.js');
      const profile = await profileTrainingStep(molt, batches[0].input, batchSize, options.device as string, steps, warmup);
      for (const [op, ms] of Object.entries(profile.ops)) log(`  ${op}: ${ms.toFixed(1)} ms per step`);
      return { benchmark: 'molt-profile', d_model: dModel, n, batch: batchSize, k, ...profile };
    }
    let position = 0;
    const source = { nextBatch: async () => batches[position++ % batches.length] };

    const timed = await timeTrainingSteps(molt, source, { batchSize, steps, warmup, trainConfig: { lr: 3e-4, max_grad_norm: 1 } }, options, log);
    return {
      benchmark: 'molt',
      gate: options.gate,
      dispatch: molt.config.dispatch ?? (options.gate === 'jumprelu' ? 'dense' : 'sparse'),
      backend: timed.backend,
      device: options.device,
      d_model: dModel,
      n,
      rank_counts: molt.config.rank_counts,
      transforms: molt.transforms,
      batch: batchSize,
      k,
      steps,
      warmup,
      ms_per_step: timed.msPerStep,
      tokens_per_s: batchSize / (timed.msPerStep / 1000),
      cpu_ms_per_step: timed.cpuMsPerStep,
      peak_rss_mb: timed.peakRssMb,
      first_step_ms: timed.firstStepMs,
      samples_ms: timed.samples,
    };
  },
};
