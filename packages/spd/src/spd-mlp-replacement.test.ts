import { createReferenceBackend, hostTensor, Rng, type HostTensor } from '@nnd/core';
import { HookedTransformer, initializeParameters, type TransformerConfig } from '@nnd/models';
import { compareMethods, type ComparisonPoint } from '@nnd/train';
import { describe, expect, it } from 'vitest';
import { createSpd } from './spd-decomposition.js';
import { evaluateSpd } from './spd-evaluation.js';
import { spdMlpReplacements } from './spd-mlp-replacement.js';
import { SpdModelError } from './spd-model-error.js';
import { expandModules, transformerTarget } from './transformer-target.js';

const config: TransformerConfig = {
  layerCount: 2,
  hiddenSize: 16,
  headCount: 4,
  keyValueHeadCount: 4,
  headSize: 4,
  mlpSize: 32,
  vocabSize: 40,
  contextLength: 32,
  normEpsilon: 1e-5,
  bosTokenId: 0,
  eosTokenId: 1,
  modelType: 'gpt2',
  normalization: 'layerNorm',
  activation: 'gelu_new',
  positional: 'learned',
  rotaryDim: 0,
  rotaryBase: 0,
  parallelResidual: false,
  gatedMlp: false,
  tiedEmbeddings: true,
  attentionBias: true,
  mlpBias: true,
};
const seq = 8;
const C = 8;
const model = new HookedTransformer(config, initializeParameters(config, 2), { backend: createReferenceBackend() });
const target = transformerTarget(model, seq, 'tiny');
const tokens = (rows: number, seed: number): HostTensor =>
  hostTensor(
    'int64',
    [rows, seq],
    BigInt64Array.from(new Rng(seed).uniform(rows * seq), (value) => BigInt(Math.floor(value * config.vocabSize))),
  );
const spd = createSpd(target, { modules: expandModules(target, 'mlp').map((name) => ({ name, C })) });
const params = spd.initialParams(new Rng(3));
const batch = tokens(4, 5);
const numel = (tensors: Record<string, HostTensor>) => Object.values(tensors).reduce((sum, tensor) => sum + tensor.shape.reduce((a, b) => a * b, 1), 0);
const key = (point: ComparisonPoint) => [point.variant ?? '', point.quirks.join('+')].join('|');

describe('SPD of MLP matrices in a comparison', () => {
  it('is one MLP replacement per layer: reads ln2, writes hook_mlp_out, with its share of V, U and the CI functions and the MLP weights', () => {
    const parts = spdMlpReplacements(spd, params);
    expect(parts.map(({ decomposition }) => [decomposition.reads.map(({ hook }) => hook), decomposition.writes.map(({ hook }) => hook)])).toEqual([
      [['blocks.0.ln2.hook_normalized'], ['blocks.0.hook_mlp_out']],
      [['blocks.1.ln2.hook_normalized'], ['blocks.1.hook_mlp_out']],
    ]);
    expect(Object.keys(parts[1].params).sort()).toEqual(
      [...Object.keys(params).filter((name) => name.startsWith('blocks.1.')), 'model.blocks.1.mlp.W_in', 'model.blocks.1.mlp.W_out', 'model.blocks.1.mlp.b_in', 'model.blocks.1.mlp.b_out'].sort(),
    );
    // Section 6: an active rank-one component of W [d_in, d_out] costs d_in + d_out; one group per matrix, each writing its own MLP.
    expect(parts[0].decomposition.featureGroups!()).toEqual([
      { label: 'blocks.0.mlp.W_in', size: C, streamsWritten: 1, activeParameters: 16 + 32 },
      { label: 'blocks.0.mlp.W_out', size: C, streamsWritten: 1, activeParameters: 32 + 16 },
    ]);
    expect(() => spdMlpReplacements(createSpd(target, { modules: [{ name: 'blocks.0.attn.W_Q', C }] }), {})).toThrow(SpdModelError);
  });

  it('joins compareMethods: the model exactly with every component and the delta on, labelled CI > 0 and no-delta points, L0 per matrix', async () => {
    const comparison = await compareMethods({
      model,
      methods: [{ label: 'spd', family: 'spd', parts: [{ decomposition: spd, params, state: {} }] }],
      tokenBatches: [batch],
      topK: [2, C],
      neuronK: [],
    });
    const points = comparison.points.filter((point) => point.method === 'spd');
    const native = points.filter((point) => point.sweep === 'native');
    expect(native.map(key)).toEqual(['|', 'CI > 0|', '|no_delta', 'CI > 0|no_delta']);
    for (const point of points) {
      expect(point.streams).toBe(2);
      expect(point.groups.map(({ label }) => label)).toEqual(['blocks.0.mlp.W_in', 'blocks.0.mlp.W_out', 'blocks.1.mlp.W_in', 'blocks.1.mlp.W_out']);
      // Its own trained tensors (V, U, CI functions), not the model's weights that the replacements carry.
      expect(point.totalParams).toBe(numel(params));
    }

    // Top-k at k = C with the delta component: VU + (W - VU) = W in every matrix, so the original model.
    const whole = points.find((point) => point.sweep === 'top_k' && point.k === C && point.quirks.length === 0)!;
    expect(Math.abs(whole.ceDegradation)).toBeLessThan(1e-5);
    expect(whole.mse).toBeLessThan(1e-10);
    expect(whole.groups.map(({ l0 }) => l0)).toEqual([C, C, C, C]);
    // Without it, the (untrained) components alone are not W.
    const withoutDelta = points.find((point) => point.sweep === 'top_k' && point.k === C && point.quirks.includes('no_delta'))!;
    expect(withoutDelta.ceDegradation).toBeGreaterThan(1e-3);
    // Top-k keeps exactly k per token and matrix, ties at CI 0 included, as the reference.
    const two = points.find((point) => point.sweep === 'top_k' && point.k === 2 && point.quirks.length === 0)!;
    for (const group of two.groups) expect(group.l0).toBeCloseTo(2, 6);
    // The CI > 0 threshold, a labelled option, applies to native points only.
    expect(points.filter((point) => point.sweep === 'top_k').every((point) => point.variant === undefined)).toBe(true);

    // Layer 0's W_in reads the unreplaced input, so its L0 at CI > 0.5 and > 0 is spd's own CI-L0 (evaluateSpd, another code path).
    const metrics = await evaluateSpd(spd, params, [{ tokens: batch }], { backend: model.backend });
    expect(native[0].groups[0].l0).toBeCloseTo(metrics['ci_l0_0.5.blocks.0.mlp.W_in'] as number, 5);
    expect(native[1].groups[0].l0).toBeCloseTo(metrics['ci_l0_0.blocks.0.mlp.W_in'] as number, 5);
    for (const [index, group] of native[1].groups.entries()) expect(group.l0).toBeGreaterThanOrEqual(native[0].groups[index].l0);
  }, 120_000);

  it('offers no delta options for a decomposition trained without the delta component', async () => {
    const plain = createSpd(target, { modules: [{ name: 'blocks.1.mlp.W_out', C }], use_delta_component: false });
    const [part] = spdMlpReplacements(plain, plain.initialParams(new Rng(4)));
    expect(part.decomposition.evaluationOptions!.map(({ name }) => name)).toEqual(['ci_0']);
    // Its undecomposed W_in runs with the model's own weights.
    expect(Object.keys(part.params).filter((name) => name.startsWith('model.'))).toEqual(expect.arrayContaining(['model.blocks.1.mlp.W_in', 'model.blocks.1.mlp.b_in']));
  });
});
