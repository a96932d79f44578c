import { add, cast, defineDecomposition, div, greater, hostTensor, matmul, mul, neg, reduceMax, reduceSum, Rng, sub, where, type Tensor, type TensorMap } from '@nnd/core';
import { constrainDecoder } from './decoder-constraint.js';
import { initialDeadFeatureState, initialSaeParameters } from './initial-parameters.js';
import { normalizeInput } from './input-normalization.js';
import { keepTopKOfBatch } from './kept-activations.js';
import { batchTopKConfigSchema, parseWithSchema, type BatchTopKSaeConfig } from './sae-config.js';
import { inferOnSamples, requireTensors, sparseAutoencoder, type SparseAutoencoder } from './sparse-autoencoder.js';
import { TOPK_PARAMETERS, topKEncoder, topKForward, topKVariants } from './topk-forward.js';

/**
 * The running threshold: the mean, over the training steps so far, of the
 * smallest positive activation the batch kept. `threshold_steps` counts the
 * steps averaged (steps that kept no positive activation do not count).
 */
export function updateRunningThreshold(keptValues: Tensor, threshold: Tensor, steps: Tensor): { threshold: Tensor; steps: Tensor } {
  const positive = greater(keptValues, 0);
  const smallest = cast(neg(reduceMax(where(positive, neg(keptValues), -Infinity))), threshold.dtype);
  const anyPositive = greater(reduceSum(cast(positive, threshold.dtype)), 0);
  const nextSteps = add(steps, cast(anyPositive, steps.dtype));
  // Incremental mean; where no step counted yet the division is never selected.
  const nextThreshold = where(anyPositive, add(threshold, div(sub(smallest, threshold), nextSteps)), threshold);
  return { threshold: nextThreshold, steps: nextSteps };
}

/**
 * The reference's BatchTopKSAE: as TopK, but the top_k * batch largest
 * activations of the whole batch are kept, so samples share a budget. For
 * inference one sample at a time it keeps a running threshold (saved with
 * the weights as `threshold`): acts = pre * (pre > threshold).
 */
function createBatchTopKSae(config: BatchTopKSaeConfig): SparseAutoencoder<BatchTopKSaeConfig> {
  const keep = (preactivations: Tensor) => keepTopKOfBatch(preactivations, config.top_k);
  return sparseAutoencoder({
    architecture: 'batchtopk',
    config,
    parameterNames: TOPK_PARAMETERS,
    initialParams: (rng: Rng = new Rng(config.seed)) => initialSaeParameters(config.act_size, config.dict_size, rng),
    initialState: () => ({
      ...initialDeadFeatureState(config.dict_size),
      threshold: hostTensor('float32', [], [0]),
      threshold_steps: hostTensor('float32', [], [0]),
    }),
    forward(_graph, x, params, state, options) {
      const running = requireTensors(state, ['threshold', 'threshold_steps'], 'state', 'batchtopk');
      const { output, kept } = topKForward(config, keep, x, params, state, options);
      const next = updateRunningThreshold(kept.values, running.threshold, running.threshold_steps);
      return {
        ...output,
        metrics: { ...output.metrics, threshold: cast(next.threshold, x.dtype) },
        nextState: { ...output.nextState, threshold: next.threshold, threshold_steps: next.steps },
      };
    },
    infer(_graph, x, params: TensorMap, state: TensorMap) {
      const tensors = requireTensors(params, TOPK_PARAMETERS, 'params', 'batchtopk');
      const { b_dec: bDec, W_dec: wDec } = tensors;
      const { threshold } = requireTensors(state, ['threshold'], 'state', 'batchtopk');
      return inferOnSamples(x, config.act_size, 'batchtopk', (samples) => {
        const input = normalizeInput(samples, config.input_unit_norm);
        const { preactivations } = topKEncoder(config, input.x, tensors);
        const featureActs = mul(preactivations, cast(greater(preactivations, cast(threshold, preactivations.dtype)), preactivations.dtype));
        return { featureActs, reconstruction: input.restore(add(matmul(featureActs, wDec), bDec)) };
      });
    },
    variants: topKVariants(config),
    constrain: constrainDecoder,
  });
}

export const batchTopKSae = {
  ...defineDecomposition<BatchTopKSaeConfig>({
    architecture: 'batchtopk',
    parseConfig: (config) => parseWithSchema(batchTopKConfigSchema, 'batchtopk', config),
    create: createBatchTopKSae,
  }),
  configSchema: batchTopKConfigSchema,
};
