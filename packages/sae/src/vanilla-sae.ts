import { add, defineDecomposition, matmul, mul, reduceSum, relu, Rng, type Graph, type Tensor, type TensorMap } from '@nnd/core';
import { centeredEncoder } from './centered-encoder.js';
import { updateDeadFeatures } from './dead-features.js';
import { constrainDecoder } from './decoder-constraint.js';
import { initialDeadFeatureState, initialSaeParameters } from './initial-parameters.js';
import { normalizeInput } from './input-normalization.js';
import { denseNorms, l2Loss } from './reconstruction-metrics.js';
import { parseWithSchema, vanillaConfigSchema, type VanillaSaeConfig } from './sae-config.js';
import { checkBatchInput, inferOnSamples, requireTensors, sparseAutoencoder, type SparseAutoencoder } from './sparse-autoencoder.js';

const PARAMETERS = ['b_dec', 'b_enc', 'W_enc', 'W_dec'] as const;

function encode(x: Tensor, params: TensorMap): Tensor {
  const { b_dec: bDec, b_enc: bEnc, W_enc: wEnc } = requireTensors(params, PARAMETERS, 'params', 'vanilla');
  return relu(add(centeredEncoder(x, bDec, wEnc).preactivations, bEnc));
}

function decode(acts: Tensor, params: TensorMap): Tensor {
  return add(matmul(acts, params.W_dec), params.b_dec);
}

/**
 * The reference's VanillaSAE (SAELens 'standard'): acts = relu((x - b_dec) @
 * W_enc + b_enc), recon = acts @ W_dec + b_dec, loss = l2 + l1_coeff * l1_norm.
 */
function createVanillaSae(config: VanillaSaeConfig): SparseAutoencoder<VanillaSaeConfig> {
  return sparseAutoencoder({
    architecture: 'vanilla',
    config,
    parameterNames: PARAMETERS,
    initialParams: (rng: Rng = new Rng(config.seed)) => initialSaeParameters(config.act_size, config.dict_size, rng),
    initialState: () => initialDeadFeatureState(config.dict_size),
    forward(_graph: Graph, x: Tensor, params: TensorMap, state: TensorMap) {
      checkBatchInput(x, config.act_size, 'vanilla');
      const { num_batches_not_active: counter } = requireTensors(state, ['num_batches_not_active'], 'state', 'vanilla');
      const input = normalizeInput(x, config.input_unit_norm);
      const acts = encode(input.x, params);
      const reconstruction = decode(acts, params);
      const { l1Norm, l0Norm } = denseNorms(acts);
      const dead = updateDeadFeatures(counter, reduceSum(acts, 0), config.n_batches_to_dead, x.dtype);
      return {
        reconstruction: input.restore(reconstruction),
        featureActs: acts,
        losses: { l2_loss: l2Loss(reconstruction, input.x), l1_loss: mul(l1Norm, config.l1_coeff) },
        metrics: { l0_norm: l0Norm, l1_norm: l1Norm, num_dead_features: dead.numDeadFeatures, n_dead_in_batch: dead.deadInBatch },
        nextState: { num_batches_not_active: dead.counter },
      };
    },
    infer(_graph, x, params) {
      return inferOnSamples(x, config.act_size, 'vanilla', (samples) => {
        const input = normalizeInput(samples, config.input_unit_norm);
        const featureActs = encode(input.x, params);
        return { featureActs, reconstruction: input.restore(decode(featureActs, params)) };
      });
    },
    constrain: constrainDecoder,
  });
}

export const vanillaSae = {
  ...defineDecomposition<VanillaSaeConfig>({
    architecture: 'vanilla',
    parseConfig: (config) => parseWithSchema(vanillaConfigSchema, 'vanilla', config),
    create: createVanillaSae,
  }),
  configSchema: vanillaConfigSchema,
};
