import { createOnnxBackend } from '@nnd/backend-onnx';
import { readFileSync, statSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BYTE_LEVEL_BOS_ID } from './byte-level-tokenizer.js';
import { HookedTransformer } from './hooked-transformer.js';
import { tinyLanguageModelDirectory } from './tiny-language-model.js';

const directory = tinyLanguageModelDirectory();
const backend = createOnnxBackend({ device: 'cpu' });
afterAll(() => backend.dispose());

describe('the tiny LM that ships with nnd', () => {
  it('loads from its Hugging Face layout, tokenizes round trip and predicts English far better than chance', async () => {
    const bytes = readdirSync(directory).reduce((total, file) => total + statSync(join(directory, file)).size, 0);
    expect(bytes).toBeLessThan(8 * 1024 * 1024);
    const model = await HookedTransformer.fromPretrained(directory, { backend });
    expect(model.config).toMatchObject({ modelType: 'gpt2', layerCount: 4, hiddenSize: 128, headCount: 4, contextLength: 128 });
    const text = 'We must work together to strengthen our economy and to keep the American people safe.';
    const tokens = model.toTokens(text);
    expect(Number(tokens.data[0])).toBe(BYTE_LEVEL_BOS_ID);
    expect(model.tokenizer!.decode([...tokens.data].slice(1))).toBe(text);
    const bitsPerByte = (await model.loss(tokens)) / Math.LN2;
    const card = JSON.parse(readFileSync(join(directory, 'training.json'), 'utf8')) as { held_out_bits_per_byte: number; unigram_baseline_bits_per_byte: number };
    expect(card.held_out_bits_per_byte).toBeLessThan(card.unigram_baseline_bits_per_byte);
    expect(bitsPerByte).toBeLessThan(3.5);
    await model.dispose();
  });

  it("is what fromPretrained('tiny-lm') loads, offline, as the CLI's model_name does", async () => {
    const byName = await HookedTransformer.fromPretrained('tiny-lm', { backend, fetch: () => Promise.reject(new Error('offline')) });
    const byDirectory = await HookedTransformer.fromPretrained(directory, { backend });
    expect(byName.config).toEqual(byDirectory.config);
    expect(byName.parameter('embed.W_E').data).toEqual(byDirectory.parameter('embed.W_E').data);
    await byName.dispose();
    await byDirectory.dispose();
  });
});
