import { createOnnxBackend } from '@nnd/backend-onnx';
import { createSae } from '@nnd/sae';
import { describe, expect, it } from 'vitest';
import { randomDirections, recoveredFraction, sparseDirectionSource } from './sparse-directions.test-support.js';
import { trainDecomposition } from './train-decomposition.js';

/**
 * Dictionary recovery: samples are sums of 4 of 256 known unit directions in
 * 64 dimensions with coefficients uniform in [3, 5]; a trained SAE should
 * have, for at least 90% of the directions, a decoder row with cosine > 0.9.
 * The coefficient scale matters for JumpReLU, whose thresholds start at
 * exp(0) = 1 (as in the reference): pre-activations must reach them.
 *
 * Per type: BatchTopK runs without the auxiliary loss, which on this data
 * keeps it near 85% (features merge and stay merged); with aux_penalty 0, a
 * larger dictionary and a lower lr it recovers 96%. TopK's top_k_aux is 64
 * because the default 512 is the whole dictionary here (a full sort per
 * sample, twice the time). Measured fractions: vanilla 1.00, topk 0.98,
 * batchtopk 0.96, jumprelu 0.98; everything is seeded, so the outcome is
 * deterministic for a given onnxruntime build.
 */
const directions = randomDirections(256, 64, 1);
const batchSize = 256;

const cases: [string, Record<string, unknown>, { steps: number; lr: number }][] = [
  ['vanilla', { architecture: 'vanilla', dict_size: 512, l1_coeff: 0.02 }, { steps: 1000, lr: 3e-3 }],
  ['topk', { architecture: 'topk', dict_size: 512, top_k: 4, top_k_aux: 64 }, { steps: 1000, lr: 3e-3 }],
  ['batchtopk', { architecture: 'batchtopk', dict_size: 1024, top_k: 4, aux_penalty: 0 }, { steps: 2000, lr: 1e-3 }],
  ['jumprelu', { architecture: 'jumprelu', dict_size: 512, l1_coeff: 3e-3, bandwidth: 1 }, { steps: 1000, lr: 3e-3 }],
];

describe('recovery of known sparse directions with @nnd/sae on backend-onnx cpu', () => {
  it.each(cases)(
    '%s recovers at least 90% of the directions with cosine > 0.9',
    async (_, saeConfig, { steps, lr }) => {
      const sae = createSae({ ...saeConfig, act_size: 64 });
      const source = sparseDirectionSource(directions, { batchSize, fewest: 4, most: 4, minimum: 3, maximum: 5, seed: 2 });
      const result = await trainDecomposition(
        sae,
        source,
        { num_tokens: batchSize * steps, batch_size: batchSize, lr, seed: 49 },
        {
          backend: createOnnxBackend({ device: 'cpu' }),
        },
      );
      const recovered = recoveredFraction(directions, result.params.W_dec.data as Float32Array, 0.9);
      expect(recovered, `fraction of directions recovered by ${String(saeConfig.architecture)}`).toBeGreaterThanOrEqual(0.9);
    },
    180_000,
  );
});
