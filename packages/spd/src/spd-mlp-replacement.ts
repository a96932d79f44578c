import {
  add,
  cast,
  concat,
  ConfigError,
  DECOMPOSITION_SPECIFICATION_VERSION,
  greater,
  hostTensor,
  matmul,
  mul,
  reshape,
  scatterElements,
  sub,
  topk,
  type Decomposition,
  type DecompositionWithParams,
  type EvaluationOption,
  type Graph,
  type HostTensor,
  type InferenceOptions,
  type Tensor,
  type TensorMap,
} from '@nnd/core';
import { hookName, mlpGraph, type TransformerConfig } from '@nnd/models';
import { ciFunction } from './ci-functions.js';
import { lowerLeakyHardSigmoid } from './sigmoids.js';
import { componentNames, type SpdDecomposition, type SpdModule } from './spd-decomposition.js';
import { SpdModelError } from './spd-model-error.js';

/** The architecture id of one MLP replaced by SPD's components (never saved: it is a view of an `spd` decomposition). */
export const SPD_MLP_ARCHITECTURE = 'spd_mlp';

/** Components count as active where their causal importance exceeds this, by default (the reference's CI > 0.5 points). */
export const DEFAULT_CI_THRESHOLD = 0.5;

/** Where the model's own tensors sit in a replacement's params: `model.blocks.0.mlp.W_in`. */
const modelTensor = (name: string) => `model.${name}`;

/** How one evaluation masks the components. */
interface Masking {
  /** Keep the k largest causal importances per token and module (the top-k sweep); else those above `threshold`. */
  readonly topK?: number;
  readonly threshold: number;
  /** Add the delta component W - VU, fully on. */
  readonly delta: boolean;
}

/**
 * The evaluation options of an SPD replacement: CI > 0 besides the default
 * CI > 0.5 (both the reference's points), and, when the decomposition was
 * trained with the delta component, the reference's evaluation without it.
 */
function evaluationOptions(withDelta: boolean): EvaluationOption[] {
  const options: EvaluationOption[] = [{ name: 'ci_0', variant: 'CI > 0', quirks: [], topK: false }];
  if (withDelta) {
    options.push({ name: 'no_delta', quirks: ['no_delta'], topK: true }, { name: 'ci_0_no_delta', variant: 'CI > 0', quirks: ['no_delta'], topK: false });
  }
  return options;
}

function masking(options: InferenceOptions | undefined, withDelta: boolean): Masking {
  const option = options?.option;
  if (option !== undefined && !evaluationOptions(withDelta).some(({ name }) => name === option)) {
    throw new ConfigError(
      `SPD MLP replacement: evaluation option '${option}' is not one it offers; it offers ${evaluationOptions(withDelta)
        .map(({ name }) => `'${name}'`)
        .join(', ')}.`,
    );
  }
  return {
    ...(options?.topK === undefined ? {} : { topK: options.topK }),
    threshold: option === 'ci_0' || option === 'ci_0_no_delta' ? 0 : DEFAULT_CI_THRESHOLD,
    delta: withDelta && option !== 'no_delta' && option !== 'ci_0_no_delta',
  };
}

/** 1 for the k largest entries of each row of g [rows, C], 0 elsewhere: exactly k per row, ties (at CI 0) broken by TopK. */
function topKMask(g: Tensor, k: number): Tensor {
  const { values, indices } = topk(g, k, { axis: -1 });
  return scatterElements(mul(g, 0), indices, add(mul(values, 0), 1), 1);
}

/**
 * One MLP block of the model with SPD's components in place of its
 * decomposed matrices: reads the MLP's input (`blocks.L.ln2.hook_normalized`),
 * runs the MLP (mlpGraph, the forward pass's own definition) with each
 * decomposed matrix's product x W computed as ((x V) m) U + x (W - VU) and
 * writes `blocks.L.hook_mlp_out`. The mask m keeps the components whose
 * causal importance g (computed from the matrix's input in this pass, so
 * W_out's from the replaced hidden activations) exceeds 0.5, or the top k
 * per token; the delta component is on when the decomposition was trained
 * with it. Feature activations are the masks, one group per matrix.
 */
function mlpReplacement(spd: SpdDecomposition, transformer: TransformerConfig, layer: number, modules: readonly SpdModule[]): Decomposition {
  const { config } = spd;
  const withDelta = config.use_delta_component;
  const ciLayers = config.ci_fn_hidden_dims.length + 1;
  const read = hookName('ln2', layer);
  const write = hookName('mlp_out', layer);
  const width = transformer.hiddenSize;
  const byName = new Map(modules.map((module) => [module.name, module]));

  const apply = (inputs: TensorMap, params: TensorMap, options: InferenceOptions | undefined) => {
    const { topK, threshold, delta } = masking(options, withDelta);
    const x = inputs[read];
    const flat = x.rank === 2 ? x : reshape(x, [-1, width]);
    const masks: TensorMap = {};
    const product = (a: Tensor, weight: string): Tensor => {
      const W = params[modelTensor(weight)];
      const module = byName.get(weight);
      if (module === undefined) return matmul(a, W);
      const names = componentNames(weight);
      const h = matmul(a, params[names.V]);
      const g = lowerLeakyHardSigmoid(ciFunction(config.ci_fn_type, params, names.ci, ciLayers, h, a));
      const mask = topK === undefined ? cast(greater(g, threshold), 'float32') : topKMask(g, Math.min(topK, module.C));
      masks[weight] = mask;
      const components = matmul(mul(h, mask), params[names.U]);
      return delta ? add(components, matmul(a, sub(W, matmul(params[names.V], params[names.U])))) : components;
    };
    const output = mlpGraph(flat, transformer, layer, { product, bias: (name) => params[modelTensor(name)] });
    const featureActs = concat(
      modules.map(({ name }) => masks[name]),
      -1,
    );
    if (x.rank === 2) return { outputs: { [write]: output }, featureActs };
    const leading = x.shape.slice(0, -1);
    return { outputs: { [write]: reshape(output, [...leading, width]) }, featureActs: reshape(featureActs, [...leading, modules.reduce((sum, { C }) => sum + C, 0)]) };
  };

  return {
    specificationVersion: DECOMPOSITION_SPECIFICATION_VERSION,
    architecture: SPD_MLP_ARCHITECTURE,
    config: { layer, modules: modules.map(({ name, C }) => ({ name, C })) },
    reads: [{ hook: read, width }],
    writes: [{ hook: write, width }],
    describe: () => [
      { key: 'architecture', value: SPD_MLP_ARCHITECTURE },
      { key: 'modules', value: modules.map(({ name, C }) => `${name}:${C}`).join(',') },
    ],
    initialParams: () => {
      throw new ConfigError('SPD MLP replacement: it is a view of a trained SPD decomposition (streamReplacement), not trained itself; train the spd decomposition.');
    },
    initialState: () => ({}),
    forward: (_graph: Graph, batch, params) => ({ ...apply(batch.inputs, params, undefined), losses: {}, metrics: {}, nextState: {} }),
    inferOutputs: (_graph, inputs, params, _state, options) => apply(inputs, params, options),
    inferenceOptions: ['topK', 'option'],
    evaluationOptions: evaluationOptions(withDelta),
    // An active rank-one component of W [d_in, d_out] brings d_in + d_out parameters into play (its V column and U row).
    featureGroups: () => modules.map(({ name, C, dIn, dOut }) => ({ label: name, size: C, streamsWritten: 1, activeParameters: dIn + dOut })),
  };
}

function float32(tensor: HostTensor): HostTensor {
  return tensor.dtype === 'float32' ? tensor : hostTensor('float32', tensor.shape, Float32Array.from(tensor.data as ArrayLike<number>));
}

/**
 * An SPD decomposition of MLP matrices as one MLP replacement per layer it
 * decomposes (see mlpReplacement), each with its modules' V, U and CI
 * functions and the model's MLP weights and biases of that layer: what
 * `nnd compare` splices in, so that SPD sits beside the transcoders, CLTs
 * and MOLTs that replace the same MLP outputs.
 */
export function spdMlpReplacements(spd: SpdDecomposition, params: Readonly<Record<string, HostTensor>>): DecompositionWithParams[] {
  const transformer = spd.target.transformer;
  if (transformer === undefined) {
    throw new SpdModelError(`SPD of ${spd.target.name}: only decompositions of a transformer's MLP matrices replace MLP outputs; this target is not a transformer.`);
  }
  const layers = new Map<number, SpdModule[]>();
  for (const module of spd.modules) {
    const match = /^blocks\.(\d+)\.mlp\.W_(in|gate|out)$/.exec(module.name);
    if (match === null) {
      throw new SpdModelError(
        `SPD module '${module.name}' is not an MLP matrix, so the decomposition cannot be compared as a replacement of MLP outputs; compare SPD runs of MLP matrices only (spd_modules: mlp).`,
      );
    }
    const layer = Number(match[1]);
    layers.set(layer, [...(layers.get(layer) ?? []), module]);
  }
  const weights = spd.target.weights();
  return [...layers]
    .sort(([a], [b]) => a - b)
    .map(([layer, modules]) => {
      const own: Record<string, HostTensor> = {};
      for (const { name } of modules) {
        for (const [key, tensor] of Object.entries(params)) if (key.startsWith(`${name}.`)) own[key] = tensor;
      }
      const prefix = `blocks.${layer}.mlp.`;
      for (const [name, tensor] of Object.entries(weights)) {
        if (name.startsWith(prefix) && /^(W|b)_(in|gate|out)$/.test(name.slice(prefix.length))) own[modelTensor(name)] = float32(tensor);
      }
      return { decomposition: mlpReplacement(spd, transformer, layer, modules), params: own };
    });
}
