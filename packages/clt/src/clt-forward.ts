import {
  add,
  axisSize,
  cast,
  concat,
  div,
  exp,
  GraphError,
  matmul,
  maximum,
  mul,
  reduceMax,
  reduceMean,
  reduceSum,
  reduceSumSquare,
  relu,
  reshape,
  ShapeError,
  slice,
  sqrt,
  squeeze,
  sub,
  tanh,
  type ActivationPort,
  type DecompositionBatch,
  type ForwardOptions,
  type ForwardOutput,
  type ForwardVariant,
  type Tensor,
  type TensorMap,
} from '@nnd/core';
import {
  auxiliaryLoss,
  denseActivations,
  denseNorms,
  jumpRelu,
  keepTopKOfBatch,
  keepTopKPerSample,
  keptFeatureTotals,
  keptNorms,
  largestCounter,
  NO_DEAD_FEATURES,
  thresholdStep,
  updateDeadFeatures,
  type DeadFeatureUpdate,
  type KeptActivations,
} from '@nnd/sae';
import type { CltConfig } from './clt-config.js';
import { cltParameterNames, cltStateNames, decoderName } from './clt-parameters.js';
import { withSparseCltEncoderGradient } from './sparse-encoder-gradient.js';
import { sparseDecodeTargets } from './sparse-target-decoder.js';

/** The streams of a CLT: layer i reads reads[i] and writes writes[i]. */
export interface CltPorts {
  readonly reads: readonly ActivationPort[];
  readonly writes: readonly ActivationPort[];
}

function isTopK(config: CltConfig): boolean {
  return config.encoder_type === 'topk' || config.encoder_type === 'batchtopk';
}

/**
 * TopK and BatchTopK without the auxiliary loss: exact while no counter can
 * reach n_batches_to_dead in this batch (a counter grows by at most 1 per
 * batch), as @nnd/sae's `no_dead_features`, over the largest counter of all layers.
 */
export function cltVariants(config: CltConfig): readonly ForwardVariant[] {
  if (!isTopK(config) || config.aux_penalty === 0) return [];
  return [
    {
      name: NO_DEAD_FEATURES,
      applies: (previous) => previous.max_batches_not_active < config.n_batches_to_dead - 1,
      appliesAtStart: (state) => largestCounter(state) < config.n_batches_to_dead - 1,
    },
  ];
}

function requireNames(map: TensorMap, names: readonly string[], role: string, architecture: string): void {
  const missing = names.filter((name) => map[name] === undefined);
  if (missing.length > 0) {
    throw new GraphError(`${architecture} forward: ${role} ${missing.map((name) => `'${name}'`).join(', ')} missing; expected {${names.join(', ')}}, got {${Object.keys(map).join(', ')}}.`);
  }
}

function streamOf(map: TensorMap, port: ActivationPort, role: 'input' | 'target', architecture: string): Tensor {
  const tensor = map[port.hook];
  if (tensor === undefined) {
    throw new GraphError(`${architecture} forward: the batch has no ${role} '${port.hook}' (it has {${Object.keys(map).join(', ')}}); this CLT reads and writes one stream per layer.`);
  }
  if (tensor.rank !== 2 || tensor.shape[1] !== port.width) {
    throw new ShapeError(`${architecture} forward: ${role} '${port.hook}' must be [batch, ${port.width}], got ${tensor}; reshape [batch, pos, d] activations to [batch*pos, d] first.`);
  }
  return tensor;
}

/** One source layer's encoding: dense activations, or the kept ones of TopK/BatchTopK. */
interface LayerEncoding {
  /** relu(x W_enc + b_enc), [batch, F]: what top-k selects from and the auxiliary loss reads. */
  readonly dense: Tensor;
  /** Before the ReLU (the pre-activation loss reads it). */
  readonly preactivations: Tensor;
  readonly kept?: KeptActivations;
  /** [batch, F]: the activations (built lazily for TopK: only programs that ask for them compute them). */
  readonly acts: () => Tensor;
  readonly dead: DeadFeatureUpdate;
  readonly l0Norm: Tensor;
  readonly l1Norm: Tensor;
  /** [batch, d_out] each: what this layer's features write to layers i, i + 1, ..., n - 1. */
  readonly contributions: readonly Tensor[];
}

function layerSlice(x: Tensor, axis: number, index: number): Tensor {
  return squeeze(slice(x, { starts: [index], ends: [index + 1], axes: [axis] }), axis);
}

/** W_dec_i[:, t, :] as an [F, d_out] matrix: source i's decoder to target layer i + t. */
function targetBlock(decoders: Tensor, t: number, features: number, dOut: number): Tensor {
  return decoders.shape[1] === 1 ? reshape(decoders, [features, dOut]) : reshape(slice(decoders, { starts: [t], ends: [t + 1], axes: [1] }), [features, dOut]);
}

/**
 * The reference's cross-layer transcoder forward (clt.py), plus Anthropic's
 * losses when config.variant is 'anthropic':
 *
 * - per source layer i: pre_i = x_i W_enc_i + b_enc_i, then relu and the
 *   encoder type's selection (per-row top-k; top k*B of this layer; JumpReLU
 *   with this layer's thresholds; nothing);
 * - y_hat_j = b_dec_j + sum_{i <= j} a_i W_dec_i[:, j - i, :]. Each source's
 *   decoders are one [F, (n - i) * d_out] matrix, so one MatMul writes dense
 *   activations to all its target layers at once; kept (TopK) activations
 *   gather their rows per target (sparse-target-decoder.ts);
 * - losses and metrics as DECOMPOSITIONS.md 3a / 3b.
 */
export function cltForward(config: CltConfig, ports: CltPorts, batch: DecompositionBatch, params: TensorMap, state: TensorMap, options: ForwardOptions = {}): ForwardOutput {
  const { architecture, layers, dict_size: features, output_size: dOut } = config;
  const n = layers.length;
  if (options.variant !== undefined && !cltVariants(config).some((variant) => variant.name === options.variant)) {
    throw new GraphError(
      `${architecture} forward: unknown variant '${options.variant}'; this CLT has [${cltVariants(config)
        .map((variant) => variant.name)
        .join(', ')}].`,
    );
  }
  requireNames(params, cltParameterNames(config), 'params', architecture);
  requireNames(state, cltStateNames(config), 'state', architecture);
  const xs = ports.reads.map((port) => streamOf(batch.inputs, port, 'input', architecture));
  const ys = ports.writes.map((port) => streamOf(batch.targets, port, 'target', architecture));
  const dtype = xs[0].dtype;
  const graph = xs[0].graph;
  const batchDim = xs[0].shape[0];
  const batchSize = axisSize(xs[0], 0, dtype);
  const auxiliary = isTopK(config) && config.aux_penalty > 0 && options.variant !== NO_DEAD_FEATURES;
  const anthropic = config.variant === 'anthropic';

  const encodings: LayerEncoding[] = [];
  for (let i = 0; i < n; i++) {
    const preactivations = add(matmul(xs[i], params[`W_enc_${i}`]), params[`b_enc_${i}`]);
    const dense = relu(preactivations);
    const decoders = params[decoderName(i)];
    // Dense activations: one [F, (n - i) * d_out] MatMul writes to every target layer at once.
    const denseDecode = (acts: Tensor): Tensor[] => {
      const decoded = matmul(acts, reshape(decoders, [features, (n - i) * dOut]));
      if (n - i === 1) return [decoded];
      const byTarget = reshape(decoded, [batchDim, n - i, dOut]);
      return Array.from({ length: n - i }, (_, t) => layerSlice(byTarget, 1, t));
    };
    const counter = state[`num_batches_not_active_${i}`];
    if (config.encoder_type === 'topk' || config.encoder_type === 'batchtopk') {
      let kept = config.encoder_type === 'topk' ? keepTopKPerSample(dense, config.top_k) : keepTopKOfBatch(dense, config.top_k);
      if (config.sparse_decoder) {
        // Without the auxiliary loss nothing else needs the dense encoder gradient: keep it sparse too.
        if (!auxiliary) kept = withSparseCltEncoderGradient(kept, xs[i], params[`W_enc_${i}`], params[`b_enc_${i}`]);
        const norms = keptNorms(kept, batchSize);
        const finalKept = kept;
        encodings.push({
          dense,
          preactivations,
          kept,
          acts: () => denseActivations(finalKept),
          dead: updateDeadFeatures(counter, keptFeatureTotals(kept), config.n_batches_to_dead, dtype),
          l0Norm: norms.l0Norm,
          l1Norm: norms.l1Norm,
          contributions: sparseDecodeTargets(kept, decoders),
        });
      } else {
        const acts = denseActivations(kept);
        const norms = denseNorms(acts);
        encodings.push({
          dense,
          preactivations,
          kept,
          acts: () => acts,
          dead: updateDeadFeatures(counter, reduceSum(acts, 0), config.n_batches_to_dead, dtype),
          l0Norm: norms.l0Norm,
          l1Norm: norms.l1Norm,
          contributions: denseDecode(acts),
        });
      }
    } else {
      const acts = config.encoder_type === 'jumprelu' ? jumpRelu(dense, params[`log_threshold_${i}`], config.bandwidth) : dense;
      const norms = denseNorms(acts);
      encodings.push({
        dense,
        preactivations,
        acts: () => acts,
        dead: updateDeadFeatures(counter, reduceSum(acts, 0), config.n_batches_to_dead, dtype),
        l0Norm: norms.l0Norm,
        l1Norm: norms.l1Norm,
        contributions: denseDecode(acts),
      });
    }
  }

  // y_hat_j = b_dec_j + the contributions of sources i <= j; each target layer's MSE is a mean over batch and features.
  const reconstructions: Tensor[] = [];
  const perLayerL2: Tensor[] = [];
  for (let j = 0; j < n; j++) {
    let sum = encodings[0].contributions[j];
    for (let i = 1; i <= j; i++) sum = add(sum, encodings[i].contributions[j - i]);
    const reconstruction = add(sum, params[`b_dec_${j}`]);
    const error = sub(reconstruction, ys[j]);
    reconstructions.push(reconstruction);
    perLayerL2.push(reduceMean(mul(error, error)));
  }
  const sumOfLayers = (tensors: readonly Tensor[]): Tensor => tensors.reduce((total, tensor) => add(total, tensor));

  const losses: Record<string, Tensor> = {};
  const metrics: Record<string, Tensor> = {};
  let l0Norm = encodings[0].l0Norm;
  let l1Norm = encodings[0].l1Norm;
  for (let i = 1; i < n; i++) {
    l0Norm = add(l0Norm, encodings[i].l0Norm);
    l1Norm = add(l1Norm, encodings[i].l1Norm);
  }

  if (anthropic) {
    // Sum over layers of the per-sample squared norm, averaged over samples: d_out * the per-element means.
    losses.l2_loss = mul(sumOfLayers(perLayerL2), dOut);
    let sparsity: Tensor | undefined;
    let preAct: Tensor | undefined;
    for (let i = 0; i < n; i++) {
      const { acts, preactivations, dead } = encodings[i];
      // The norm of each feature's decoder vectors to every target layer, concatenated.
      const decoderNorms = sqrt(reduceSumSquare(params[decoderName(i)], [1, 2]));
      const penalty = reduceMean(reduceSum(tanh(mul(mul(acts(), decoderNorms), config.tanh_scale)), -1));
      const threshold = exp(params[`log_threshold_${i}`]);
      const gap = mul(mul(relu(sub(threshold, preactivations)), decoderNorms), cast(dead.dead, dtype));
      const below = reduceMean(reduceSum(gap, -1));
      sparsity = sparsity === undefined ? penalty : add(sparsity, penalty);
      preAct = preAct === undefined ? below : add(preAct, below);
    }
    losses.sparsity_loss = mul(sparsity!, config.l1_coeff);
    losses.pre_act_loss = mul(preAct!, config.pre_act_loss_coeff);
  } else {
    losses.l2_loss = div(sumOfLayers(perLayerL2), n);
    if (config.encoder_type === 'jumprelu') {
      let steps: Tensor | undefined;
      for (let i = 0; i < n; i++) {
        const layerL0 = reduceMean(reduceSum(thresholdStep(encodings[i].dense, params[`log_threshold_${i}`], config.bandwidth), -1));
        steps = steps === undefined ? layerL0 : add(steps, layerL0);
      }
      losses.sparsity_loss = mul(steps!, config.l1_coeff / n);
    } else {
      losses.l1_loss = mul(l1Norm, config.l1_coeff);
    }
    if (isTopK(config)) {
      if (auxiliary) {
        let total: Tensor | undefined;
        let contributing: Tensor | undefined;
        for (let i = 0; i < n; i++) {
          const { dense, dead } = encodings[i];
          const sameLayerDecoder = targetBlock(params[decoderName(i)], 0, features, dOut);
          const mse = auxiliaryLoss({
            preactivations: dense,
            dead: dead.dead,
            residual: sub(ys[i], reconstructions[i]),
            wDec: sameLayerDecoder,
            topKAux: config.top_k_aux,
            auxPenalty: 1,
          });
          const anyDead = reduceMax(cast(dead.dead, dtype));
          total = total === undefined ? mse : add(total, mse);
          contributing = contributing === undefined ? anyDead : add(contributing, anyDead);
        }
        // Averaged over the layers that have dead features (0 when none has).
        losses.aux_loss = mul(div(total!, maximum(contributing!, 1)), config.aux_penalty);
      } else {
        losses.aux_loss = graph.scalar(0, dtype);
      }
    }
  }

  let numDead = encodings[0].dead.numDeadFeatures;
  let deadInBatch = encodings[0].dead.deadInBatch;
  let maxCounter = reduceMax(encodings[0].dead.counter);
  for (let i = 1; i < n; i++) {
    numDead = add(numDead, encodings[i].dead.numDeadFeatures);
    deadInBatch = add(deadInBatch, encodings[i].dead.deadInBatch);
    maxCounter = maximum(maxCounter, reduceMax(encodings[i].dead.counter));
  }
  Object.assign(metrics, { l0_norm: l0Norm, l1_norm: l1Norm, num_dead_features: numDead, n_dead_in_batch: deadInBatch });
  if (isTopK(config)) metrics.max_batches_not_active = cast(maxCounter, dtype);
  for (let i = 0; i < n; i++) {
    const layer = layers[i];
    metrics[`l2_loss/layer_${layer}`] = perLayerL2[i];
    metrics[`l0_norm/layer_${layer}`] = encodings[i].l0Norm;
    metrics[`num_dead_features/layer_${layer}`] = encodings[i].dead.numDeadFeatures;
  }

  const outputs: TensorMap = {};
  for (let j = 0; j < n; j++) outputs[ports.writes[j].hook] = reconstructions[j];
  const featureActs =
    n === 1
      ? encodings[0].acts()
      : concat(
          encodings.map((encoding) => encoding.acts()),
          1,
        );
  const nextState: TensorMap = {};
  for (let i = 0; i < n; i++) nextState[`num_batches_not_active_${i}`] = encodings[i].dead.counter;
  return { outputs, featureActs, losses, metrics, nextState };
}
