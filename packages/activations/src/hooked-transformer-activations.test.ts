import { createOnnxBackend } from '@nnd/backend-onnx';
import { ConfigError, HookNotFoundError, type HostTensor } from '@nnd/core';
import {
  BYTE_LEVEL_BOS_ID,
  BYTE_LEVEL_EOS_ID,
  BYTE_LEVEL_VOCAB_SIZE,
  HookedTransformer,
  byteLevelTokenizerConfig,
  byteLevelTokenizerJson,
  initializeParameters,
  saveGpt2Directory,
  type TransformerConfig,
} from '@nnd/models';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ActivationModel } from './activation-model.js';
import { ActivationsStore } from './activations-store.js';
import { corpusSource } from './bundled-corpora.js';
import { hookedTransformerActivations, stopAtLayerFor } from './hooked-transformer-activations.js';
import { createHarvester } from './harvest-settings.js';

/** The LM that ships with @nnd/models; while it is not there yet, a randomly initialised one of the same kind stands in. */
const TINY_LM = resolve(dirname(fileURLToPath(import.meta.url)), '../../models/tiny-lm');
const HOOK = 'blocks.1.hook_resid_pre';
const backend = createOnnxBackend({ device: 'cpu' });
let temporary: string | undefined;
let transformer: HookedTransformer;
let model: ActivationModel;

beforeAll(async () => {
  let directory = TINY_LM;
  if (!existsSync(join(TINY_LM, 'config.json'))) {
    console.warn(`[activations] ${TINY_LM} is absent; harvesting from a randomly initialised byte-level GPT-2 instead.`);
    temporary = await mkdtemp(join(tmpdir(), 'nnd-activations-lm-'));
    const config: TransformerConfig = {
      modelType: 'gpt2',
      layerCount: 2,
      hiddenSize: 32,
      headCount: 4,
      keyValueHeadCount: 4,
      headSize: 8,
      mlpSize: 64,
      vocabSize: BYTE_LEVEL_VOCAB_SIZE,
      contextLength: 64,
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
      bosTokenId: BYTE_LEVEL_BOS_ID,
      eosTokenId: BYTE_LEVEL_EOS_ID,
    };
    await saveGpt2Directory(temporary, config, initializeParameters(config, 3), {
      'tokenizer.json': byteLevelTokenizerJson(),
      'tokenizer_config.json': byteLevelTokenizerConfig(config.contextLength),
    });
    directory = temporary;
  }
  transformer = await HookedTransformer.fromPretrained(directory, { backend });
  model = hookedTransformerActivations(transformer, { name: 'tiny-lm' });
});
afterAll(async () => {
  await transformer?.dispose();
  await backend.dispose();
  if (temporary !== undefined) await rm(temporary, { recursive: true, force: true });
});

describe('stopAtLayerFor', () => {
  it('builds the blocks a hook needs and no more, as the reference passes layer + 1', () => {
    expect(stopAtLayerFor(['blocks.2.hook_resid_pre'], 12)).toBe(2);
    expect(stopAtLayerFor(['blocks.2.hook_resid_post'], 12)).toBe(3);
    expect(stopAtLayerFor(['blocks.0.attn.hook_z', 'blocks.3.mlp.hook_post'], 12)).toBe(4);
    expect(stopAtLayerFor(['hook_embed'], 12)).toBe(0);
    expect(stopAtLayerFor(['ln_final.hook_normalized'], 12)).toBe(12);
  });
});

describe('hookedTransformerActivations (real model and tokenizer)', () => {
  it('sizes per-position hooks and rejects the others', () => {
    const { config } = transformer;
    expect(model.contextLength).toBe(config.contextLength);
    expect(model.activationSize(HOOK)).toBe(config.hiddenSize);
    expect(model.activationSize('blocks.0.attn.hook_z')).toBe(config.headCount * config.headSize);
    expect(model.activationSize('blocks.0.mlp.hook_post')).toBe(config.mlpSize);
    expect(() => model.activationSize('blocks.0.attn.hook_pattern')).toThrow(ConfigError);
    expect(() => model.activationSize('blocks.0.hook_resid_pree')).toThrow(HookNotFoundError);
    expect(model.tokenizer?.bosTokenId).toBe(BYTE_LEVEL_BOS_ID);
    expect(model.tokenizer?.specialTokenIds).toContain(BYTE_LEVEL_EOS_ID);
  });

  it('harvests the sotu corpus with the real tokenizer: the values of a full forward pass, from a run stopped early', async () => {
    const harvester = createHarvester({ model, dataset: corpusSource('sotu'), sequenceLength: 16, modelBatchSize: 4, log: () => undefined }, [HOOK, 'blocks.0.hook_mlp_out']);
    const batch = (await harvester.next())!;
    expect(batch.rows).toBe(64);
    // BOS, then the UTF-8 bytes of Washington's first address.
    const text = new TextEncoder().encode('Fellow-Citizens of the Senate and House of Representatives:');
    const tokens = Array.from(batch.tokens, Number);
    expect(tokens[0]).toBe(BYTE_LEVEL_BOS_ID);
    expect(tokens.slice(1, 1 + text.length)).toEqual(Array.from(text));
    const input: HostTensor<'int64'> = { dtype: 'int64', shape: [4, 16], data: batch.tokens };
    const full = await transformer.runWithCache(input, { names: [HOOK, 'blocks.0.hook_mlp_out'] });
    for (const hook of [HOOK, 'blocks.0.hook_mlp_out']) {
      const expected = full.cache[hook].data as Float32Array;
      const actual = batch.activations[hook];
      expect(actual.length).toBe(expected.length);
      let difference = 0;
      for (let index = 0; index < expected.length; index++) difference = Math.max(difference, Math.abs(actual[index] - expected[index]));
      expect(difference, hook).toBeLessThan(1e-5);
    }
  });

  it("feeds an ActivationsStore: shuffled rows of the model's activations, without BOS positions", async () => {
    const size = model.activationSize(HOOK);
    const settings = { model, dataset: corpusSource('sotu'), sequenceLength: 16, modelBatchSize: 4, log: () => undefined };
    const store = new ActivationsStore({ ...settings, hookPoint: HOOK, batchesInBuffer: 2, batchSize: 20, seed: 0, excludeSpecialTokens: true });
    const harvester = createHarvester({ ...settings, excludeSpecialTokens: true }, [HOOK]);
    const harvested = new Set<string>();
    for (let run = 0; run < 2; run++) {
      const values = (await harvester.next())!.activations[HOOK];
      for (let row = 0; row * size < values.length; row++) harvested.add(values.subarray(row * size, (row + 1) * size).join());
    }
    // The first buffer holds 2 runs of 64 positions less the BOS ones; 5 batches of 20 stay inside it.
    for (let step = 0; step < 5; step++) {
      const batch = await store.nextBatch();
      expect(batch.length).toBe(20 * size);
      for (let row = 0; row < 20; row++) expect(harvested.has(batch.subarray(row * size, (row + 1) * size).join())).toBe(true);
    }
  });
});
