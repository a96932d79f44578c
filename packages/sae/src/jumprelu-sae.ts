import { add, defineDecomposition, hostTensor, matmul, mul, reduceMean, reduceSum, relu, Rng, type Tensor, type TensorMap } from '@nnd/core';
import { updateDeadFeatures } from './dead-features.js';
import { constrainDecoder } from './decoder-constraint.js';
import { initialDeadFeatureState, initialSaeParameters } from './initial-parameters.js';
import { normalizeInput } from './input-normalization.js';
import { jumpRelu, thresholdStep } from './jumprelu-estimators.js';
import { denseNorms, l2Loss } from './reconstruction-metrics.js';
import { jumpReluConfigSchema, parseWithSchema, type JumpReluSaeConfig } from './sae-config.js';
import { checkBatchInput, inferOnSamples, requireTensors, sparseAutoencoder, type SparseAutoencoder } from './sparse-autoencoder.js';

const PARAMETERS = ['b_dec', 'b_enc', 'W_enc', 'W_dec', 'log_threshold'] as const;

/** relu(x @ W_enc + b_enc): JumpReLU does not subtract b_dec first (SAELens apply_b_dec_to_input = false). */
function encode(x: Tensor, params: TensorMap, bandwidth: number): Tensor {
  const { b_enc: bEnc, W_enc: wEnc, log_threshold: logThreshold } = requireTensors(params, PARAMETERS, 'params', 'jumprelu');
  return jumpRelu(relu(add(matmul(x, wEnc), bEnc)), logThreshold, bandwidth);
}

/**
 * The reference's JumpReLUSAE: pre = relu(x @ W_enc + b_enc); out = pre *
 * (pre > exp(log_threshold)) with straight-through gradients;
 * loss = l2 + l1_coeff * mean over samples of sum_f H(out > t). The
 * reference names that sparsity term `l1_loss`, and so do we.
 */
function createJumpReluSae(config: JumpReluSaeConfig): SparseAutoencoder<JumpReluSaeConfig> {
  const decode = (acts: Tensor, params: TensorMap) => add(matmul(acts, params.W_dec), params.b_dec);
  return sparseAutoencoder({
    architecture: 'jumprelu',
    config,
    parameterNames: PARAMETERS,
    initialParams: (rng: Rng = new Rng(config.seed)) => ({
      ...initialSaeParameters(config.act_size, config.dict_size, rng),
      log_threshold: hostTensor('float32', [config.dict_size], new Float32Array(config.dict_size)),
    }),
    initialState: () => initialDeadFeatureState(config.dict_size),
    forward(_graph, x, params, state) {
      checkBatchInput(x, config.act_size, 'jumprelu');
      const { num_batches_not_active: counter } = requireTensors(state, ['num_batches_not_active'], 'state', 'jumprelu');
      const input = normalizeInput(x, config.input_unit_norm);
      const acts = encode(input.x, params, config.bandwidth);
      const reconstruction = decode(acts, params);
      const l0 = reduceMean(reduceSum(thresholdStep(acts, params.log_threshold, config.bandwidth), -1));
      const { l1Norm, l0Norm } = denseNorms(acts);
      const dead = updateDeadFeatures(counter, reduceSum(acts, 0), config.n_batches_to_dead, x.dtype);
      return {
        reconstruction: input.restore(reconstruction),
        featureActs: acts,
        losses: { l2_loss: l2Loss(reconstruction, input.x), l1_loss: mul(l0, config.l1_coeff) },
        metrics: { l0_norm: l0Norm, l1_norm: l1Norm, num_dead_features: dead.numDeadFeatures, n_dead_in_batch: dead.deadInBatch },
        nextState: { num_batches_not_active: dead.counter },
      };
    },
    infer(_graph, x, params) {
      return inferOnSamples(x, config.act_size, 'jumprelu', (samples) => {
        const input = normalizeInput(samples, config.input_unit_norm);
        const featureActs = encode(input.x, params, config.bandwidth);
        return { featureActs, reconstruction: input.restore(decode(featureActs, params)) };
      });
    },
    constrain: constrainDecoder,
  });
}

export const jumpReluSae = {
  ...defineDecomposition<JumpReluSaeConfig>({
    architecture: 'jumprelu',
    parseConfig: (config) => parseWithSchema(jumpReluConfigSchema, 'jumprelu', config),
    create: createJumpReluSae,
  }),
  configSchema: jumpReluConfigSchema,
};
