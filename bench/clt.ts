import { Rng } from '@nnd/core';
import { BACKEND_OPTIONS } from './backend-option.js';
import type { Benchmark } from './benchmarks.js';
import { timeTrainingSteps } from './timing.js';

const TYPES = ['vanilla', 'topk', 'batchtopk', 'jumprelu'] as const;

/**
 * One cross-layer transcoder training step (all layers' encoders, the
 * triangular decoders, losses, gradients, clipping, decoder constraint, Adam,
 * counters: one compiled program) through the real trainer, timed as `bench
 * sae` times an SAE step: the gaps between consecutive logger calls after
 * `warmup` steps. Each layer reads and writes its own random stream. Also
 * reports the process's peak resident memory.
 */
export const cltBenchmark: Benchmark = {
  options: {
    type: { type: 'string', default: 'topk' },
    layers: { type: 'string', default: '4' },
    'd-model': { type: 'string', default: '768' },
    'dict-size': { type: 'string', default: '4096' },
    batch: { type: 'string', default: '4096' },
    k: { type: 'string', default: '16' },
    steps: { type: 'string', default: '5' },
    warmup: { type: 'string', default: '3' },
    'l1-coeff': { type: 'string' },
    'aux-penalty': { type: 'string' },
    'sparse-decoder': { type: 'string', default: 'true' },
    device: { type: 'string', default: 'cpu' },
    ...BACKEND_OPTIONS,
  },
  async run(options, log) {
    const type = options.type as (typeof TYPES)[number];
    if (!TYPES.includes(type)) throw new Error(`--type must be one of ${TYPES.join(', ')}, got ${String(options.type)}`);
    const [layers, dModel, dictSize, batchSize, k, steps, warmup] = ['layers', 'd-model', 'dict-size', 'batch', 'k', 'steps', 'warmup'].map((key) => Number(options[key]));
    const { createClt } = await import('@nnd/clt');

    const config: Record<string, unknown> = {
      encoder_type: type,
      layers: Array.from({ length: layers }, (_, i) => i),
      dict_size: dictSize,
      input_size: dModel,
      output_size: dModel,
      top_k: k,
      n_batches_to_dead: 5,
      sparse_decoder: options['sparse-decoder'] !== 'false',
    };
    if (options['aux-penalty'] !== undefined) config.aux_penalty = Number(options['aux-penalty']);
    if (options['l1-coeff'] !== undefined) config.l1_coeff = Number(options['l1-coeff']);
    else if (type === 'vanilla' || type === 'jumprelu') config.l1_coeff = 1e-3;
    const clt = createClt(config);

    // Two pre-drawn sets of batches, alternated: drawing them in JS each step would be timed too.
    const rng = new Rng(0);
    const hooks = [...clt.reads, ...clt.writes].map(({ hook }) => hook);
    const batches = [0, 1].map(() => Object.fromEntries(hooks.map((hook) => [hook, rng.normal(batchSize * dModel)])));
    let position = 0;
    const source = { nextBatch: async () => batches[position++ % batches.length] };

    const timed = await timeTrainingSteps(clt, source, { batchSize, steps, warmup }, options, log);
    return {
      benchmark: 'clt',
      type,
      backend: timed.backend,
      device: options.device,
      layers,
      d_model: dModel,
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
