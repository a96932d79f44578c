import { Rng } from '@nnd/core';
import { BACKEND_OPTIONS } from './backend-option.js';
import type { Benchmark } from './benchmarks.js';
import { SPD_PROBLEM_OPTIONS } from './spd-pytorch.js';
import { timeTrainingSteps } from './timing.js';

/** The losses `--losses` may name, with the coefficients and options of bench/pytorch/spd_bench.py (the same step). */
const LOSS_KEYS: Record<string, Record<string, unknown>> = {
  faithfulness: { faithfulness_coeff: 1 },
  stochastic_recon: { stochastic_recon_coeff: 1 },
  stochastic_recon_layerwise: { stochastic_recon_layerwise_coeff: 1 },
  stochastic_recon_subset: { stochastic_recon_subset_coeff: 0.5 },
  importance_minimality: { importance_minimality_coeff: 1e-4, pnorm: 2, p_anneal_final_p: 0.3, p_anneal_start_frac: 0, p_anneal_end_frac: 1 },
  pgd_recon: { pgd_recon_coeff: 0.5, pgd_init: 'random', pgd_step_size: 0.5, pgd_mask_scope: 'shared_across_batch', pgd_routing: 'uniform_k_subset' },
};
const NO_LOSSES = { stochastic_recon_coeff: 0, stochastic_recon_layerwise_coeff: 0, importance_minimality_coeff: 0 };

/**
 * One SPD training step on a model (forward through the frozen model with
 * every module's input recorded, the CI functions, each loss's masked
 * forwards, gradients, clipping of components and CI functions apart, Adam:
 * one compiled program) through the real trainer, with the step's random
 * masks drawn on the host, on two fixed token batches that alternate.
 * `bench/pytorch/spd_bench.py` (`pnpm bench spd-pytorch`) times the same step in PyTorch.
 */
export const spdBenchmark: Benchmark = {
  options: {
    ...SPD_PROBLEM_OPTIONS,
    device: { type: 'string', default: 'cpu' },
    /** Also time each op of the step with ORT's profiler (onnx only). */
    profile: { type: 'boolean', default: false },
    ...BACKEND_OPTIONS,
  },
  async run(options, log) {
    const [C, batch, seq, hidden, pgdSteps, steps, warmup] = ['c', 'batch', 'seq', 'ci-hidden', 'pgd-steps', 'steps', 'warmup'].map((key) => Number(options[key]));
    if (options.model !== 'tiny-lm') throw new Error(`bench spd: --model ${String(options.model)}; only tiny-lm (the LM that ships with nnd) is benchmarked.`);
    const { HookedTransformer, tinyLanguageModelDirectory } = await import('@nnd/models');
    const { createReferenceBackend } = await import('@nnd/core');
    const { createSpd, expandModules, transformerTarget } = await import('@nnd/spd');
    // The model's weights are read on the host only: the step gets them as frozen inputs on the bench's backend.
    const model = await HookedTransformer.fromPretrained(tinyLanguageModelDirectory(), { backend: createReferenceBackend() });
    const target = transformerTarget(model, seq, 'tiny-lm');
    const losses = String(options.losses)
      .split(',')
      .map((name) => name.trim())
      .filter((name) => name !== '');
    const unknown = losses.filter((name) => !(name in LOSS_KEYS));
    if (unknown.length > 0) throw new Error(`bench spd: --losses names ${unknown.join(', ')}; known: ${Object.keys(LOSS_KEYS).join(', ')}.`);
    const spd = createSpd(target, {
      modules: expandModules(target, String(options.modules)).map((name) => ({ name, C })),
      ci_fn_type: options['ci-fn'],
      ci_fn_hidden_dims: [hidden],
      pgd_n_steps: pgdSteps,
      use_delta_component: !options['no-delta'],
      grad_clip_norm_components: 1,
      grad_clip_norm_ci_fns: 1,
      ...NO_LOSSES,
      ...Object.assign({}, ...losses.map((name) => LOSS_KEYS[name])),
    });
    const rng = new Rng(0);
    const batches = [0, 1].map(() => BigInt64Array.from(rng.uniform(batch * seq), (value) => BigInt(Math.floor(value * model.config.vocabSize))));
    if (options.profile) {
      const { profileTrainingStep } = await import('./sae-profile.js');
      const profile = await profileTrainingStep(spd, batches[0], batch, String(options.device), steps, warmup);
      for (const [op, ms] of Object.entries(profile.ops)) log(`  ${op}: ${ms.toFixed(1)} ms per step`);
      return { benchmark: 'spd-profile', device: options.device, model: options.model, c: C, batch, seq, ...profile };
    }
    let position = 0;
    const source = { nextBatch: async () => ({ tokens: batches[position++ % batches.length] }) };
    const timed = await timeTrainingSteps(spd, source, { batchSize: batch, steps, warmup, trainConfig: { lr: 1e-3, beta2: 0.999 } }, options, log);
    return {
      benchmark: 'spd',
      backend: timed.backend,
      device: options.device,
      model: options.model,
      modules: spd.modules.map(({ name }) => name),
      c: C,
      batch,
      seq,
      ci_fn: options['ci-fn'],
      delta: !options['no-delta'],
      losses,
      steps,
      warmup,
      ms_per_step: timed.msPerStep,
      tokens_per_s: (batch * seq) / (timed.msPerStep / 1000),
      cpu_ms_per_step: timed.cpuMsPerStep,
      peak_rss_mb: timed.peakRssMb,
      first_step_ms: timed.firstStepMs,
      samples_ms: timed.samples,
    };
  },
};
