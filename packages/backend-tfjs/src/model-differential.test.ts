import { createOnnxBackend } from '@nnd/backend-onnx';
import { HookedTransformer, hookName } from '@nnd/models';
import type { Backend } from '@nnd/core';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTfjsBackend } from './index.js';

/** The Hugging Face fixtures (config, safetensors, transformers' own outputs) that @nnd/models keeps for its parity tests. */
const HF_TINY = resolve(dirname(fileURLToPath(import.meta.url)), '../../models/fixtures/hf-tiny');
const FIXTURES = ['tiny-gpt2', 'tiny-gpt-neox', 'tiny-llama'] as const;

/** max |actual - expected| / max |expected|, the fixtures' parity measure. */
function relativeError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  let difference = 0;
  let scale = 0;
  for (let i = 0; i < expected.length; i++) {
    difference = Math.max(difference, Math.abs(actual[i] - expected[i]));
    scale = Math.max(scale, Math.abs(expected[i]));
  }
  return difference / scale;
}

describe('transformer forward passes agree between tfjs (wasm), backend-onnx and Hugging Face', () => {
  const onnx = createOnnxBackend({ device: 'cpu', threads: 1 });
  let tfjs: Backend;
  beforeAll(async () => {
    tfjs = await createTfjsBackend({ runtime: 'wasm' });
  });
  afterAll(() => Promise.all([onnx.dispose(), tfjs.dispose()]));

  it.each(FIXTURES)('%s: logits, every residual stream and the loss', async (fixture) => {
    const reference = JSON.parse(readFileSync(join(HF_TINY, fixture, 'reference.json'), 'utf8')) as { input_ids: number[][]; loss: number; logits: number[][][] };
    const run = async (backend: Backend) => {
      const model = await HookedTransformer.fromPretrained(join(HF_TINY, fixture), { backend });
      const names = [...Array.from({ length: model.config.layerCount }, (_, layer) => hookName('resid_pre', layer)), hookName('ln_final')];
      const result = await model.run(reference.input_ids, { names, returnType: 'both' });
      await model.dispose();
      return { names, ...result };
    };
    const [expected, actual] = [await run(onnx), await run(tfjs)];
    expect(actual.logits!.shape).toEqual(expected.logits!.shape);
    const logits = actual.logits!.data as Float32Array;
    expect(relativeError(logits, expected.logits!.data as Float32Array)).toBeLessThan(1e-5);
    expect(relativeError(logits, reference.logits.flat(2))).toBeLessThan(1e-4);
    for (const name of actual.names) {
      expect(relativeError(actual.cache[name].data as Float32Array, expected.cache[name].data as Float32Array), name).toBeLessThan(1e-5);
    }
    expect(Math.abs(actual.loss! - expected.loss!)).toBeLessThan(1e-5);
    expect(Math.abs(actual.loss! - reference.loss)).toBeLessThan(1e-4);
  });
});
