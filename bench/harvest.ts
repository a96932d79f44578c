import { createOnnxBackend } from '@nnd/backend-onnx';
import { Rng } from '@nnd/core';
// Imported by path: the bench workspace does not depend on @nnd/models.
import { HookedTransformer, initializeParameters, type TransformerConfig } from '../packages/models/src/index.js';
import type { Benchmark } from './benchmarks.js';
import { medianMs } from './timing.js';

/** Architecture shapes for random-weight models: only the fields that differ from GPT-2's. */
const ARCHITECTURE_DEFAULTS: Record<string, Partial<TransformerConfig>> = {
  gpt2: {},
  gpt_neox: { activation: 'gelu', positional: 'rotary', rotaryBase: 10000, parallelResidual: true, tiedEmbeddings: false },
  llama: {
    normalization: 'rmsNorm',
    activation: 'silu',
    positional: 'rotary',
    rotaryBase: 10000,
    gatedMlp: true,
    tiedEmbeddings: false,
    attentionBias: false,
    mlpBias: false,
  },
};

/** The model shape, hook, batch and timing, shared with `harvest-pytorch` so that both time the same forward. */
export const HARVEST_PROBLEM_OPTIONS = {
  'n-layer': { type: 'string', default: '12' },
  'd-model': { type: 'string', default: '768' },
  'n-head': { type: 'string', default: '12' },
  'n-ctx': { type: 'string', default: '1024' },
  vocab: { type: 'string', default: '50257' },
  hook: { type: 'string', default: 'blocks.8.hook_resid_pre' },
  batch: { type: 'string', default: '8' },
  seq: { type: 'string', default: '128' },
  runs: { type: 'string', default: '5' },
} as const satisfies Benchmark['options'];

/** The random-weight model `HARVEST_PROBLEM_OPTIONS` (and `--arch`, `--d-mlp`) describe; `bench dashboard` times the same model. */
export function harvestModelConfig(options: Record<string, unknown>): TransformerConfig {
  const number = (key: string) => Number(options[key]);
  const architecture = String(options.arch ?? 'gpt2').replace('-', '_');
  const overrides = ARCHITECTURE_DEFAULTS[architecture];
  if (!overrides) throw new Error(`--arch must be one of ${Object.keys(ARCHITECTURE_DEFAULTS).join(', ')}`);
  const hiddenSize = number('d-model');
  const headCount = number('n-head');
  const config: { -readonly [K in keyof TransformerConfig]: TransformerConfig[K] } = {
    modelType: architecture,
    layerCount: number('n-layer'),
    hiddenSize,
    headCount,
    keyValueHeadCount: headCount,
    headSize: hiddenSize / headCount,
    mlpSize: options['d-mlp'] ? number('d-mlp') : 4 * hiddenSize,
    vocabSize: number('vocab'),
    contextLength: number('n-ctx'),
    normalization: 'layerNorm',
    normEpsilon: 1e-5,
    activation: 'gelu_new',
    positional: 'learned',
    rotaryDim: 0,
    rotaryBase: 0,
    parallelResidual: false,
    gatedMlp: false,
    tiedEmbeddings: true,
    attentionBias: true,
    mlpBias: true,
    ...overrides,
  };
  // Pythia rotates a quarter of each head, Llama all of it.
  if (config.positional === 'rotary') config.rotaryDim = architecture === 'llama' ? config.headSize : config.headSize / 4;
  return config;
}

/**
 * Activation harvesting: tokens/s of a random-weight model of the given
 * shape computing one hook's activations (only the blocks that hook needs)
 * and returning them to the host, through HookedTransformer.runWithCache.
 */
export const harvestBenchmark: Benchmark = {
  options: {
    arch: { type: 'string', default: 'gpt2' },
    ...HARVEST_PROBLEM_OPTIONS,
    'd-mlp': { type: 'string' },
    device: { type: 'string', default: 'cpu' },
    /** Time each op of the program with ORT's profiler instead (CPU). */
    profile: { type: 'boolean', default: false },
  },
  async run(options, log) {
    const number = (key: string) => Number(options[key]);
    const config = harvestModelConfig(options);
    const architecture = config.modelType;
    const [batch, seq, runs] = [number('batch'), number('seq'), number('runs')];
    const hook = String(options.hook);
    const device = options.device as 'cpu' | 'webgpu';
    const backend = createOnnxBackend({ device });
    const parameters = initializeParameters(config, 0);
    const model = new HookedTransformer(config, parameters, { backend, modelBatchSize: batch });
    const rng = new Rng(1);
    const tokens = { dtype: 'int64' as const, shape: [batch, seq], data: BigInt64Array.from({ length: batch * seq }, () => BigInt(rng.int(config.vocabSize))) };
    if (options.profile) {
      const { profileHarvest } = await import('./harvest-profile.js');
      const profile = await profileHarvest(model, Object.fromEntries(parameters), tokens, hook, runs);
      for (const [op, ms] of Object.entries(profile.ops)) log(`  ${op}: ${ms.toFixed(1)} ms per run`);
      await model.dispose();
      await backend.dispose();
      return { benchmark: 'harvest-profile', arch: architecture, hook, batch, seq, ...profile };
    }

    const compiled = await model.compile({ outputs: [hook], returnType: 'none' });
    const blocks = new Set(compiled.program.inputNames.map((name) => /^blocks\.(\d+)\./.exec(name)?.[1]).filter((layer) => layer !== undefined));
    let shape: readonly number[] = [];
    const timing = await medianMs(
      async () => {
        // returnType 'none': no logits, so only the blocks the hook needs are built (the same program as compiled above).
        const { cache } = await model.runWithCache(tokens, { names: [hook], returnType: 'none' });
        shape = cache[hook].shape;
      },
      runs,
      1,
    );
    const tokensPerSecond = (batch * seq) / (timing.median / 1000);
    log(
      `${architecture} ${config.layerCount}x${config.hiddenSize}, ${hook} ${JSON.stringify(shape)}: ${timing.median.toFixed(0)} ms median ` +
        `(${timing.samples.map((sample) => sample.toFixed(0)).join(', ')}), ${tokensPerSecond.toFixed(0)} tokens/s, blocks built: ${blocks.size}`,
    );
    await model.dispose();
    await backend.dispose();
    return {
      benchmark: 'harvest',
      arch: architecture,
      n_layer: config.layerCount,
      d_model: config.hiddenSize,
      n_head: config.headCount,
      vocab: config.vocabSize,
      hook,
      batch,
      seq,
      device,
      runs,
      blocks_built: blocks.size,
      activation_shape: shape,
      ms: timing.median,
      tokens_per_s: tokensPerSecond,
    };
  },
};
