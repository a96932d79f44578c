import { defineDecomposition, matmul, mul, reduceSum, Rng, type Tensor, type TensorMap } from '@nnd/core';
import { constrainDecoder, denseNorms, initialDeadFeatureState, l2Loss, updateDeadFeatures } from '@nnd/sae';
import { initialTranscoderParameters, transcoderParameterNames } from './initial-parameters.js';
import { parseTranscoderConfig, vanillaTranscoderConfigSchema, type VanillaTranscoderConfig } from './transcoder-config.js';
import { encodeTranscoder, finishOutput, standardise } from './transcoder-layers.js';
import { requireTensors, transcoder, type Transcoder } from './transcoder.js';

/**
 * The reference's VanillaTranscoder (SAELens 'transcoder'): acts =
 * relu(x @ W_enc + b_enc), output = acts @ W_dec + b_dec (+ x @ W_skip^T),
 * loss = l2 + l1_coeff * l1_norm.
 */
function createVanillaTranscoder(config: VanillaTranscoderConfig): Transcoder<VanillaTranscoderConfig> {
  const decode = (acts: Tensor, x: Tensor, params: TensorMap) => finishOutput(config, matmul(acts, params.W_dec), x, params);
  return transcoder({
    config,
    parameterNames: transcoderParameterNames(config),
    initialParams: (rng: Rng = new Rng(config.seed)) => initialTranscoderParameters(config, rng),
    initialState: () => initialDeadFeatureState(config.dict_size),
    forward(_graph, x, y, params, state) {
      const { num_batches_not_active: counter } = requireTensors(state, ['num_batches_not_active'], 'state', config.architecture);
      const { input, target } = standardise(x, y, config.input_unit_norm);
      const acts = encodeTranscoder(config, input.x, params).preactivations;
      const output = decode(acts, input.x, params);
      const { l1Norm, l0Norm } = denseNorms(acts);
      const dead = updateDeadFeatures(counter, reduceSum(acts, 0), config.n_batches_to_dead, x.dtype);
      return {
        output: target.restore(output),
        featureActs: acts,
        losses: { l2_loss: l2Loss(output, target.x), l1_loss: mul(l1Norm, config.l1_coeff) },
        metrics: { l0_norm: l0Norm, l1_norm: l1Norm, num_dead_features: dead.numDeadFeatures, n_dead_in_batch: dead.deadInBatch },
        nextState: { num_batches_not_active: dead.counter },
      };
    },
    inferSamples(_graph, x, params) {
      const featureActs = encodeTranscoder(config, x, params).preactivations;
      return { featureActs, output: decode(featureActs, x, params) };
    },
    constrain: constrainDecoder,
  });
}

export const vanillaTranscoder = {
  ...defineDecomposition<VanillaTranscoderConfig>({
    architecture: 'vanilla_transcoder',
    parseConfig: (config) => parseTranscoderConfig(vanillaTranscoderConfigSchema, 'vanilla_transcoder', config),
    create: createVanillaTranscoder,
  }),
  configSchema: vanillaTranscoderConfigSchema,
};
