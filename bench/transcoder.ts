import { Rng } from '@nnd/core';
import { BACKEND_OPTIONS, createBenchBackend } from './backend-option.js';
import type { Benchmark } from './benchmarks.js';

const TYPES = ['vanilla', 'topk', 'batchtopk', 'jumprelu'] as const;

/** The training problem, named as `bench/pytorch/transcoder_step.py bench` names it. */
export const TRANSCODER_PROBLEM_OPTIONS = {
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
 * `warmup` steps; TopK and BatchTopK compile their no-auxiliary-loss variant
 * at step 1). The batch is an input [batch, d_in] and a target [batch,
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
    const { trainDecomposition } = await import('@nnd/train');

    const config: Record<string, unknown> = {
      architecture: `${type}_transcoder`, input_size: dIn, output_size: dOut, dict_size: dictSize, batch_size: batchSize, skip,
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

    const stamps: number[] = [];
    const cpuStamps: number[] = [];
    const start = performance.now();
    const backend = await createBenchBackend(options);
    await trainDecomposition(transcoder, source, { num_tokens: batchSize * (warmup + steps), batch_size: batchSize, log_freq: 1, perf_log_freq: 1e9, checkpoint_freq: 1e9 }, {
      backend,
      handleSignals: false,
      logger: {
        log(metrics, step) {
          stamps.push(performance.now());
          const { user, system } = process.cpuUsage();
          cpuStamps.push((user + system) / 1000);
          log(`step ${step}: ${(stamps[stamps.length - 1] - (stamps[stamps.length - 2] ?? start)).toFixed(0)} ms, loss ${metrics.loss.toPrecision(4)}, l0 ${metrics.l0_norm?.toFixed(1)}`);
        },
      },
    });
    await backend.dispose();

    const samples = stamps.slice(warmup).map((stamp, index) => stamp - stamps[warmup - 1 + index]);
    const cpuSamples = cpuStamps.slice(warmup).map((stamp, index) => stamp - cpuStamps[warmup - 1 + index]);
    const median = medianOf(samples);
    // maxRSS is in kilobytes.
    const peakRssMb = process.resourceUsage().maxRSS / 1024;
    log(`${type}${skip ? ' skip' : ''} transcoder on ${backend.name} ${backend.capabilities.device}: ${median.toFixed(0)} ms per step median (${samples.map((sample) => sample.toFixed(0)).join(', ')}), CPU ${medianOf(cpuSamples).toFixed(0)} ms per step, peak RSS ${peakRssMb.toFixed(0)} MB`);
    return {
      benchmark: 'transcoder', type, skip, backend: backend.name, device, d_in: dIn, d_out: dOut, dict_size: dictSize, batch: batchSize, k, steps, warmup,
      ms_per_step: median,
      tokens_per_s: batchSize / (median / 1000),
      cpu_ms_per_step: medianOf(cpuSamples),
      peak_rss_mb: peakRssMb,
      first_step_ms: stamps[0] - start,
      samples_ms: samples,
    };
  },
};

function medianOf(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}
