import { Rng } from '@nnd/core';
import { BACKEND_OPTIONS } from './backend-option.js';
import type { Benchmark } from './benchmarks.js';
import { timeTrainingSteps } from './timing.js';

const TYPES = ['vanilla', 'topk', 'batchtopk', 'jumprelu'] as const;

/** The training problem, named as `bench/pytorch/transcoder_step.py bench` names it. */
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
  skip: { type: 'boolean', default: false },
} as const satisfies Benchmark['options'];

/**
 * One transcoder training step through the real trainer, timed as `bench
 * sae` times an SAE step (gaps between consecutive logger calls after
 * `warmup` steps; TopK and BatchTopK take their no-auxiliary-loss variant
 * from step 0 and the full step at step 1). The batch is an input [batch, d_in] and a target [batch,
 * d_out], two pre-drawn pairs alternated.
 */
export const transcoderBenchmark: Benchmark = {
  options: { ...TRANSCODER_PROBLEM_OPTIONS, device: { type: 'string', default: 'cpu' }, ...BACKEND_OPTIONS },
  async run(options, log) {
    const type = options.type as (typeof TYPES)[number];
    if (!TYPES.includes(type)) throw new Error(`--type must be one of ${TYPES.join(', ')}, got ${String(options.type)}`);
    const [dIn, dOut, dictSize, batchSize, k, steps, warmup] = ['d-in', 'd-out', 'dict-size', 'batch', 'k', 'steps', 'warmup'].map((key) => Number(options[key]));
    const device = options.device as 'cpu' | 'webgpu';
    const skip = options.skip === true;
    // Loaded here so that the other benchmarks run even while these packages are being written.
    const { createTranscoder } = await import('@nnd/transcoders');

    const config: Record<string, unknown> = {
      architecture: `${type}_transcoder`,
      input_size: dIn,
      output_size: dOut,
      dict_size: dictSize,
      batch_size: batchSize,
      skip,
    };
    if (type === 'topk' || type === 'batchtopk') config.top_k = k;
    if (options['aux-penalty'] !== undefined) config.aux_penalty = Number(options['aux-penalty']);
    if (options['l1-coeff'] !== undefined) config.l1_coeff = Number(options['l1-coeff']);
    else if (type === 'vanilla' || type === 'jumprelu') config.l1_coeff = 1e-3;
    const transcoder = createTranscoder(config);

    const rng = new Rng(0);
    const batches = [0, 1].map(() => ({ [transcoder.inputHook]: rng.normal(batchSize * dIn), [transcoder.outputHook]: rng.normal(batchSize * dOut) }));
    let position = 0;
    const source = { nextBatch: async () => batches[position++ % batches.length] };

    const timed = await timeTrainingSteps(transcoder, source, { batchSize, steps, warmup }, options, log);
    return {
      benchmark: 'transcoder',
      type,
      skip,
      backend: timed.backend,
      device,
      d_in: dIn,
      d_out: dOut,
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
      samples_ms: timed.samples,
    };
  },
};
