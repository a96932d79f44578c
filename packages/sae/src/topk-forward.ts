import { add, axisSize, cast, GraphError, matmul, mul, reduceMax, reduceSum, relu, sub, type ForwardOptions, type ForwardVariant, type HostTensor, type Tensor, type TensorMap } from '@nnd/core';
import { auxiliaryLoss } from './auxiliary-loss.js';
import { centeredEncoder, type CenteredEncoding } from './centered-encoder.js';
import { updateDeadFeatures } from './dead-features.js';
import { normalizeInput } from './input-normalization.js';
import { denseActivations, keptFeatureTotals, keptNorms, type KeptActivations } from './kept-activations.js';
import { denseNorms, l2Loss } from './reconstruction-metrics.js';
import type { BatchTopKSaeConfig, TopKSaeConfig } from './sae-config.js';
import { checkBatchInput, requireTensors, type SaeForwardOutput } from './sparse-autoencoder.js';
import { sparseDecode } from './sparse-decoder.js';
import { withSparseEncoderGradient } from './sparse-encoder-gradient.js';

export const TOPK_PARAMETERS = ['b_dec', 'b_enc', 'W_enc', 'W_dec'] as const;

/** The variant without the auxiliary loss, exact while no feature can be dead after the batch. */
export const NO_DEAD_FEATURES = 'no_dead_features';

/**
 * The auxiliary loss and its dense encoder gradient dominate a TopK step, yet
 * are exactly 0 unless a feature is dead after this batch's counter update.
 * A counter grows by at most 1 per batch, so when the largest counter after
 * the previous step is below n_batches_to_dead - 1 none can reach
 * n_batches_to_dead now, and the step without the auxiliary loss is the
 * same step (and can use the sparse encoder gradient).
 */
export function topKVariants(config: { readonly aux_penalty: number; readonly n_batches_to_dead: number }): readonly ForwardVariant[] {
  if (config.aux_penalty === 0) return [];
  return [
    {
      name: NO_DEAD_FEATURES,
      applies: (previous) => previous.max_batches_not_active < config.n_batches_to_dead - 1,
      // The metric above is the largest counter after the step before, that is the largest in the state the next step
      // reads; a fresh run's counters are all 0, so its first step needs no auxiliary loss either.
      appliesAtStart: (state) => largestCounter(state) < config.n_batches_to_dead - 1,
    },
  ];
}

/** The largest dead-feature counter in a state (`num_batches_not_active`, or one per layer `num_batches_not_active_<i>`); infinite without one. */
export function largestCounter(state: Readonly<Record<string, HostTensor>>): number {
  let largest = Number.NEGATIVE_INFINITY;
  for (const [name, tensor] of Object.entries(state)) {
    if (!/^num_batches_not_active(_\d+)?$/.test(name)) continue;
    for (const value of tensor.data) largest = Math.max(largest, Number(value));
  }
  return largest === Number.NEGATIVE_INFINITY ? Number.POSITIVE_INFINITY : largest;
}

/**
 * relu((x - b_dec) @ W_enc), plus b_enc before the ReLU with `encoder_bias`
 * (SAELens's TopK). Without it the graph is the reference's, op for op.
 */
export function topKEncoder(config: TopKSaeConfig | BatchTopKSaeConfig, x: Tensor, params: { b_dec: Tensor; b_enc: Tensor; W_enc: Tensor }): { encoding: CenteredEncoding; preactivations: Tensor } {
  const encoding = centeredEncoder(x, params.b_dec, params.W_enc);
  return { encoding, preactivations: relu(config.encoder_bias ? add(encoding.preactivations, params.b_enc) : encoding.preactivations) };
}

export interface TopKForward {
  readonly output: SaeForwardOutput;
  /** The kept activations, for state that depends on them (BatchTopK's threshold). */
  readonly kept: KeptActivations;
}

/**
 * The forward pass TopK and BatchTopK share; they differ only in `keep`, the
 * selection of activations (per sample or over the batch).
 *
 * pre = relu((x - b_dec) @ W_enc) (no b_enc, as the reference, unless
 * `encoder_bias`);
 * recon = kept acts @ W_dec + b_dec; loss = l2 + l1_coeff * l1_norm + aux.
 *
 * With `sparse_decoder` the decoder and its gradients touch only the kept
 * features (see sparse-decoder.ts); the encoder gradient is sparse too when
 * no auxiliary loss needs the dense one (see sparse-encoder-gradient.ts).
 */
export function topKForward(
  config: TopKSaeConfig | BatchTopKSaeConfig,
  keep: (preactivations: Tensor) => KeptActivations,
  x: Tensor,
  params: TensorMap,
  state: TensorMap,
  options: ForwardOptions = {},
): TopKForward {
  const { architecture } = config;
  checkBatchInput(x, config.act_size, architecture);
  const tensors = requireTensors(params, TOPK_PARAMETERS, 'params', architecture);
  const { b_dec: bDec, b_enc: bEnc, W_enc: wEnc, W_dec: wDec } = tensors;
  const { num_batches_not_active: counter } = requireTensors(state, ['num_batches_not_active'], 'state', architecture);
  const input = normalizeInput(x, config.input_unit_norm);
  const { encoding, preactivations } = topKEncoder(config, input.x, tensors);
  if (options.variant !== undefined && options.variant !== NO_DEAD_FEATURES) {
    throw new GraphError(`${architecture} SAE forward: unknown variant '${options.variant}'; this SAE has [${NO_DEAD_FEATURES}].`);
  }
  const auxiliary = config.aux_penalty > 0 && options.variant !== NO_DEAD_FEATURES;

  let kept = keep(preactivations);
  let reconstruction: Tensor;
  let featureActs: Tensor;
  let featureTotals: Tensor;
  let norms: { l1Norm: Tensor; l0Norm: Tensor };
  if (config.sparse_decoder) {
    if (!auxiliary) {
      kept = withSparseEncoderGradient(kept, { input: input.x, bDec, wEnc, centered: encoding.centered, ...(config.encoder_bias ? { bEnc } : {}) });
    }
    reconstruction = add(sparseDecode(kept, wDec), bDec);
    // Built only if a program asks for it: the dense acts are an output, not an intermediate.
    featureActs = denseActivations(kept);
    featureTotals = keptFeatureTotals(kept);
    norms = keptNorms(kept, axisSize(x, 0, x.dtype));
  } else {
    featureActs = denseActivations(kept);
    reconstruction = add(matmul(featureActs, wDec), bDec);
    featureTotals = reduceSum(featureActs, 0);
    norms = denseNorms(featureActs);
  }

  const dead = updateDeadFeatures(counter, featureTotals, config.n_batches_to_dead, x.dtype);
  const auxLoss = auxiliary
    ? auxiliaryLoss({
        preactivations,
        dead: dead.dead,
        residual: sub(input.x, reconstruction),
        wDec,
        topKAux: config.top_k_aux,
        auxPenalty: config.aux_penalty,
      })
    : x.graph.scalar(0, x.dtype);
  return {
    kept,
    output: {
      reconstruction: input.restore(reconstruction),
      featureActs,
      losses: { l2_loss: l2Loss(reconstruction, input.x), l1_loss: mul(norms.l1Norm, config.l1_coeff), aux_loss: auxLoss },
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
