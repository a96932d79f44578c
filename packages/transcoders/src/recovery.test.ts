import { createOnnxBackend } from '@nnd/backend-onnx';
import { Rng } from '@nnd/core';
import { trainDecomposition } from '@nnd/train';
import { afterAll, describe, expect, it } from 'vitest';
import { createTranscoder } from './transcoder-registry.js';

/**
 * Recovery of a known sparse map: each sample picks 4 of 256 features with
 * coefficients uniform in [3, 5]; the input is the sum of their (random
 * unit) input directions in 64 dimensions, the target the sum of their
 * output directions in 48 dimensions. A trained transcoder should have, for
 * at least 90% of the output directions, a decoder row with cosine > 0.9.
 * (JumpReLU's thresholds start at exp(0) = 1, which the coefficients exceed.)
 * Measured fractions: vanilla 1.00, topk 0.98, batchtopk 0.94, jumprelu
 * 0.97; everything is seeded, so the outcome is deterministic for a given
 * onnxruntime build. About 10 s of CPU per type on a 2-core x86 CPU.
 */
const FEATURES = 256;
const D_IN = 64;
const D_OUT = 48;
const BATCH = 256;

function unitRows(count: number, dimensions: number, seed: number): Float32Array {
  const rows = new Rng(seed).normal(count * dimensions);
  for (let row = 0; row < count; row++) {
    const slice = rows.subarray(row * dimensions, (row + 1) * dimensions);
    const norm = Math.hypot(...slice);
    for (let i = 0; i < dimensions; i++) slice[i] /= norm;
  }
  return rows;
}

const inputDirections = unitRows(FEATURES, D_IN, 1);
const outputDirections = unitRows(FEATURES, D_OUT, 2);

function sparseMapSource(seed: number) {
  let position = 0;
  return {
    async nextBatch() {
      const rng = new Rng(seed * 1_000_003 + position++);
      const input = new Float32Array(BATCH * D_IN);
      const target = new Float32Array(BATCH * D_OUT);
      const chosen = new Set<number>();
      for (let sample = 0; sample < BATCH; sample++) {
        chosen.clear();
        while (chosen.size < 4) chosen.add(rng.int(FEATURES));
        for (const feature of chosen) {
          const coefficient = 3 + 2 * rng.next();
          for (let i = 0; i < D_IN; i++) input[sample * D_IN + i] += coefficient * inputDirections[feature * D_IN + i];
          for (let i = 0; i < D_OUT; i++) target[sample * D_OUT + i] += coefficient * outputDirections[feature * D_OUT + i];
        }
      }
      return { input, target };
    },
  };
}

/** Fraction of the output directions with a decoder row at cosine > threshold. */
function recoveredFraction(wDec: Float32Array, threshold: number): number {
  const rows = wDec.length / D_OUT;
  let recovered = 0;
  for (let feature = 0; feature < FEATURES; feature++) {
    const direction = outputDirections.subarray(feature * D_OUT, (feature + 1) * D_OUT);
    let best = -1;
    for (let row = 0; row < rows; row++) {
      let dot = 0;
      let squares = 0;
      for (let i = 0; i < D_OUT; i++) {
        const value = wDec[row * D_OUT + i];
        dot += value * direction[i];
        squares += value * value;
      }
      best = Math.max(best, dot / Math.sqrt(squares || 1));
    }
    if (best > threshold) recovered++;
  }
  return recovered / FEATURES;
}

const backend = createOnnxBackend({ device: 'cpu' });
afterAll(() => backend.dispose());

const cases: [string, Record<string, unknown>, { steps: number; lr: number }][] = [
  ['vanilla_transcoder', { dict_size: 512, l1_coeff: 0.02 }, { steps: 1000, lr: 3e-3 }],
  ['topk_transcoder', { dict_size: 512, top_k: 4, top_k_aux: 64 }, { steps: 1000, lr: 3e-3 }],
  ['batchtopk_transcoder', { dict_size: 512, top_k: 4, top_k_aux: 64 }, { steps: 1000, lr: 3e-3 }],
  ['jumprelu_transcoder', { dict_size: 512, l1_coeff: 1e-3, bandwidth: 1 }, { steps: 1000, lr: 3e-3 }],
];

describe('recovery of a known sparse map with @nnd/transcoders on backend-onnx cpu', () => {
  it.each(cases)(
    '%s recovers at least 90% of the output directions with cosine > 0.9',
    async (architecture, config, { steps, lr }) => {
      const transcoder = createTranscoder({ architecture, input_size: D_IN, output_size: D_OUT, ...config });
      const result = await trainDecomposition(transcoder, sparseMapSource(3), { num_tokens: BATCH * steps, batch_size: BATCH, lr, seed: 49 }, { backend, handleSignals: false });
      const recovered = recoveredFraction(result.params.W_dec.data as Float32Array, 0.9);
      expect(recovered, `fraction of directions recovered by ${architecture}`).toBeGreaterThanOrEqual(0.9);
    },
    180_000,
  );
});
