import { createOnnxBackend } from '@nnd/backend-onnx';
import { Rng, type Decomposition, type HostTensor } from '@nnd/core';
import { createSae } from '@nnd/sae';
// Imported by path: the bench workspace does not depend on these packages.
import { collectDashboard } from '../packages/dashboard/src/index.js';
import { HookedTransformer, initializeParameters } from '../packages/models/src/index.js';
import type { Benchmark } from './benchmarks.js';
import { HARVEST_PROBLEM_OPTIONS, harvestModelConfig } from './harvest.js';

/**
 * The dashboard's collection pass next to a plain harvest of the same
 * tokens, on the same random-weight GPT-2-shaped model: the harvest is
 * HookedTransformer.runWithCache of the hook (as `bench harvest`), the
 * dashboard pass is collectDashboard of a TopK SAE on that hook (the model
 * to the hook, the encoder, the feature values to the host, the heaps,
 * counts and histograms). `ratio` is the dashboard's total time over
 * `--batches` batches after the first (compile and warm-up) divided by the
 * harvests' total, batch for batch on the same tokens.
 */
export const dashboardBenchmark: Benchmark = {
  options: {
    ...HARVEST_PROBLEM_OPTIONS,
    'dict-size': { type: 'string', default: '12288' },
    k: { type: 'string', default: '32' },
    /** Features collected, A-B inclusive; default all. */
    features: { type: 'string' },
    window: { type: 'string', default: '16' },
    /** Dashboard batches timed (each after a harvest of the same tokens); the heaps fill over the first ones, as in a real pass. */
    batches: { type: 'string', default: '32' },
    /** Read the dense featureActs even where the decomposition gives its kept pairs (the path of decompositions without them). */
    dense: { type: 'boolean', default: false },
    /** Hide the SAE's kept pairs, so the pass selects the non-zero values of its dense featureActs on the device (the path of JumpReLU and the other families without them). */
    select: { type: 'boolean', default: false },
    /** A JumpReLU SAE instead, its threshold set so that about this many features fire per token (no kept pairs: its non-zero values are selected on the device, or with --dense read dense). */
    'jumprelu-l0': { type: 'string' },
    /** Time each stage of the pass (harvest, encoder, selection, host collector) as programs of their own instead (see dashboard-breakdown.ts). */
    breakdown: { type: 'boolean', default: false },
  },
  async run(options, log) {
    const number = (key: string) => Number(options[key]);
    const config = harvestModelConfig(options);
    const [batch, seq] = [number('batch'), number('seq')];
    const hook = String(options.hook);
    const backend = createOnnxBackend();
    const model = new HookedTransformer(config, initializeParameters(config, 0), { backend, modelBatchSize: batch });
    const rng = new Rng(1);
    const tokens = { dtype: 'int64' as const, shape: [batch, seq], data: BigInt64Array.from({ length: batch * seq }, () => BigInt(rng.int(config.vocabSize))) };

    const dictSize = number('dict-size');
    const topK = createSae({ architecture: 'topk', act_size: config.hiddenSize, dict_size: dictSize, top_k: number('k'), hook_point: hook });
    const jumpReluL0 = options['jumprelu-l0'] === undefined ? undefined : Number(options['jumprelu-l0']);
    const jumpRelu = jumpReluL0 === undefined ? undefined : createSae({ architecture: 'jumprelu', act_size: config.hiddenSize, dict_size: dictSize, hook_point: hook });
    const sae: Decomposition = jumpRelu
      ? jumpRelu
      : options.select
        ? {
            ...topK,
            inferOutputs: (...args) => {
              const { keptFeatures: _kept, ...rest } = topK.inferOutputs!(...args);
              return rest;
            },
          }
        : topK;
    const match = options.features === undefined ? undefined : /^(\d+)-(\d+)$/.exec(String(options.features));
    const features = match ? { start: Number(match[1]), end: Number(match[2]) + 1 } : undefined;
    const batches = number('batches');
    const params = sae.initialParams(new Rng(2));
    if (jumpReluL0 !== undefined) params.log_threshold = await jumpReluThreshold(model, tokens, hook, params, jumpReluL0);
    if (options.breakdown) {
      const { dashboardBreakdown } = await import('./dashboard-breakdown.js');
      const stages = await dashboardBreakdown({
        model,
        backend,
        sae,
        params,
        state: sae.initialState(),
        tokens,
        hook,
        k: number('k'),
        batches,
        window: number('window'),
      });
      for (const [stage, { wall_ms, cpu_ms }] of Object.entries(stages)) log(`  ${stage}: ${wall_ms.toFixed(1)} ms wall, ${cpu_ms.toFixed(1)} ms cpu (median per batch)`);
      await model.dispose();
      await backend.dispose();
      return { benchmark: 'dashboard-breakdown', n_layer: config.layerCount, d_model: config.hiddenSize, hook, batch, seq, dict_size: dictSize, k: number('k'), batches, stages };
    }
    // Harvest and dashboard batches alternate, so that a busy machine slows both alike: before each dashboard batch
    // but the first, the batch source times one harvest of the same tokens, and that time is taken out of the interval.
    await model.runWithCache(tokens, { names: [hook], returnType: 'none' });
    const harvestMs: number[] = [];
    // CPU time of the whole process (ONNX Runtime's threads included): on a machine shared with other jobs it varies less than wall time.
    const harvestCpuMs: number[] = [];
    const cpuNow = () => {
      const { user, system } = process.cpuUsage();
      return (user + system) / 1000;
    };
    async function* interleaved() {
      for (let index = 0; index < batches + 1; index++) {
        if (index > 0) {
          const started = performance.now();
          const cpuStarted = cpuNow();
          await model.runWithCache(tokens, { names: [hook], returnType: 'none' });
          harvestMs.push(performance.now() - started);
          harvestCpuMs.push(cpuNow() - cpuStarted);
        }
        yield tokens;
      }
    }
    const stamps: number[] = [];
    const cpuStamps: number[] = [];
    const heapBefore = process.memoryUsage().heapUsed;
    const started = performance.now();
    const data = await collectDashboard({
      model,
      decomposition: sae,
      params,
      state: sae.initialState(),
      features,
      window: number('window'),
      sparse: !options.dense,
      batches: interleaved(),
      onBatch: () => {
        stamps.push(performance.now());
        cpuStamps.push(cpuNow());
      },
    });
    // After the last batch: the collector's statistics and the logit effects, once per pass whatever its length.
    const finishMs = performance.now() - stamps.at(-1)!;
    const heapMiB = (process.memoryUsage().heapUsed - heapBefore) / 2 ** 20;
    const dashboardMs = stamps.slice(1).map((stamp, index) => stamp - stamps[index]! - harvestMs[index]!);
    const dashboardCpuMs = cpuStamps.slice(1).map((stamp, index) => stamp - cpuStamps[index]! - harvestCpuMs[index]!);
    const sum = (list: number[]) => list.reduce((total, value) => total + value, 0);
    const harvestTotal = sum(harvestMs);
    const dashboardTotal = sum(dashboardMs);
    const median = (list: number[]) => {
      const sorted = [...list].sort((a, b) => a - b);
      const middle = Math.floor(sorted.length / 2);
      return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
    };
    log(
      `harvest of ${hook}: ${median(harvestMs).toFixed(0)} ms median per batch of ${batch} x ${seq}; dashboard of ${data.features.length} features: ${median(dashboardMs).toFixed(0)} ms median ` +
        `(${dashboardMs.map((value) => value.toFixed(0)).join(', ')}); over ${batches} batches ${(dashboardTotal / harvestTotal).toFixed(2)}x the harvest ` +
        `(cpu: ${median(harvestCpuMs).toFixed(0)} and ${median(dashboardCpuMs).toFixed(0)} ms median, ${(sum(dashboardCpuMs) / sum(harvestCpuMs)).toFixed(2)}x); ` +
        `compile and first batch ${(stamps[0]! - started).toFixed(0)} ms; statistics and logit effects after the last batch ${finishMs.toFixed(0)} ms; heap +${heapMiB.toFixed(0)} MiB`,
    );
    await model.dispose();
    await backend.dispose();
    return {
      benchmark: 'dashboard',
      n_layer: config.layerCount,
      d_model: config.hiddenSize,
      hook,
      batch,
      seq,
      dict_size: dictSize,
      features: data.features.length,
      architecture: sae.architecture,
      path: options.dense ? 'dense' : options.select || jumpRelu ? 'selected' : 'kept',
      batches,
      harvest_ms: median(harvestMs),
      dashboard_ms: median(dashboardMs),
      ratio: dashboardTotal / harvestTotal,
      median_ratio: median(dashboardMs) / median(harvestMs),
      harvest_cpu_ms: median(harvestCpuMs),
      dashboard_cpu_ms: median(dashboardCpuMs),
      cpu_ratio: sum(dashboardCpuMs) / sum(harvestCpuMs),
      median_cpu_ratio: median(dashboardCpuMs) / median(harvestCpuMs),
      harvest_tokens_per_s: (batches * batch * seq) / (harvestTotal / 1000),
      dashboard_tokens_per_s: (batches * batch * seq) / (dashboardTotal / 1000),
      first_batch_ms: stamps[0]! - started,
      finish_ms: finishMs,
      heap_growth_mib: heapMiB,
    };
  },
};

/**
 * log_threshold for a random JumpReLU SAE: one threshold for every feature,
 * the value that relu(x @ W_enc + b_enc) passes `l0` times per position on
 * average over the first 256 positions of `tokens` (computed on the host).
 */
async function jumpReluThreshold(model: HookedTransformer, tokens: HostTensor, hook: string, params: Record<string, HostTensor>, l0: number): Promise<HostTensor> {
  const x = (await model.runWithCache(tokens, { names: [hook] })).cache[hook]!.data as Float32Array;
  const [width, features] = params.W_enc!.shape as [number, number];
  const weights = params.W_enc!.data as Float32Array;
  const bias = params.b_enc!.data as Float32Array;
  const positions = Math.min(256, x.length / width);
  const pre = new Float32Array(positions * features);
  for (let position = 0; position < positions; position++)
    for (let feature = 0; feature < features; feature++) {
      let sum = bias[feature]!;
      for (let index = 0; index < width; index++) sum += x[position * width + index]! * weights[index * features + feature]!;
      pre[position * features + feature] = Math.max(0, sum);
    }
  pre.sort();
  const threshold = pre[Math.floor(pre.length * (1 - l0 / features))]!;
  return { dtype: 'float32', shape: [features], data: new Float32Array(features).fill(Math.log(threshold)) };
}
