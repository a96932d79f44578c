import { add, matmul, relu, type Tensor, type TensorMap } from '@nnd/core';
import { centeredEncoder } from './centered-encoder.js';
import { normalizeInput } from './input-normalization.js';
import { denseActivations, keepTopKPerSample, keptPairs } from './kept-activations.js';
import type { SaeConfig } from './sae-config.js';
import { inferOnSamples, requireTensors, type SaeInference } from './sparse-autoencoder.js';
import { topKEncoder } from './topk-forward.js';

/**
 * The synthetic top-k sweep's inference: the k largest of each sample's
 * dense activations (relu((x - b_dec) W_enc + b_enc), without b_enc for
 * TopK and BatchTopK unless `encoder_bias`), whatever the type's own
 * selection, decoded as the type decodes.
 */
export function inferTopK(config: SaeConfig, x: Tensor, params: TensorMap, k: number): SaeInference {
  const tensors = requireTensors(params, ['b_dec', 'b_enc', 'W_enc', 'W_dec'], 'params', config.architecture);
  return inferOnSamples(x, config.act_size, config.architecture, (samples) => {
    const input = normalizeInput(samples, config.input_unit_norm);
    const dense =
      config.architecture === 'topk' || config.architecture === 'batchtopk'
        ? topKEncoder(config, input.x, tensors).preactivations
        : relu(add(centeredEncoder(input.x, tensors.b_dec, tensors.W_enc).preactivations, tensors.b_enc));
    const kept = keepTopKPerSample(dense, Math.min(k, config.dict_size));
    const featureActs = denseActivations(kept);
    return { featureActs, reconstruction: input.restore(add(matmul(featureActs, tensors.W_dec), tensors.b_dec)), kept: keptPairs(kept) };
  });
}
