import { defineDecomposition, matmul, mul, reduceMean, reduceSum, Rng, type Tensor, type TensorMap } from '@nnd/core';
import { constrainDecoder, denseNorms, initialDeadFeatureState, jumpRelu, l2Loss, thresholdStep, updateDeadFeatures } from '@nnd/sae';
import { initialTranscoderParameters, transcoderParameterNames } from './initial-parameters.js';
import { jumpReluTranscoderConfigSchema, parseTranscoderConfig, type JumpReluTranscoderConfig } from './transcoder-config.js';
import { encodeTranscoder, finishOutput, standardise } from './transcoder-layers.js';
import { requireTensors, transcoder, type Transcoder } from './transcoder.js';

/**
 * The reference's JumpReLUTranscoder: p = relu(x @ W_enc + b_enc) (ReLU
 * first), acts = p * (p > exp(log_threshold)) with the straight-through
 * gradients; loss = l2 + sparsity_loss, sparsity_loss = l1_coeff * mean over
 * samples of sum_f Step(p, threshold). The Step reads p, not the acts, so
 * values just below the threshold (inside the bandwidth) pull it down too.
 */
function createJumpReluTranscoder(config: JumpReluTranscoderConfig): Transcoder<JumpReluTranscoderConfig> {
  const { architecture, bandwidth } = config;
  const decode = (acts: Tensor, x: Tensor, params: TensorMap) => finishOutput(config, matmul(acts, params.W_dec), x, params);
  return transcoder({
    config,
    parameterNames: transcoderParameterNames(config),
    initialParams: (rng: Rng = new Rng(config.seed)) => initialTranscoderParameters(config, rng),
    initialState: () => initialDeadFeatureState(config.dict_size),
    forward(_graph, x, y, params, state) {
      const { log_threshold: logThreshold } = requireTensors(params, ['log_threshold'], 'params', architecture);
      const { num_batches_not_active: counter } = requireTensors(state, ['num_batches_not_active'], 'state', architecture);
      const { input, target } = standardise(x, y, config.input_unit_norm);
      const dense = encodeTranscoder(config, input.x, params).preactivations;
      const acts = jumpRelu(dense, logThreshold, bandwidth);
      const output = decode(acts, input.x, params);
      const l0 = reduceMean(reduceSum(thresholdStep(dense, logThreshold, bandwidth), -1));
      const { l1Norm } = denseNorms(acts);
      const dead = updateDeadFeatures(counter, reduceSum(acts, 0), config.n_batches_to_dead, x.dtype);
      return {
        output: target.restore(output),
        featureActs: acts,
        losses: { l2_loss: l2Loss(output, target.x), sparsity_loss: mul(l0, config.l1_coeff) },
        metrics: { l0_norm: l0, l1_norm: l1Norm, num_dead_features: dead.numDeadFeatures, n_dead_in_batch: dead.deadInBatch },
        nextState: { num_batches_not_active: dead.counter },
      };
    },
    inferSamples(_graph, x, params) {
      const featureActs = jumpRelu(encodeTranscoder(config, x, params).preactivations, params.log_threshold, bandwidth);
      return { featureActs, output: decode(featureActs, x, params) };
    },
    constrain: constrainDecoder,
  });
}

export const jumpReluTranscoder = {
  ...defineDecomposition<JumpReluTranscoderConfig>({
    architecture: 'jumprelu_transcoder',
    parseConfig: (config) => parseTranscoderConfig(jumpReluTranscoderConfigSchema, 'jumprelu_transcoder', config),
    create: createJumpReluTranscoder,
  }),
  configSchema: jumpReluTranscoderConfigSchema,
};
