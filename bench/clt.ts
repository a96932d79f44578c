import { Rng } from '@nnd/core';
import { BACKEND_OPTIONS, createBenchBackend } from './backend-option.js';
import type { Benchmark } from './benchmarks.js';

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
    const { trainDecomposition } = await import('@nnd/train');

    const config: Record<string, unknown> = {
      encoder_type: type, layers: Array.from({ length: layers }, (_, i) => i), dict_size: dictSize, input_size: dModel, output_size: dModel,
      top_k: k, n_batches_to_dead: 5, sparse_decoder: options['sparse-decoder'] !== 'false',
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

    const stamps: number[] = [];
    const cpuStamps: number[] = [];
    const start = performance.now();
    const backend = await createBenchBackend(options);
    await trainDecomposition(clt, source, { num_tokens: batchSize * (warmup + steps), batch_size: batchSize, log_freq: 1, perf_log_freq: 1e9, checkpoint_freq: 1e9 }, {
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
    const peakRssMb = process.resourceUsage().maxRSS / 1024;
    log(`clt ${type} x${layers} on ${backend.name} ${backend.capabilities.device}: ${median.toFixed(0)} ms per step median (${samples.map((sample) => sample.toFixed(0)).join(', ')}), CPU ${medianOf(cpuSamples).toFixed(0)} ms per step, peak RSS ${peakRssMb.toFixed(0)} MB`);
    return {
      benchmark: 'clt', type, backend: backend.name, device: options.device, layers, d_model: dModel, dict_size: dictSize, batch: batchSize, k, steps, warmup,
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
