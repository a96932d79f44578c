import { createOnnxBackend } from '@nnd/backend-onnx';
import { DECOMPOSITION_SPECIFICATION_VERSION, hostTensor, matmul, mul, Rng, type Decomposition, type HostTensor, type TensorMap } from '@nnd/core';
import { HookedTransformer, tinyLanguageModelDirectory } from '@nnd/models';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyMlp, jacobianFaithfulness, mlpOfLayer, type MlpWeights } from './jacobian-faithfulness.js';
import { defaultRankCounts, parseMoltConfig } from './molt-config.js';
import { createMolt } from './molt.js';

const backend = createOnnxBackend();
let model: HookedTransformer;
let inputs: HostTensor;
let mlp: MlpWeights;
const LAYER = 1;
const IN = `blocks.${LAYER}.ln2.hook_normalized`;
const OUT = `blocks.${LAYER}.hook_mlp_out`;

beforeAll(async () => {
  model = await HookedTransformer.fromPretrained(tinyLanguageModelDirectory(), { backend });
  const rng = new Rng(1);
  const tokens = hostTensor(
    'int64',
    [2, 12],
    BigInt64Array.from({ length: 24 }, () => BigInt(rng.int(model.config.vocabSize))),
  );
  const { cache } = await model.runWithCache(tokens, { names: [IN], returnType: 'none' });
  inputs = hostTensor('float32', [24, model.config.hiddenSize], cache[IN].data as Float32Array);
  mlp = mlpOfLayer(model, LAYER);
});
afterAll(async () => {
  await model?.dispose();
  await backend.dispose();
});

/** The layer's MLP itself as a decomposition (times `scale`): the exact decomposition, up to that scale. */
function mlpAsDecomposition(scale: number): Decomposition {
  const width = model.config.hiddenSize;
  const names = Object.keys(mlp).filter((name) => name !== 'activation') as (keyof MlpWeights)[];
  return {
    specificationVersion: DECOMPOSITION_SPECIFICATION_VERSION,
    architecture: 'mlp',
    config: {},
    reads: [{ hook: IN, width }],
    writes: [{ hook: OUT, width }],
    initialParams: () => Object.fromEntries(names.map((name) => [name, mlp[name] as HostTensor])),
    initialState: () => ({}),
    forward(_graph, { inputs: streams }, params: TensorMap) {
      const output = mul(applyMlp(streams[IN], params, mlp.activation), scale);
      return { outputs: { [OUT]: output }, featureActs: output, losses: {}, metrics: {}, nextState: {} };
    },
  };
}

const measure = (decomposition: Decomposition, params: Record<string, HostTensor>, state: Record<string, HostTensor> = {}, tokensPerRun?: number) =>
  jacobianFaithfulness({ decomposition, params, state, mlp, inputs, backend, tokensPerRun });

describe('Jacobian faithfulness', () => {
  it('is 1 for the MLP itself, and the cosine ignores scale and sees sign', async () => {
    const exact = mlpAsDecomposition(1);
    const result = await measure(exact, exact.initialParams(new Rng(0)));
    expect(result.perToken).toHaveLength(24);
    for (const value of result.perToken) expect(value).toBeCloseTo(1, 5);
    const doubled = await measure(mlpAsDecomposition(2), exact.initialParams(new Rng(0)));
    expect(doubled.mean).toBeCloseTo(1, 5);
    // A chunk size that does not divide the tokens (the last run padded) gives the same numbers.
    const negated = await measure(mlpAsDecomposition(-1), exact.initialParams(new Rng(0)), {}, 5);
    for (const value of negated.perToken) expect(value).toBeCloseTo(-1, 5);
  });

  it('an untrained MOLT (or a transcoder-shaped one) is measured on the same scale, well below 1', async () => {
    const width = model.config.hiddenSize;
    const molt = createMolt(parseMoltConfig({ d_in: width, d_out: width, rank_counts: defaultRankCounts(width, 1), top_k: 4, uv_init: 'scaled_normal', hook_point: IN, hook_point_out: OUT }));
    const result = await measure(molt, molt.initialParams(new Rng(2)), molt.initialState());
    expect(result.perToken).toHaveLength(24);
    expect(Math.abs(result.mean)).toBeLessThan(0.5);
  });

  it('a MOLT with one full-rank transform held open scores as the linear map V U does, token by token', async () => {
    const width = model.config.hiddenSize;
    const molt = createMolt(parseMoltConfig({ d_in: width, d_out: width, rank_counts: { [width]: 1 }, top_k: 1, uv_init: 'scaled_normal', hook_point: IN, hook_point_out: OUT }));
    const params = molt.initialParams(new Rng(3));
    params.W_E = hostTensor('float32', [width, 1], new Float32Array(width));
    params.b_E = hostTensor('float32', [1], [1]);
    const map = new Float32Array(width * width);
    const v = params[`V.${width}`].data as Float32Array;
    const u = params[`U.${width}`].data as Float32Array;
    for (let i = 0; i < width; i++) for (let k = 0; k < width; k++) for (let j = 0; j < width; j++) map[i * width + j] += v[i * width + k] * u[k * width + j];
    const linear: Decomposition = {
      ...mlpAsDecomposition(1),
      architecture: 'linear',
      forward: (_graph, { inputs: streams }, weights) => {
        const output = matmul(streams[IN], weights.M);
        return { outputs: { [OUT]: output }, featureActs: output, losses: {}, metrics: {}, nextState: {} };
      },
    };
    const fromMolt = await measure(molt, params, molt.initialState());
    const fromMap = await measure(linear, { M: hostTensor('float32', [width, width], map) });
    fromMolt.perToken.forEach((value, token) => expect(value).toBeCloseTo(fromMap.perToken[token], 4));
    // Token-dependent: the MLP's Jacobian changes from token to token, the map's does not.
    expect(new Set(fromMap.perToken.map((value) => value.toFixed(4))).size).toBeGreaterThan(1);
  });
});
