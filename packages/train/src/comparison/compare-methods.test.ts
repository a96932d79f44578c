import { createOnnxBackend } from '@nnd/backend-onnx';
import { abs, DECOMPOSITION_SPECIFICATION_VERSION, hostTensor, mul, type Decomposition } from '@nnd/core';
import { hookName, type HookedTransformer } from '@nnd/models';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TINY_CONFIG, tokenBatches, trainedTinyModel } from '../evaluation/tiny-model.test-support.js';
import { compareMethods, groupStatistics, powersOfTwoUpTo, type Comparison } from './compare-methods.js';

const backend = createOnnxBackend();
let model: HookedTransformer;
let comparison: Comparison;
const D = TINY_CONFIG.hiddenSize;

/** Reads and writes one MLP output; its output is its input times `scale` (1: the identity). Features: |input|, one module. */
function scaling(layer: number, scale: number): Decomposition {
  const hook = hookName('mlp_out', layer);
  return {
    specificationVersion: DECOMPOSITION_SPECIFICATION_VERSION,
    architecture: 'scaling-test',
    config: { layer, scale },
    reads: [{ hook, width: D }],
    writes: [{ hook, width: D }],
    initialParams: () => ({}),
    initialState: () => ({}),
    forward: (_graph, { inputs }, params) => ({ outputs: { [hook]: mul(inputs[hook], params.scale) }, featureActs: abs(inputs[hook]), losses: {}, metrics: {}, nextState: {} }),
    featureGroups: () => [{ label: hook, size: D, streamsWritten: 1, activeParameters: 2 * D }],
  };
}

const scaleParams = (scale: number) => ({ scale: hostTensor('float32', [], [scale]) });

beforeAll(async () => {
  model = await trainedTinyModel(backend);
  comparison = await compareMethods({
    model,
    methods: [
      { label: 'identity', family: 'test', parts: [0, 1].map((layer) => ({ decomposition: scaling(layer, 1), params: scaleParams(1), state: {} })) },
      { label: 'halved', family: 'test', parts: [1, 0].map((layer) => ({ decomposition: scaling(layer, 0.5), params: scaleParams(0.5), state: {} })), trainingTokens: 1000 },
    ],
    tokenBatches: tokenBatches(2, 4, 16, 7),
    neuronK: [8],
    topK: [1, 8, 64],
  });
}, 120_000);
afterAll(() => backend.dispose());

describe('compareMethods', () => {
  it('puts an identity decomposition of every MLP on the original line: CE degradation 0, MSE 0', () => {
    const [identity] = comparison.points.filter((point) => point.method === 'identity');
    expect(identity.ceDegradation).toBeCloseTo(0, 6);
    expect(identity.ce).toBeCloseTo(comparison.originalCe, 6);
    expect(identity.mse).toBeCloseTo(0, 10);
    expect(identity.streams).toBe(2);
    // Every |activation| is > 0 on these tokens (almost surely): L0 is the width in each module.
    expect(identity.groups.map(({ label, l0, size }) => [label, l0, size])).toEqual([
      [hookName('mlp_out', 0), D, D],
      [hookName('mlp_out', 1), D, D],
    ]);
  });

  it("gives the neuron baseline at k = d_mlp the original model's loss, and a worse one for fewer units", () => {
    const neurons = comparison.points.filter((point) => point.method === 'neurons' && point.sweep === 'top_k');
    expect(neurons.map(({ k }) => k)).toEqual([1, 8, 64]);
    const all = neurons.find(({ k }) => k === TINY_CONFIG.mlpSize)!;
    expect(all.ceDegradation).toBeCloseTo(0, 5);
    expect(all.mse).toBeLessThan(1e-9);
    expect(neurons[0].ceDegradation).toBeGreaterThan(neurons[1].ceDegradation);
    expect(neurons[1].ceDegradation).toBeGreaterThan(1e-4);
    // Top-k of |h| per token: exactly k per MLP (ties aside).
    expect(neurons[1].groups.map(({ l0 }) => l0)).toEqual([8, 8].map((value) => expect.closeTo(value, 6)));
    // Its native points at neuronK are the same evaluations.
    expect(comparison.points.find((point) => point.method === 'neurons' && point.sweep === 'native')!.ce).toBe(neurons[1].ce);
    expect(all.totalParams).toBeUndefined();
  });

  it('scores a worse method worse, and zero ablation of every MLP worst', () => {
    const halved = comparison.points.find((point) => point.method === 'halved')!;
    expect(halved.ceDegradation).toBeGreaterThan(1e-4);
    expect(halved.mse).toBeGreaterThan(0);
    expect(comparison.zeroAblationCe).toBeGreaterThan(halved.ce);
    expect(halved.trainingTokens).toBe(1000);
    expect(halved.totalParams).toBe(2);
    // The methods' parts came in any order: they are combined in the model's order.
    expect(halved.groups.map(({ label }) => label)).toEqual([hookName('mlp_out', 0), hookName('mlp_out', 1)]);
    expect(comparison.layers).toEqual([0, 1]);
    // Neither method has per-token inference, so no synthetic sweep; nor a reference quirk.
    expect(comparison.points.filter((point) => point.method !== 'neurons').map(({ sweep, quirks }) => [sweep, quirks.length])).toEqual([
      ['native', 0],
      ['native', 0],
    ]);
  });
});

describe("compareMethods with the reference's quirks", () => {
  it("evaluates each quirk alone and all together with reference: 'separate', in the evaluation mode each quirk means", async () => {
    // Its forward (what batch top-k evaluation splices) scales by 0.9 × scale, its inference by scale; without "b_enc" scale is 0.5.
    const coupled = (layer: number): Decomposition => {
      const base = scaling(layer, 1);
      const hook = hookName('mlp_out', layer);
      return {
        ...base,
        forward: (_graph, { inputs }, params) => ({ outputs: { [hook]: mul(mul(inputs[hook], params.scale), 0.9) }, featureActs: abs(inputs[hook]), losses: {}, metrics: {}, nextState: {} }),
        inferOutputs: (_graph, inputs, params) => ({ outputs: { [hook]: mul(inputs[hook], params.scale) }, featureActs: abs(inputs[hook]) }),
        forwardCouplesSamples: true,
        withoutEncoderBias: () => scaleParams(0.5),
      };
    };
    const result = await compareMethods({
      model,
      methods: [{ label: 'coupled', family: 'test', parts: [0, 1].map((layer) => ({ decomposition: coupled(layer), params: scaleParams(1), state: {} })) }],
      tokenBatches: tokenBatches(1, 4, 16, 7),
      neuronK: [],
      topK: [1],
      reference: 'separate',
    });
    const points = result.points.filter((point) => point.method === 'coupled');
    expect(points.map(({ quirks }) => quirks.join('+'))).toEqual(['', 'batch_top_k', 'no_b_enc', 'batch_top_k+no_b_enc']);
    const [correct, batch, noBias, both] = points.map(({ ceDegradation }) => ceDegradation);
    expect(correct).toBeCloseTo(0, 6);
    expect(batch).toBeGreaterThan(1e-5);
    expect(noBias).toBeGreaterThan(batch);
    expect(both).toBeGreaterThan(noBias);
  }, 120_000);
});

describe('groupStatistics', () => {
  it('gives each group its L0, alive features and mean activation, from per-feature densities and activation sums', () => {
    // 10 tokens; features fire 5, 2, 0 and 10 times with activation sums 10, 1, 0, 5.
    const evaluation = { feature_density_log10: [Math.log10(0.5), Math.log10(0.2), null, 0], feature_activation_sums: [10, 1, 0, 5], evaluated_tokens: 10 };
    const groups = groupStatistics(
      [
        { label: 'a', size: 2, streamsWritten: 3, activeParameters: 7 },
        { label: 'b', size: 1, streamsWritten: 1, activeParameters: 5 },
        { label: 'a', size: 1, streamsWritten: 1, activeParameters: 2 },
      ],
      evaluation,
      'test',
      2,
    );
    expect(groups).toHaveLength(3);
    expect(groups[0]).toMatchObject({ label: 'a', size: 2, alive: 2, streamsWritten: 3, activeParameters: 7 });
    expect(groups[0].l0).toBeCloseTo(0.7, 12);
    // (10 + 1) over 5 + 2 firings.
    expect(groups[0].meanActivation).toBeCloseTo(11 / 7, 12);
    expect(groups[1]).toEqual({ label: 'b', size: 1, streamsWritten: 1, activeParameters: 5, alive: 0, l0: 0 });
    expect(groups[2].l0).toBeCloseTo(1, 12);
    expect(() => groupStatistics([{ label: 'a', size: 3, streamsWritten: 1, activeParameters: 1 }], evaluation, 'test', 1)).toThrow(/cover 3 features, but its evaluation measured 4/);
    // Without feature groups, one group of every feature, writing every stream.
    expect(groupStatistics(undefined, evaluation, 'plain', 2)).toEqual([expect.objectContaining({ label: 'plain', size: 4, streamsWritten: 2, alive: 3 })]);
  });

  it('sweeps k over powers of two up to the largest module', () => {
    expect(powersOfTwoUpTo(12)).toEqual([1, 2, 4, 8, 12]);
    expect(powersOfTwoUpTo(8)).toEqual([1, 2, 4, 8]);
  });
});
