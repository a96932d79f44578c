import { Rng } from '@nnd/core';
import { BACKEND_OPTIONS } from './backend-option.js';
import type { Benchmark } from './benchmarks.js';
import { timeTrainingSteps } from './timing.js';

const TYPES = ['vanilla', 'topk', 'batchtopk', 'jumprelu'] as const;

/**
 * One SAE training step (forward, gradients, clipping, decoder constraint,
 * Adam, dead-feature counters, metrics: one compiled program) through the
 * real trainer. Step times are the gaps between consecutive logger calls, so
 * they include the trainer's own work (feeding state back, reading the metric
 * scalars); the first `warmup` steps (session creation, first-run allocation)
 * are not counted. TopK and BatchTopK take their cheaper variant (no
 * auxiliary loss while no feature can be dead) from step 0, as a fresh run
 * does, and the full step at step 1 (see timing.ts: a real run takes it once
 * features die), so by default the first three steps are warm-up.
 */
/** The training problem and its timing, shared with `sae-pytorch` so that both time the same thing. */
export const SAE_PROBLEM_OPTIONS = {
  type: { type: 'string', default: 'topk' },
  'act-size': { type: 'string', default: '768' },
  'dict-size': { type: 'string', default: '12288' },
  batch: { type: 'string', default: '4096' },
  k: { type: 'string', default: '32' },
  steps: { type: 'string', default: '5' },
  warmup: { type: 'string', default: '3' },
  'l1-coeff': { type: 'string' },
  'aux-penalty': { type: 'string' },
} as const satisfies Benchmark['options'];

export const saeBenchmark: Benchmark = {
  options: {
    ...SAE_PROBLEM_OPTIONS,
    device: { type: 'string', default: 'cpu' },
    ...BACKEND_OPTIONS,
    /** Also time each op of the step with ORT's profiler (onnx only). */
    profile: { type: 'boolean', default: false },
    /** Instead of training, the peak of each step program's live intermediates inside onnxruntime, and what is alive there (onnx cpu). */
    memory: { type: 'boolean', default: false },
  },
  async run(options, log) {
    const type = options.type as (typeof TYPES)[number];
    if (!TYPES.includes(type)) throw new Error(`--type must be one of ${TYPES.join(', ')}, got ${String(options.type)}`);
    const [actSize, dictSize, batchSize, k, steps, warmup] = ['act-size', 'dict-size', 'batch', 'k', 'steps', 'warmup'].map((key) => Number(options[key]));
    const device = options.device as 'cpu' | 'webgpu';
    // Loaded here so that the other benchmarks run even while these packages are being written.
    const { createSae } = await import('@nnd/sae');

    const saeConfig: Record<string, unknown> = { architecture: type, act_size: actSize, dict_size: dictSize, batch_size: batchSize };
    if (type === 'topk' || type === 'batchtopk') saeConfig.top_k = k;
    if (options['aux-penalty'] !== undefined) saeConfig.aux_penalty = Number(options['aux-penalty']);
    if (options['l1-coeff'] !== undefined) saeConfig.l1_coeff = Number(options['l1-coeff']);
    else if (type === 'vanilla' || type === 'jumprelu') saeConfig.l1_coeff = 1e-3;
    const sae = createSae(saeConfig);

    // Two pre-drawn batches, alternated: drawing 3M normals in JS each step would be timed too.
    const rng = new Rng(0);
    const batches = [rng.normal(batchSize * actSize), rng.normal(batchSize * actSize)];
    let position = 0;
    const source = { nextBatch: async () => batches[position++ % batches.length] };

    if (options.profile) {
      const { profileTrainingStep } = await import('./sae-profile.js');
      const profile = await profileTrainingStep(sae, batches[0], batchSize, device, steps, warmup);
      for (const [op, ms] of Object.entries(profile.ops)) log(`  ${op}: ${ms.toFixed(1)} ms per step`);
      return { benchmark: 'sae-profile', type, device, act_size: actSize, dict_size: dictSize, batch: batchSize, k, ...profile };
    }

    if (options.memory) {
      const { stepMemory } = await import('./sae-memory.js');
      const programs = await stepMemory(sae, batches[0], batchSize);
      for (const program of programs) {
        log(`${program.variant ?? 'full step'}: ${program.peak_live_mb} MB live at ${program.peak_at}`);
        for (const tensor of program.alive) log(`  ${tensor.mb} MB ${tensor.op} ${tensor.value}, kernels ${tensor.made} to ${tensor.lastRead}`);
      }
      return { benchmark: 'sae-memory', type, act_size: actSize, dict_size: dictSize, batch: batchSize, k, programs };
    }

    const timed = await timeTrainingSteps(sae, source, { batchSize, steps, warmup }, options, log);
    return {
      benchmark: 'sae',
      type,
      backend: timed.backend,
      device,
      act_size: actSize,
      dict_size: dictSize,
      batch: batchSize,
      k,
      steps,
      warmup,
      ms_per_step: timed.msPerStep,
      tokens_per_s: batchSize / (timed.msPerStep / 1000),
      cpu_ms_per_step: timed.cpuMsPerStep,
      peak_rss_mb: timed.peakRssMb,
      first_step_ms: timed.firstStepMs,
      first_step_cpu_ms: timed.firstStepCpuMs,
      samples_ms: timed.samples,
    };
  },
};
