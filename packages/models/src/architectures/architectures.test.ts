import { createOnnxBackend } from '@nnd/backend-onnx';
import { ConfigError, fromTypedArray, readSafetensors, toTypedArray, writeSafetensors, type SafetensorsTensor } from '@nnd/core';
import { cp, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HookedTransformer } from '../hooked-transformer.js';
import { HuggingFaceConfig } from '../hugging-face-config.js';
import { initializeParameters } from '../initialize-parameters.js';
import { saveGpt2Directory } from '../save-gpt2-directory.js';
import { TEST_CONFIGS, testTokens } from '../test-configs.test-support.js';
import { ARCHITECTURES, architectureFor, gptNeox, llama } from './index.js';

const backend = createOnnxBackend({ device: 'cpu' });
let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'nnd-architectures-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
  await backend.dispose();
});

const neoxBase = { model_type: 'gpt_neox', hidden_size: 64, num_attention_heads: 4, num_hidden_layers: 2, intermediate_size: 256, vocab_size: 512, max_position_embeddings: 128 };

describe('architecture converters', () => {
  it('are chosen by model_type from a map; unknown types list the supported ones', () => {
    expect([...ARCHITECTURES.keys()]).toEqual(['gpt2', 'gpt_neox', 'llama']);
    expect(() => architectureFor('bert', 'config.json')).toThrow(ConfigError);
    expect(() => architectureFor('bert', 'config.json')).toThrow(/supported model types: gpt2, gpt_neox, llama/);
  });

  it('read rotary settings from transformers 5 rope_parameters and from older top-level keys', () => {
    const modern = gptNeox.config(new HuggingFaceConfig({ ...neoxBase, rope_parameters: { partial_rotary_factor: 0.25, rope_theta: 10000, rope_type: 'default' } }, 'a'));
    const legacy = gptNeox.config(new HuggingFaceConfig({ ...neoxBase, rotary_pct: 0.25, rotary_emb_base: 10000 }, 'b'));
    expect(modern).toEqual(legacy);
    expect(modern).toMatchObject({ rotaryDim: 4, rotaryBase: 10000, parallelResidual: true, tiedEmbeddings: false, activation: 'gelu' });
    // Neither key: transformers' default rotary fraction, 0.25 (head size 16, so 4 rotary dimensions).
    expect(gptNeox.config(new HuggingFaceConfig(neoxBase, 'e')).rotaryDim).toBe(4);
    expect(gptNeox.config(new HuggingFaceConfig({ ...neoxBase, rotary_pct: 1 }, 'e')).rotaryDim).toBe(16);
    const llamaBase = { ...neoxBase, model_type: 'llama', num_key_value_heads: 2 };
    expect(llama.config(new HuggingFaceConfig({ ...llamaBase, rope_theta: 500000 }, 'c'))).toMatchObject({ rotaryBase: 500000, rotaryDim: 16, keyValueHeadCount: 2 });
    expect(llama.config(new HuggingFaceConfig({ ...llamaBase, rope_parameters: { rope_theta: 1e6, rope_type: 'default' } }, 'd')).rotaryBase).toBe(1e6);
    expect(() => llama.config(new HuggingFaceConfig({ ...llamaBase, rope_parameters: { rope_theta: 5e5, rope_type: 'llama3' } }, 'e'))).toThrow(/llama3/);
    expect(() => gptNeox.config(new HuggingFaceConfig({ ...neoxBase, hidden_size: 'wide' }, 'f.json'))).toThrow(/f\.json: "hidden_size"/);
  });

  it('GPT-2 loads names with or without the transformer. prefix, and F16 weights widened to float32', async () => {
    const config = TEST_CONFIGS.gpt2;
    const prefixed = join(root, 'prefixed');
    await saveGpt2Directory(prefixed, config, initializeParameters(config, 4));
    const { tensors } = readSafetensors(new Uint8Array(await readFile(join(prefixed, 'model.safetensors'))));
    const variants: Record<string, Map<string, SafetensorsTensor>> = { bare: new Map(), half: new Map() };
    for (const [name, tensor] of tensors) {
      variants.bare.set(name.replace(/^transformer\./, ''), { ...tensor, data: new Uint8Array(tensor.data) });
      variants.half.set(name, fromTypedArray('F16', tensor.shape, toTypedArray(tensor) as Float32Array));
    }
    const tokens = testTokens(2, 8, config.vocabSize);
    const reference = await HookedTransformer.fromPretrained(prefixed, { backend });
    const expected = await reference.loss(tokens);
    for (const [variant, variantTensors] of Object.entries(variants)) {
      const directory = join(root, variant);
      await mkdir(directory, { recursive: true });
      await cp(join(prefixed, 'config.json'), join(directory, 'config.json'));
      await writeSafetensors(join(directory, 'model.safetensors'), variantTensors);
      const model = await HookedTransformer.fromPretrained(directory, { backend });
      expect(await model.loss(tokens)).toBeCloseTo(expected, variant === 'half' ? 2 : 6);
      await model.dispose();
    }
    await reference.dispose();
  });
});
