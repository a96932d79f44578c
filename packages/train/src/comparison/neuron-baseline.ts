import {
  abs,
  add,
  cast,
  ConfigError,
  DECOMPOSITION_SPECIFICATION_VERSION,
  greaterOrEqual,
  hostTensor,
  matmul,
  mul,
  reshape,
  slice,
  topk,
  type Decomposition,
  type HostTensor,
  type InferenceOptions,
  type Tensor,
  type TensorMap,
} from '@nnd/core';
import { hookName, type HookedTransformer } from '@nnd/models';

export const NEURON_BASELINE_ARCHITECTURE = 'neurons';

export interface NeuronBaselineConfig {
  readonly layer: number;
  /** The MLP's hidden width (d_mlp). */
  readonly hidden: number;
  /** The MLP's output width (d_model). */
  readonly width: number;
  /** Hidden units kept per token, the largest |activation| first; undefined keeps them all (the original MLP). */
  readonly top_k?: number;
}

/**
 * The neuron baseline of a Pareto comparison for one MLP: it reads the MLP's
 * hidden activations (`blocks.L.mlp.hook_post`, after the activation
 * function and any gate), keeps the top_k of largest magnitude per token,
 * and writes `blocks.L.hook_mlp_out` = kept @ W_out + b_out with the model's
 * own weights (the reference's exp_007 neurons). Spliced into the model it
 * is a true replacement: the hidden units are those of the patched stream.
 * Its feature activations are |kept|, so that L0 counts negative (GELU)
 * activations too.
 */
export function createNeuronBaseline(config: NeuronBaselineConfig): Decomposition<NeuronBaselineConfig> {
  const { layer, hidden, width } = config;
  const read = hookName('post', layer);
  const write = hookName('mlp_out', layer);
  if (config.top_k !== undefined && (!Number.isInteger(config.top_k) || config.top_k < 1)) {
    throw new ConfigError(`neuron baseline: top_k is ${config.top_k}; it must be an integer >= 1, or absent to keep every hidden unit.`);
  }
  const apply = (h: Tensor, params: TensorMap, k: number | undefined) => {
    const rows = h.rank === 2 ? h : reshape(h, [-1, hidden]);
    let kept = rows;
    if (k !== undefined && k < hidden) {
      // Units whose |h| reaches the k-th largest |h| of their token: k of them, more only on exact ties.
      const magnitude = abs(rows);
      const kth = slice(topk(magnitude, k, { axis: -1 }).values, { starts: [k - 1], ends: [k], axes: [1] });
      kept = mul(rows, cast(greaterOrEqual(magnitude, kth), rows.dtype));
    }
    const output = add(matmul(kept, params.W_out), params.b_out);
    if (h.rank === 2) return { outputs: { [write]: output }, featureActs: abs(kept) };
    const leading = h.shape.slice(0, -1);
    return { outputs: { [write]: reshape(output, [...leading, width]) }, featureActs: reshape(abs(kept), [...leading, hidden]) };
  };
  return {
    specificationVersion: DECOMPOSITION_SPECIFICATION_VERSION,
    architecture: NEURON_BASELINE_ARCHITECTURE,
    config,
    reads: [{ hook: read, width: hidden }],
    writes: [{ hook: write, width }],
    describe: () => [
      { key: 'architecture', value: NEURON_BASELINE_ARCHITECTURE },
      { key: 'top_k', value: config.top_k ?? hidden },
    ],
    initialParams: () => {
      throw new ConfigError("neuron baseline: its parameters are the model's (neuronBaseline builds them); it is not trained.");
    },
    initialState: () => ({}),
    forward: (_graph, batch, params) => ({ ...apply(batch.inputs[read], params, config.top_k), losses: {}, metrics: {}, nextState: {} }),
    inferOutputs: (_graph, inputs, params, _state, options?: InferenceOptions) => apply(inputs[read], params, options?.topK ?? config.top_k),
    inferenceOptions: ['topK'],
    // A hidden unit reads the MLP input through its W_in column and writes the output through its W_out row.
    featureGroups: () => [{ label: write, size: hidden, streamsWritten: 1, activeParameters: 2 * width }],
  };
}

/** One MLP's neuron baseline with the model's W_out and b_out (zeros for MLPs without an output bias). */
export function neuronBaseline(model: HookedTransformer, layer: number, topK?: number): { decomposition: Decomposition; params: Record<string, HostTensor>; state: Record<string, HostTensor> } {
  const names = new Set(model.parameterNames);
  const weightName = `blocks.${layer}.mlp.W_out`;
  if (!names.has(weightName)) {
    throw new ConfigError(`neuron baseline: the model has no '${weightName}' (layer ${layer}; the model has ${model.config.layerCount}); pick a layer that has an MLP.`);
  }
  const weight = model.parameter(weightName);
  const [hidden, width] = weight.shape;
  const biasName = `blocks.${layer}.mlp.b_out`;
  const bias = names.has(biasName) ? model.parameter(biasName) : hostTensor('float32', [width], new Float32Array(width));
  return {
    decomposition: createNeuronBaseline({ layer, hidden, width, ...(topK === undefined ? {} : { top_k: topK }) }),
    params: { W_out: toFloat32(weight), b_out: toFloat32(bias) },
    state: {},
  };
}

function toFloat32(tensor: HostTensor): HostTensor {
  return tensor.dtype === 'float32' ? tensor : hostTensor('float32', tensor.shape, Float32Array.from(tensor.data as ArrayLike<number>));
}
