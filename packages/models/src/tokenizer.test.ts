import { ConfigError } from '@nnd/core';
import { createOnnxBackend } from '@nnd/backend-onnx';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BYTE_LEVEL_BOS_ID, BYTE_LEVEL_EOS_ID, byteLevelTokenizerConfig, byteLevelTokenizerJson } from './byte-level-tokenizer.js';
import { HookedTransformer } from './hooked-transformer.js';
import { initializeParameters } from './initialize-parameters.js';
import { saveGpt2Directory } from './save-gpt2-directory.js';
import { TEST_CONFIGS } from './test-configs.test-support.js';
import { Tokenizer } from './tokenizer.js';

const backend = createOnnxBackend({ device: 'cpu' });
let directory: string;
const config = { ...TEST_CONFIGS.gpt2, vocabSize: 258, bosTokenId: BYTE_LEVEL_BOS_ID, eosTokenId: BYTE_LEVEL_EOS_ID };

beforeAll(async () => {
  directory = await mkdtemp(join(tmpdir(), 'nnd-tokenizer-'));
  await saveGpt2Directory(directory, config, initializeParameters(config, 2), {
    'tokenizer.json': byteLevelTokenizerJson(),
    'tokenizer_config.json': byteLevelTokenizerConfig(config.contextLength),
  });
});
afterAll(async () => {
  await rm(directory, { recursive: true, force: true });
  await backend.dispose();
});

describe('Tokenizer (transformers.js AutoTokenizer, local files only)', () => {
  it('round-trips any text through the byte-level tokenizer.json', async () => {
    const tokenizer = await Tokenizer.fromDirectory(directory);
    const text = 'Mr. Speaker, the State of the Union is strong — “über” 日本 \n\t 1790!';
    const ids = tokenizer.encode(text);
    expect(ids).toEqual([...new TextEncoder().encode(text)]);
    expect(tokenizer.decode(ids)).toBe(text);
    expect(tokenizer.bosTokenId).toBe(BYTE_LEVEL_BOS_ID);
  });

  it('toTokens prepends BOS, truncates to the context and pads batches like TransformerLens', async () => {
    const model = await HookedTransformer.fromPretrained(directory, { backend });
    expect(model.tokenizer).toBeDefined();
    const one = model.toTokens('Hi');
    expect(one.shape).toEqual([1, 3]);
    expect([...one.data]).toEqual([256n, 72n, 105n]);
    expect([...model.toTokens('Hi', { prependBos: false }).data]).toEqual([72n, 105n]);
    expect(model.toTokens('x'.repeat(100)).shape).toEqual([1, config.contextLength]);
    expect(model.toTokens('x'.repeat(100), { truncate: false }).shape).toEqual([1, 101]);
    const batch = model.toTokens(['a', 'abc']);
    expect(batch.shape).toEqual([2, 4]);
    expect([...batch.data]).toEqual([256n, 97n, 257n, 257n, 256n, 97n, 98n, 99n]);
    expect(await model.loss(model.toTokens('The State of the Union'))).toBeGreaterThan(0);
    await model.dispose();
  });

  it('a directory without tokenizer.json gives a ConfigError naming it', async () => {
    await expect(Tokenizer.fromDirectory(tmpdir())).rejects.toThrow(ConfigError);
    const model = new HookedTransformer(TEST_CONFIGS.gpt2, initializeParameters(TEST_CONFIGS.gpt2), { backend });
    expect(() => model.toTokens('hi')).toThrow(/no tokenizer/);
  });
});
