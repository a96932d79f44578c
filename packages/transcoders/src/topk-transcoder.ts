import { axisSize, cast, defineDecomposition, greater, GraphError, hostTensor, matmul, mul, reduceMax, reduceSum, Rng, sub, type ForwardOptions, type Tensor, type TensorMap } from '@nnd/core';
import {
  auxiliaryLoss,
  constrainDecoder,
  denseActivations,
  denseNorms,
  initialDeadFeatureState,
  keepTopKOfBatch,
  keepTopKPerSample,
  keptFeatureTotals,
  keptPairs,
  keptNorms,
  l2Loss,
  NO_DEAD_FEATURES,
  sparseDecode,
  topKVariants,
  updateDeadFeatures,
  updateRunningThreshold,
  withSparseEncoderGradient,
  type KeptActivations,
} from '@nnd/sae';
import { initialTranscoderParameters, transcoderParameterNames } from './initial-parameters.js';
import { batchTopKTranscoderConfigSchema, parseTranscoderConfig, topKTranscoderConfigSchema, type BatchTopKTranscoderConfig, type TopKTranscoderConfig } from './transcoder-config.js';
import { encodeTranscoder, finishOutput, standardise } from './transcoder-layers.js';
import { requireTensors, transcoder, type Transcoder, type TranscoderForwardOutput } from './transcoder.js';

type TopKFamilyConfig = TopKTranscoderConfig | BatchTopKTranscoderConfig;

/**
 * The forward pass TopK and BatchTopK transcoders share; they differ only in
 * `keep`. dense = relu(x @ W_enc + b_enc); output = kept acts @ W_dec + b_dec
 * (+ x @ W_skip^T); loss = l2 + l1_coeff * l1_norm + aux, where the auxiliary
 * loss reconstructs the (standardised) target's residual from the dead
 * features. With `sparse_decoder` the decoder touches only the kept
 * features, and the encoder gradient is sparse too when no auxiliary loss
 * needs the dense one (the `no_dead_features` variant), as @nnd/sae's TopK.
 */
function topKTranscoderForward(
  config: TopKFamilyConfig,
  keep: (preactivations: Tensor) => KeptActivations,
  x: Tensor,
  y: Tensor,
  params: TensorMap,
  state: TensorMap,
  options: ForwardOptions = {},
): { output: TranscoderForwardOutput; kept: KeptActivations } {
  const { architecture } = config;
  const { b_enc: bEnc, W_enc: wEnc, W_dec: wDec } = requireTensors(params, ['b_enc', 'W_enc', 'W_dec'], 'params', architecture);
  const { num_batches_not_active: counter } = requireTensors(state, ['num_batches_not_active'], 'state', architecture);
  if (options.variant !== undefined && options.variant !== NO_DEAD_FEATURES) {
    throw new GraphError(`${architecture} forward: unknown variant '${options.variant}'; this transcoder has [${NO_DEAD_FEATURES}].`);
  }
  const auxiliary = config.aux_penalty > 0 && options.variant !== NO_DEAD_FEATURES;
  const { input, target } = standardise(x, y, config.input_unit_norm);
  const encoding = encodeTranscoder(config, input.x, params);

  let kept = keep(encoding.preactivations);
  let decoded: Tensor;
  let featureActs: Tensor;
  let featureTotals: Tensor;
  let norms: { l1Norm: Tensor; l0Norm: Tensor };
  if (config.sparse_decoder) {
    if (!auxiliary) kept = withSparseEncoderGradient(kept, { input: input.x, bDec: encoding.bDec, wEnc, centered: encoding.centered, bEnc });
    decoded = sparseDecode(kept, wDec);
    featureActs = denseActivations(kept);
    featureTotals = keptFeatureTotals(kept);
    norms = keptNorms(kept, axisSize(x, 0, x.dtype));
  } else {
    featureActs = denseActivations(kept);
    decoded = matmul(featureActs, wDec);
    featureTotals = reduceSum(featureActs, 0);
    norms = denseNorms(featureActs);
  }
  const output = finishOutput(config, decoded, input.x, params);

  const dead = updateDeadFeatures(counter, featureTotals, config.n_batches_to_dead, x.dtype);
  const auxLoss = auxiliary
    ? auxiliaryLoss({
        preactivations: encoding.preactivations,
        dead: dead.dead,
        residual: sub(target.x, output),
        wDec,
        topKAux: config.top_k_aux,
        auxPenalty: config.aux_penalty,
      })
    : x.graph.scalar(0, x.dtype);
  return {
    kept,
    output: {
      output: target.restore(output),
      featureActs,
      losses: { l2_loss: l2Loss(output, target.x), l1_loss: mul(norms.l1Norm, config.l1_coeff), aux_loss: auxLoss },
      metrics: {
        l0_norm: norms.l0Norm,
        l1_norm: norms.l1Norm,
        num_dead_features: dead.numDeadFeatures,
        n_dead_in_batch: dead.deadInBatch,
        // What topKVariants decides from.
        max_batches_not_active: cast(reduceMax(dead.counter), x.dtype),
      },
      nextState: { num_batches_not_active: dead.counter },
    },
  };
}

/** The reference's TopKTranscoder: the top_k largest of relu(x @ W_enc + b_enc) per sample are kept. */
function createTopKTranscoder(config: TopKTranscoderConfig): Transcoder<TopKTranscoderConfig> {
  const keep = (preactivations: Tensor) => keepTopKPerSample(preactivations, config.top_k);
  return transcoder({
    config,
    parameterNames: transcoderParameterNames(config),
    initialParams: (rng: Rng = new Rng(config.seed)) => initialTranscoderParameters(config, rng),
    initialState: () => initialDeadFeatureState(config.dict_size),
    forward: (_graph, x, y, params, state, options) => topKTranscoderForward(config, keep, x, y, params, state, options).output,
    variants: topKVariants(config),
    inferSamples(_graph, x, params) {
      const kept = keep(encodeTranscoder(config, x, params).preactivations);
      const featureActs = denseActivations(kept);
      return { featureActs, output: finishOutput(config, matmul(featureActs, params.W_dec), x, params), kept: keptPairs(kept) };
    },
    constrain: constrainDecoder,
  });
}

/**
 * The reference's BatchTopKTranscoder: the top_k * batch largest of the
 * whole batch are kept. For inference sample by sample it keeps @nnd/sae's
 * running threshold (the mean over steps of the smallest kept positive
 * activation): acts = p * (p > threshold).
 */
function createBatchTopKTranscoder(config: BatchTopKTranscoderConfig): Transcoder<BatchTopKTranscoderConfig> {
  const keep = (preactivations: Tensor) => keepTopKOfBatch(preactivations, config.top_k);
  return transcoder({
    config,
    parameterNames: transcoderParameterNames(config),
    initialParams: (rng: Rng = new Rng(config.seed)) => initialTranscoderParameters(config, rng),
    initialState: () => ({
      ...initialDeadFeatureState(config.dict_size),
      threshold: hostTensor('float32', [], [0]),
      threshold_steps: hostTensor('float32', [], [0]),
    }),
    forward(_graph, x, y, params, state, options) {
      const running = requireTensors(state, ['threshold', 'threshold_steps'], 'state', config.architecture);
      const { output, kept } = topKTranscoderForward(config, keep, x, y, params, state, options);
      const next = updateRunningThreshold(kept.values, running.threshold, running.threshold_steps);
      return {
        ...output,
        metrics: { ...output.metrics, threshold: cast(next.threshold, x.dtype) },
        nextState: { ...output.nextState, threshold: next.threshold, threshold_steps: next.steps },
      };
    },
    variants: topKVariants(config),
    inferSamples(_graph, x, params, state) {
      const { threshold } = requireTensors(state, ['threshold'], 'state', config.architecture);
      const dense = encodeTranscoder(config, x, params).preactivations;
      const featureActs = mul(dense, cast(greater(dense, cast(threshold, dense.dtype)), dense.dtype));
      return { featureActs, output: finishOutput(config, matmul(featureActs, params.W_dec), x, params) };
    },
    constrain: constrainDecoder,
  });
}

export const topKTranscoder = {
  ...defineDecomposition<TopKTranscoderConfig>({
    architecture: 'topk_transcoder',
    parseConfig: (config) => parseTranscoderConfig(topKTranscoderConfigSchema, 'topk_transcoder', config),
    create: createTopKTranscoder,
  }),
  configSchema: topKTranscoderConfigSchema,
};

export const batchTopKTranscoder = {
  ...defineDecomposition<BatchTopKTranscoderConfig>({
    architecture: 'batchtopk_transcoder',
    parseConfig: (config) => parseTranscoderConfig(batchTopKTranscoderConfigSchema, 'batchtopk_transcoder', config),
    create: createBatchTopKTranscoder,
  }),
  configSchema: batchTopKTranscoderConfigSchema,
};
