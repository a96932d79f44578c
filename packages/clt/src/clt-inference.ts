import {
  add,
  concat,
  GraphError,
  matmul,
  relu,
  type KeptFeatures,
  reshape,
  ShapeError,
  slice,
  squeeze,
  type FeatureGroup,
  type InferenceOptions,
  type InferenceOutput,
  type Tensor,
  type TensorMap,
} from '@nnd/core';
import { denseActivations, jumpRelu, keepTopKPerSample, keptPairsShaped, type KeptActivations } from '@nnd/sae';
import { hookForLayer, type CltConfig } from './clt-config.js';
import type { CltPorts } from './clt-forward.js';
import { decoderName } from './clt-parameters.js';

/**
 * A CLT's per-sample inference: per source layer i the encoder type's
 * selection of relu(x_i W_enc_i + b_enc_i) (with `topK`, the k largest of
 * each sample instead), then y_j = b_dec_j + sum_{i <= j} a_i W_dec_i[:, j - i, :].
 * A BatchTopK CLT learns no running threshold, so sample by sample it keeps
 * its top_k largest per layer, the TopK rule at the same budget.
 */
export function cltInference(config: CltConfig, ports: CltPorts, inputs: TensorMap, params: TensorMap, options: InferenceOptions = {}): InferenceOutput {
  const { architecture, layers, dict_size: features, output_size: dOut } = config;
  const n = layers.length;
  const first = inputs[ports.reads[0].hook];
  if (first === undefined) throw new GraphError(`${architecture} inference: no input '${ports.reads[0].hook}' (got {${Object.keys(inputs).join(', ')}}).`);
  const leading = first.shape.slice(0, -1);
  const rows = (port: (typeof ports.reads)[number]): Tensor => {
    const x = inputs[port.hook];
    if (x === undefined) throw new GraphError(`${architecture} inference: no input '${port.hook}' (got {${Object.keys(inputs).join(', ')}}); this CLT reads one stream per layer.`);
    if (x.shape[x.rank - 1] !== port.width) throw new ShapeError(`${architecture} inference: input '${port.hook}' must be [..., ${port.width}], got ${x}.`);
    return x.rank === 2 ? x : reshape(x, [-1, port.width]);
  };
  const xs = ports.reads.map(rows);
  // Each layer's kept pairs when it keeps k per sample, for the contract's sparse featureActs.
  const keptByLayer: KeptActivations[] = [];
  const acts = xs.map((x, i) => {
    const dense = relu(add(matmul(x, params[`W_enc_${i}`]), params[`b_enc_${i}`]));
    const k = options.topK !== undefined ? Math.min(options.topK, features) : config.encoder_type === 'topk' || config.encoder_type === 'batchtopk' ? config.top_k : undefined;
    if (k !== undefined) {
      const kept = keepTopKPerSample(dense, k);
      keptByLayer.push(kept);
      return denseActivations(kept);
    }
    if (config.encoder_type === 'jumprelu') return jumpRelu(dense, params[`log_threshold_${i}`], config.bandwidth);
    return dense;
  });
  const contributions = acts.map((a, i) => {
    const decoded = matmul(a, reshape(params[decoderName(i)], [features, (n - i) * dOut]));
    if (n - i === 1) return [decoded];
    const byTarget = reshape(decoded, [-1, n - i, dOut]);
    return Array.from({ length: n - i }, (_, t) => squeeze(slice(byTarget, { starts: [t], ends: [t + 1], axes: [1] }), 1));
  });
  const outputs: TensorMap = {};
  for (let j = 0; j < n; j++) {
    let sum = add(contributions[0][j], params[`b_dec_${j}`]);
    for (let i = 1; i <= j; i++) sum = add(sum, contributions[i][j - i]);
    outputs[ports.writes[j].hook] = first.rank === 2 ? sum : reshape(sum, [...leading, dOut]);
  }
  const joined = n === 1 ? acts[0] : concat(acts, -1);
  const featureActs = first.rank === 2 ? joined : reshape(joined, [...leading, n * features]);
  if (keptByLayer.length !== n) return { outputs, featureActs };
  // Layer i's features are columns i * dict_size on of featureActs.
  const indices = keptByLayer.map(({ features: layerIndices }, i) => (i === 0 ? layerIndices : add(layerIndices, i * features)));
  const samples: KeptFeatures = {
    indices: n === 1 ? indices[0] : concat(indices, -1),
    values:
      n === 1
        ? keptByLayer[0].values
        : concat(
            keptByLayer.map(({ values }) => values),
            -1,
          ),
  };
  return { outputs, featureActs, keptFeatures: first.rank === 2 ? samples : keptPairsShaped(samples, leading) };
}

/**
 * Layer i's features (the i-th dict_size columns of featureActs) write to
 * the n - i layers from i on, through their encoder column and n - i
 * decoder vectors: d_in + (n - i) d_out parameters each (DECOMPOSITIONS.md 6).
 */
export function cltFeatureGroups(config: CltConfig): FeatureGroup[] {
  const n = config.layers.length;
  return config.layers.map((layer, i) => ({
    label: hookForLayer(config.hook_template_out, layer),
    size: config.dict_size,
    streamsWritten: n - i,
    activeParameters: config.input_size + (n - i) * config.output_size,
  }));
}
