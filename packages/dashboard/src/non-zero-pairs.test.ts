import { createOnnxBackend } from '@nnd/backend-onnx';
import { abs, cast, DECOMPOSITION_SPECIFICATION_VERSION, greater, hostTensor, matmul, mul, Rng, type Backend, type Decomposition, type HostTensor } from '@nnd/core';
import { HookedTransformer, initializeParameters } from '@nnd/models';
import { afterAll, describe, expect, it } from 'vitest';
import { collectDashboard } from './collect-dashboard.js';
import { INITIAL_KEEP, mayOverflow, nextKeep } from './non-zero-pairs.js';
import { randomBatches, TINY_CONFIG, tinyModel } from './token-detector.test-support.js';

describe('non-zero pairs', () => {
  it('flags a batch when a position kept as many pairs as it could and the last is not 0', () => {
    // Two positions of 3 pairs each, by decreasing magnitude.
    expect(mayOverflow(Float32Array.of(5, -2, 0, 4, 0, 0), 3)).toBe(false);
    expect(mayOverflow(Float32Array.of(5, -2, 0, 4, 1, -0.5), 3)).toBe(true);
    expect(mayOverflow(Float32Array.of(5, -2, 1e-30, 0, 0, 0), 3)).toBe(true);
  });

  it('doubles the count until it would pass an eighth of the columns, then gives up for the dense values', () => {
    expect(nextKeep(64, 2048)).toBe(128);
    expect(nextKeep(128, 2048)).toBe(256);
    expect(nextKeep(256, 2048)).toBeUndefined();
    expect(nextKeep(64, 256)).toBeUndefined();
  });
});

const backend = createOnnxBackend();
const model = tinyModel(backend);
afterAll(async () => {
  await model.dispose();
});

/**
 * A decomposition of hook_embed whose feature j is x . w_j where
 * |x . w_j| > t_j, else 0 (signed values), with t_j set so that it is
 * non-zero on exactly `tokensPerFeature` of the vocabulary's tokens; also
 * the most non-zero values any token has.
 */
function signedSparse(features: number, tokensPerFeature: number): { decomposition: Decomposition; params: Record<string, HostTensor>; busiest: number } {
  const width = TINY_CONFIG.hiddenSize;
  const vocab = TINY_CONFIG.vocabSize;
  const embedding = model.parameter('embed.W_E').data as Float32Array;
  const weights = new Rng(21).normal(width * features);
  const thresholds = new Float32Array(features);
  const perToken = new Array<number>(vocab).fill(0);
  for (let feature = 0; feature < features; feature++) {
    const magnitudes = Array.from({ length: vocab }, (_, token) => {
      let sum = 0;
      for (let index = 0; index < width; index++) sum += embedding[token * width + index]! * weights[index * features + feature]!;
      return { token, magnitude: Math.abs(sum) };
    }).sort((a, b) => b.magnitude - a.magnitude);
    // Half-way between the last token it fires on and the first it does not: far from float rounding.
    thresholds[feature] = (magnitudes[tokensPerFeature - 1]!.magnitude + magnitudes[tokensPerFeature]!.magnitude) / 2;
    for (const { token } of magnitudes.slice(0, tokensPerFeature)) perToken[token]!++;
  }
  const hook = 'hook_embed';
  const decomposition: Decomposition = {
    specificationVersion: DECOMPOSITION_SPECIFICATION_VERSION,
    architecture: 'signed_sparse',
    config: {},
    reads: [{ hook, width }],
    writes: [{ hook, width }],
    initialParams: () => ({}),
    initialState: () => ({}),
    forward: (_graph, { inputs }, params) => {
      const pre = matmul(inputs[hook]!, params.W!);
      const featureActs = mul(pre, cast(greater(abs(pre), params.t!), 'float32'));
      return { outputs: { [hook]: inputs[hook]! }, featureActs, losses: {}, metrics: {}, nextState: {} };
    },
  };
  const params = { W: hostTensor('float32', [width, features], weights), t: hostTensor('float32', [features], thresholds) };
  return { decomposition, params, busiest: Math.max(...perToken) };
}

/** The backend, counting compiled programs and their runs. */
function countingBackend(): { backend: Backend; compiled: () => number; runs: () => number } {
  let compiled = 0;
  let runs = 0;
  const counting: Backend = Object.create(backend);
  counting.compile = async (graph, options) => {
    compiled++;
    const program = await backend.compile(graph, options);
    const run = program.run.bind(program);
    program.run = (feeds) => {
      runs++;
      return run(feeds);
    };
    return program;
  };
  return { backend: counting, compiled: () => compiled, runs: () => runs };
}

describe('collectDashboard without kept pairs from the decomposition', () => {
  const batches = randomBatches(3, 4, 32, 2);
  // 2048 features on 1 of 24 tokens each: up to about 200 non-zero values per position (tokens with long embeddings have most), past 64 and 128 pairs.
  // 256 features on half the tokens: about 128 per position, past an eighth of the columns, so the dense values.
  for (const [features, tokensPerFeature] of [
    [2048, 1],
    [256, 12],
  ] as const)
    it(`selects every non-zero value's pair on the device, growing the count or reading the dense values, with exactly the dense path's dashboard (${features} features)`, async () => {
      const { decomposition, params, busiest } = signedSparse(features, tokensPerFeature);
      expect(busiest).toBeGreaterThan(INITIAL_KEEP);
      const counting = countingBackend();
      const counted = new HookedTransformer(TINY_CONFIG, initializeParameters(TINY_CONFIG, 5), { backend: counting.backend });
      const options = { decomposition, params, state: {}, batches, window: 3, topExamples: 5, quantileExamples: 4, excludedTokenId: 0, logitTokens: 0 };
      const sparse = await collectDashboard({ ...options, model: counted });
      await counted.dispose();
      const dense = await collectDashboard({ ...options, model, sparse: false });
      expect(dense.features.some(({ histogram }) => histogram.negative > 0)).toBe(true);
      expect(sparse).toEqual(dense);
      // The first batch runs again with 128 and 256 pairs (2048 features), or once more with the dense program (256).
      if (features === 2048) {
        expect(busiest).toBeGreaterThan(2 * INITIAL_KEEP);
        expect(busiest).toBeLessThanOrEqual(4 * INITIAL_KEEP);
        expect(counting.compiled()).toBe(1);
        expect(counting.runs()).toBe(batches.length + 2);
      } else {
        expect(counting.compiled()).toBe(2);
        expect(counting.runs()).toBe(batches.length + 1);
      }
    });
});
