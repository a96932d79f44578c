import { createOnnxBackend } from '@nnd/backend-onnx';
import { hostTensor, type HostTensor } from '@nnd/core';
import type { HookedTransformer } from '@nnd/models';
import { evaluateDecomposition } from '@nnd/train';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClt, type CrossLayerTranscoder } from './cross-layer-transcoder.js';
import { TINY_CONFIG, tokenBatches, trainedTinyModel } from './tiny-model.test-support.js';

const backend = createOnnxBackend();
let model: HookedTransformer;
const heldOut = tokenBatches(2, 8, 16, 11);
const D = TINY_CONFIG.hiddenSize;
const F = 2 * D;

beforeAll(async () => {
  model = await trainedTinyModel(backend);
});
afterAll(async () => {
  await model?.dispose();
  await backend.dispose();
});

/**
 * A vanilla CLT over both layers of the tiny model that reads and writes
 * each layer's MLP output. Its features are relu(x) and relu(-x), so the
 * same-layer decoder [I; -I] reproduces x exactly; `scale` multiplies layer
 * 0's same-layer decoder and `cross` is the weight of layer 0's features on
 * layer 1 (both 1 and 0 for the exact CLT).
 */
function splittingClt(scale: number, cross: number): { clt: CrossLayerTranscoder; params: Record<string, HostTensor> } {
  const clt = createClt({
    encoder_type: 'vanilla',
    layers: [0, 1],
    dict_size: F,
    input_size: D,
    output_size: D,
    hook_template_in: 'blocks.{layer}.hook_mlp_out',
    hook_template_out: 'blocks.{layer}.hook_mlp_out',
  });
  const encoder = new Float32Array(D * F);
  for (let d = 0; d < D; d++) {
    encoder[d * F + d] = 1;
    encoder[d * F + D + d] = -1;
  }
  const decoder = (targets: number, weights: number[]) => {
    const data = new Float32Array(F * targets * D);
    for (let f = 0; f < F; f++) {
      for (let t = 0; t < targets; t++) data[(f * targets + t) * D + (f % D)] = (f < D ? 1 : -1) * weights[t];
    }
    return hostTensor('float32', [F, targets, D], data);
  };
  const zeros = (size: number) => hostTensor('float32', [size], new Float32Array(size));
  return {
    clt,
    params: {
      W_enc_0: hostTensor('float32', [D, F], encoder),
      W_enc_1: hostTensor('float32', [D, F], encoder.slice()),
      b_enc_0: zeros(F),
      b_enc_1: zeros(F),
      b_dec_0: zeros(D),
      b_dec_1: zeros(D),
      W_dec_0: decoder(2, [scale, cross]),
      W_dec_1: decoder(1, [1]),
    },
  };
}

const evaluate = ({ clt, params }: ReturnType<typeof splittingClt>, splicedInputs: 'replacement' | 'clean_inputs') =>
  evaluateDecomposition({ model, decomposition: clt, params, state: clt.initialState(), tokenBatches: heldOut, backend, splicedInputs });

describe('a CLT spliced into a model: replacement vs clean inputs', () => {
  it('agree when the reconstruction is exact (and cost nothing)', async () => {
    const exact = splittingClt(1, 0);
    const replacement = await evaluate(exact, 'replacement');
    const clean = await evaluate(exact, 'clean_inputs');
    expect(Math.abs(replacement['performance/ce_degradation'])).toBeLessThanOrEqual(1e-5);
    expect(replacement.explained_variance).toBeCloseTo(1, 6);
    expect(clean['performance/reconstructed_loss']).toBeCloseTo(replacement['performance/reconstructed_loss'], 6);
  });

  it("differ when it is not: layer 0's error reaches layer 1's input only in the replacement model", async () => {
    const inexact = splittingClt(0.5, 0.25);
    const replacement = await evaluate(inexact, 'replacement');
    const clean = await evaluate(inexact, 'clean_inputs');
    expect(Math.abs(replacement['performance/ce_degradation'])).toBeGreaterThan(5e-4);
    expect(Math.abs(clean['performance/ce_degradation'])).toBeGreaterThan(5e-4);
    expect(replacement.explained_variance).toBeLessThan(0.99);
    expect(Math.abs(replacement['performance/reconstructed_loss'] - clean['performance/reconstructed_loss'])).toBeGreaterThan(1e-3);
    // The clean-input reconstructions match the clean targets better than the ones fed by the patched stream.
    expect(clean.explained_variance).toBeGreaterThan(replacement.explained_variance);
  });
});
