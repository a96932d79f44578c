import { createOnnxBackend } from '@nnd/backend-onnx';
import { reshape, zeros, type Graph, type HostTensor, type Tensor } from '@nnd/core';
import type { HookedTransformer } from '@nnd/models';
import { createSae } from '@nnd/sae';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { trainDecomposition } from '../train-decomposition.js';
import { evaluateDecomposition } from './evaluate-decomposition.js';
import { klDivergenceScore } from './kl-divergence.js';
import { harvestedSource, identityDecomposition, TINY_CONFIG, tokenBatches, trainedTinyModel, zeroDecomposition } from './tiny-model.test-support.js';

const HOOK = 'blocks.1.hook_resid_pre';
const WIDTH = TINY_CONFIG.hiddenSize;
const backend = createOnnxBackend();
let model: HookedTransformer;
const heldOut = tokenBatches(2, 4, 16, 31);

beforeAll(async () => {
  model = await trainedTinyModel(backend);
});
afterAll(async () => {
  await model?.dispose();
  await backend.dispose();
});

const evaluate = (decomposition: Parameters<typeof evaluateDecomposition>[0]['decomposition'], extra: Partial<Parameters<typeof evaluateDecomposition>[0]> = {}) =>
  evaluateDecomposition({ model, decomposition, params: {}, state: {}, tokenBatches: heldOut, backend, ...extra });

/** Mean over every position of KL(clean ‖ replaced), in float64 from the model's own logits: SAELens's `kl` in evals.py. */
async function referenceKl(replace: (graph: Graph, value: Tensor) => Tensor): Promise<number> {
  let total = 0;
  let positions = 0;
  for (const tokens of heldOut) {
    const clean = (await model.run(tokens, { returnType: 'logits' })).logits!;
    const replaced = (await model.run(tokens, { returnType: 'logits', replace: { [HOOK]: replace } })).logits!;
    const vocabulary = clean.shape.at(-1)!;
    const logSoftmax = (logits: HostTensor, row: number) => {
      const values = Array.from(logits.data.subarray(row * vocabulary, (row + 1) * vocabulary) as Float32Array, Number);
      const max = Math.max(...values);
      const logSum = Math.log(values.reduce((sum, value) => sum + Math.exp(value - max), 0)) + max;
      return values.map((value) => value - logSum);
    };
    for (let row = 0; row < clean.data.length / vocabulary; row++) {
      const p = logSoftmax(clean, row);
      const q = logSoftmax(replaced, row);
      total += p.reduce((sum, logP, token) => sum + Math.exp(logP) * (logP - q[token]), 0);
      positions++;
    }
  }
  return total / positions;
}

describe('the KL-divergence score (SAELens kl_div_score)', () => {
  it('is (KL_ablation − KL_spliced) / KL_ablation', () => {
    expect(klDivergenceScore({ reconstructed: 0.25, zeroAblation: 2 })).toBe(0.875);
    expect(klDivergenceScore({ reconstructed: 0, zeroAblation: 2 })).toBe(1);
    expect(klDivergenceScore({ reconstructed: 2, zeroAblation: 2 })).toBe(0);
  });

  it('splicing the exact activations back: KL 0, score 1; zeros: the ablation KL, score 0', async () => {
    const identity = await evaluate(identityDecomposition(WIDTH, HOOK));
    expect(identity['performance/zero_ablation_kl_div']).toBeGreaterThan(0.5);
    expect(Math.abs(identity['performance/reconstructed_kl_div'])).toBeLessThan(1e-5);
    expect(identity['performance/kl_div_score']).toBeCloseTo(1, 5);
    const zero = await evaluate(zeroDecomposition(WIDTH, HOOK));
    expect(zero['performance/reconstructed_kl_div']).toBeCloseTo(zero['performance/zero_ablation_kl_div'], 5);
    expect(Math.abs(zero['performance/kl_div_score'])).toBeLessThan(1e-5);
  });

  it("equals the KL divergences computed from the model's own logits, for zero-ablation and a trained SAE spliced in", async () => {
    const sae = createSae({ architecture: 'topk', act_size: WIDTH, dict_size: 64, top_k: 4, seed: 3, hook_point: HOOK });
    const source = await harvestedSource(model, HOOK, tokenBatches(4, 8, 16, 5), 64);
    const { params, state } = await trainDecomposition(sae, source, { num_tokens: 64 * 60, batch_size: 64, lr: 3e-3, log_freq: 1000 }, { backend, handleSignals: false });
    const result = await evaluate(sae, { params, state, reconstruction: 'infer' });
    const constants = (graph: Graph, tensors: Record<string, HostTensor>) => Object.fromEntries(Object.entries(tensors).map(([name, tensor]) => [name, graph.constant(tensor)]));
    const zeroAblation = await referenceKl((graph, value) => zeros(graph, value.shape, value.dtype));
    const spliced = await referenceKl((graph, value) => reshape(sae.infer(graph, reshape(value, [-1, WIDTH]), constants(graph, params), constants(graph, state)).reconstruction, value.shape));
    expect(Math.abs(result['performance/zero_ablation_kl_div'] - zeroAblation) / zeroAblation).toBeLessThan(1e-4);
    expect(Math.abs(result['performance/reconstructed_kl_div'] - spliced) / spliced).toBeLessThan(1e-3);
    // A partly trained SAE: better than ablation, not perfect.
    expect(result['performance/kl_div_score']).toBeGreaterThan(0);
    expect(result['performance/kl_div_score']).toBeLessThan(1);
    expect(result['performance/kl_div_score']).toBeCloseTo((zeroAblation - spliced) / zeroAblation, 3);
  });
});
