import { add, defineDecomposition, matmul, Rng, type Tensor, type TensorMap } from '@nnd/core';
import { constrainDecoder } from './decoder-constraint.js';
import { initialDeadFeatureState, initialSaeParameters } from './initial-parameters.js';
import { normalizeInput } from './input-normalization.js';
import { denseActivations, keepTopKPerSample, keptPairs } from './kept-activations.js';
import { parseWithSchema, topKConfigSchema, type TopKSaeConfig } from './sae-config.js';
import { inferOnSamples, requireTensors, sparseAutoencoder, type SparseAutoencoder } from './sparse-autoencoder.js';
import { TOPK_PARAMETERS, topKEncoder, topKForward, topKVariants } from './topk-forward.js';

/**
 * The reference's TopKSAE: pre = relu((x - b_dec) @ W_enc) (+ b_enc inside
 * the ReLU with `encoder_bias`, as SAELens); the top_k largest
 * per sample are kept; loss = l2 + l1_coeff * l1_norm + aux.
 */
function createTopKSae(config: TopKSaeConfig): SparseAutoencoder<TopKSaeConfig> {
  const keep = (preactivations: Tensor) => keepTopKPerSample(preactivations, config.top_k);
  return sparseAutoencoder({
    architecture: 'topk',
    config,
    parameterNames: TOPK_PARAMETERS,
    initialParams: (rng: Rng = new Rng(config.seed)) => initialSaeParameters(config.act_size, config.dict_size, rng),
    initialState: () => initialDeadFeatureState(config.dict_size),
    forward: (_graph, x, params, state, options) => topKForward(config, keep, x, params, state, options).output,
    variants: topKVariants(config),
    infer(_graph, x, params: TensorMap) {
      const tensors = requireTensors(params, TOPK_PARAMETERS, 'params', 'topk');
      const { b_dec: bDec, W_dec: wDec } = tensors;
      return inferOnSamples(x, config.act_size, 'topk', (samples) => {
        const input = normalizeInput(samples, config.input_unit_norm);
        const kept = keep(topKEncoder(config, input.x, tensors).preactivations);
        const featureActs = denseActivations(kept);
        return { featureActs, reconstruction: input.restore(add(matmul(featureActs, wDec), bDec)), kept: keptPairs(kept) };
      });
    },
    constrain: constrainDecoder,
  });
}

export const topKSae = {
  ...defineDecomposition<TopKSaeConfig>({
    architecture: 'topk',
    parseConfig: (config) => parseWithSchema(topKConfigSchema, 'topk', config),
    create: createTopKSae,
  }),
  configSchema: topKConfigSchema,
};
