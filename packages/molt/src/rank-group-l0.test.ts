import { createOnnxBackend } from '@nnd/backend-onnx';
import { hostTensor, Rng, type HostTensor } from '@nnd/core';
import { HookedTransformer, tinyLanguageModelDirectory } from '@nnd/models';
import { evaluateDecomposition } from '@nnd/train';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultRankCounts, parseMoltConfig } from './molt-config.js';
import { createMolt } from './molt.js';
import { rankGroupL0 } from './rank-group-l0.js';

const backend = createOnnxBackend();
let model: HookedTransformer;
beforeAll(async () => {
  model = await HookedTransformer.fromPretrained(tinyLanguageModelDirectory(), { backend });
});
afterAll(async () => {
  await model?.dispose();
  await backend.dispose();
});

describe('evaluating a MOLT as a transcoder', () => {
  it('splices its output in at mlp_out, and the per-rank-group L0s from the densities add up to its L0', async () => {
    const width = model.config.hiddenSize;
    const molt = createMolt(
      parseMoltConfig({
        d_in: width,
        d_out: width,
        rank_counts: defaultRankCounts(width, 1),
        gate: 'topk',
        top_k: 5,
        uv_init: 'scaled_normal',
        hook_point: 'blocks.1.ln2.hook_normalized',
        hook_point_out: 'blocks.1.hook_mlp_out',
      }),
    );
    const rng = new Rng(4);
    const tokenBatches = [0, 1].map(
      () =>
        hostTensor(
          'int64',
          [2, 16],
          BigInt64Array.from({ length: 32 }, () => BigInt(rng.int(model.config.vocabSize))),
        ) as HostTensor<'int64'>,
    );
    const evaluation = await evaluateDecomposition({ model, decomposition: molt, params: molt.initialParams(new Rng(1)), state: molt.initialState(), tokenBatches, backend });
    // TopK keeps exactly 5 per token (relu(pre) of unit-norm rows with bias -1 leaves enough positive).
    expect(evaluation.l0_norm).toBeGreaterThan(0);
    expect(evaluation.l0_norm).toBeLessThanOrEqual(5 + 1e-9);
    const groups = rankGroupL0(molt, evaluation.feature_density_log10);
    expect(Object.keys(groups)).toEqual(molt.groups.map((group) => `l0_norm/rank_${group.rank}`));
    expect(Object.values(groups).reduce((total, value) => total + value, 0)).toBeCloseTo(evaluation.l0_norm, 6);
    // An untrained MOLT is a poor MLP: splicing it in costs loss.
    expect(evaluation['performance/ce_degradation']).toBeGreaterThan(0);
    expect(() => rankGroupL0(molt, [0])).toThrow(/1 feature densities for a MOLT of 31 transforms/);
  });
});
