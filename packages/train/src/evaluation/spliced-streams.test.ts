import { createOnnxBackend } from '@nnd/backend-onnx';
import { mul, zeros, type Graph, type HostTensor, type Tensor } from '@nnd/core';
import type { HookedTransformer, HookReplacement } from '@nnd/models';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { evaluateDecomposition } from './evaluate-decomposition.js';
import type { SplicedInputs } from './evaluation-graph.js';
import { mappingDecomposition, tokenBatches, trainedTinyModel } from './tiny-model.test-support.js';

// Decompositions that read one hook and write another (a transcoder's shape), or read and write one hook per layer (a CLT's).
const backend = createOnnxBackend();
let model: HookedTransformer;
const heldOut = tokenBatches(2, 8, 16, 11);
const MID = (layer: number) => `blocks.${layer}.hook_resid_mid`;
const MLP_OUT = (layer: number) => `blocks.${layer}.hook_mlp_out`;

beforeAll(async () => {
  model = await trainedTinyModel(backend);
});
afterAll(async () => {
  await model?.dispose();
  await backend.dispose();
});

const evaluate = (decomposition: ReturnType<typeof mappingDecomposition>, splicedInputs?: SplicedInputs) =>
  evaluateDecomposition({ model, decomposition, params: {}, state: {}, tokenBatches: heldOut, backend, splicedInputs });

async function modelLoss(replace: Record<string, HookReplacement>, inputs?: (batch: number) => Record<string, HostTensor>): Promise<number> {
  let total = 0;
  for (const [batch, tokens] of heldOut.entries()) total += await model.loss(tokens, { replace, inputs: inputs?.(batch) });
  return total / heldOut.length;
}

describe('evaluation of decompositions that write other hooks than they read', () => {
  it('splices the output at the written hook: a zero output there is zero-ablation of that hook, measured against its activations', async () => {
    const result = await evaluate(mappingDecomposition([MID(0)], [MLP_OUT(0)], (inputs) => ({ [MLP_OUT(0)]: mul(inputs[MID(0)], 0) })));
    const zeroAblated = await modelLoss({ [MLP_OUT(0)]: (graph: Graph, value: Tensor) => zeros(graph, value.shape, value.dtype) });
    expect(result['performance/reconstructed_loss']).toBeCloseTo(zeroAblated, 5);
    // The baselines ablate the written hook, not the read one.
    expect(result['performance/zero_ablation_loss']).toBeCloseTo(zeroAblated, 5);
    expect(Math.abs(result['performance/recovery_from_zero'])).toBeLessThanOrEqual(1e-4);
    // Reconstruction metrics compare with the target (mlp_out), whose error is then all of its square.
    expect(result.normalized_mse).toBeCloseTo(1, 6);
    expect(result.fvu).toBeCloseTo(1 - result.explained_variance, 12);
    expect(result.mse).toBeGreaterThan(0);
    // Without the MLP the model's top prediction changes at some positions.
    expect(result.top1_agreement).toBeLessThan(1);
    expect(result.top1_agreement).toBeGreaterThan(0);
  });

  it('an exact decomposition of two layers costs nothing in either mode, and the modes agree', async () => {
    const identity = mappingDecomposition([MLP_OUT(0), MLP_OUT(1)], [MLP_OUT(0), MLP_OUT(1)], (inputs) => ({ ...inputs }));
    const replacement = await evaluate(identity, 'replacement');
    const clean = await evaluate(identity, 'clean_inputs');
    expect(Math.abs(replacement['performance/ce_degradation'])).toBeLessThanOrEqual(1e-5);
    expect(replacement.explained_variance).toBeCloseTo(1, 6);
    expect(replacement.top1_agreement).toBe(1);
    // The KL-divergence score through the contract: nothing changes, and ablating both written hooks is the baseline.
    expect(Math.abs(replacement['performance/reconstructed_kl_div'])).toBeLessThan(1e-5);
    expect(replacement['performance/zero_ablation_kl_div']).toBeGreaterThan(0);
    expect(replacement['performance/kl_div_score']).toBeCloseTo(1, 4);
    // Each written layer has its own explained variance and MSE.
    expect(Object.keys(replacement.per_hook!)).toEqual([MLP_OUT(0), MLP_OUT(1)]);
    for (const layer of Object.values(replacement.per_hook!)) expect(layer.explained_variance).toBeCloseTo(1, 6);
    expect(clean['performance/reconstructed_loss']).toBeCloseTo(replacement['performance/reconstructed_loss'], 6);
  });

  it("an inexact one: 'replacement' feeds layer 1 from the patched stream, 'clean_inputs' from the clean run, and they differ", async () => {
    const halve = mappingDecomposition([MID(0), MID(1)], [MLP_OUT(0), MLP_OUT(1)], (inputs) => ({
      [MLP_OUT(0)]: mul(inputs[MID(0)], 0.5),
      [MLP_OUT(1)]: mul(inputs[MID(1)], 0.5),
    }));
    const replacement = await evaluate(halve, 'replacement');
    const clean = await evaluate(halve, 'clean_inputs');

    // The same splice by hand in the model's own run: each output from the stream as patched so far.
    const seen: Tensor[] = [];
    const inPass = await modelLoss({
      [MID(0)]: (_graph, value) => (seen[0] = value),
      [MLP_OUT(0)]: () => mul(seen[0], 0.5),
      [MID(1)]: (_graph, value) => (seen[1] = value),
      [MLP_OUT(1)]: () => mul(seen[1], 0.5),
    });
    expect(replacement['performance/reconstructed_loss']).toBeCloseTo(inPass, 5);

    // Clean inputs: both outputs from the unpatched run's activations, fed in at once.
    const cleanMid: HostTensor[][] = [];
    for (const tokens of heldOut) {
      const run = await model.runWithCache(tokens, { names: [MID(0), MID(1)], returnType: 'none' });
      cleanMid.push([run.cache[MID(0)], run.cache[MID(1)]]);
    }
    const half = (tensor: HostTensor): HostTensor => ({ ...tensor, data: Float32Array.from(tensor.data as Float32Array, (value) => value * 0.5) });
    const fromClean = await modelLoss({ [MLP_OUT(0)]: 'input', [MLP_OUT(1)]: 'input' }, (batch) => ({ [MLP_OUT(0)]: half(cleanMid[batch][0]), [MLP_OUT(1)]: half(cleanMid[batch][1]) }));
    expect(clean['performance/reconstructed_loss']).toBeCloseTo(fromClean, 5);

    expect(Math.abs(replacement['performance/reconstructed_loss'] - clean['performance/reconstructed_loss'])).toBeGreaterThan(1e-3);
    // Both layers are as wide, so the total MSE is the mean of the layers' MSEs.
    const layers = Object.values(clean.per_hook!);
    expect(layers).toHaveLength(2);
    expect(clean.mse).toBeCloseTo((layers[0].mse + layers[1].mse) / 2, 6);
    expect(layers[0].explained_variance).toBeLessThan(1);
  });
});
