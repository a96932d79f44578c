import {
  DECOMPOSITION_SPECIFICATION_VERSION,
  GraphError,
  hostTensor,
  matmul,
  reshape,
  ShapeError,
  type ActivationPort,
  type Decomposition,
  type DescribedValue,
  type ForwardOptions,
  type ForwardOutput,
  type ForwardVariant,
  type Graph,
  type HostTensor,
  type InferenceOptions,
  type InferenceOutput,
  type KeptFeatures,
  type Rng,
  type Tensor,
  type TensorMap,
} from '@nnd/core';
import { denseActivations, keepTopKPerSample, keptPairs, keptPairsShaped } from '@nnd/sae';
import { DEFAULT_INPUT_HOOK, DEFAULT_OUTPUT_HOOK, type TranscoderArchitecture, type TranscoderConfig } from './transcoder-config.js';
import { encodeTranscoder, finishOutput } from './transcoder-layers.js';

/** Per-sample inference: the features and the output for inputs of any leading shape. */
export interface TranscoderInference {
  /** [..., dict_size]. */
  readonly featureActs: Tensor;
  /** [..., output_size]: what replaces the written hook. */
  readonly output: Tensor;
  /** featureActs' kept (index, value) pairs, [..., k] each, when the type keeps k per sample (see KeptFeatures). */
  readonly kept?: KeptFeatures;
}

/**
 * A transcoder behind core's Decomposition contract: it reads `inputHook`
 * (width input_size, e.g. an MLP's input) and writes `outputHook` (width
 * output_size, the MLP's output), through a sparse dictionary.
 */
export interface Transcoder<Config extends TranscoderConfig = TranscoderConfig> extends Decomposition<Config> {
  readonly architecture: TranscoderArchitecture;
  /** The hook it reads: config.hook_point, or 'input'. */
  readonly inputHook: string;
  /** The hook it writes: config.hook_point_out, or 'target'. */
  readonly outputHook: string;
  /** Names of the trained parameters, in the reference's optimiser order. */
  readonly parameterNames: readonly string[];
  /** Initial parameters; without an argument drawn from `new Rng(config.seed)`. */
  initialParams(rng?: Rng): Record<string, HostTensor>;
  /**
   * Encodes and decodes x ([..., input_size]) sample by sample. Not defined
   * with input_unit_norm: the reference maps the output back with the
   * target's own statistics, which inference does not have.
   */
  infer(graph: Graph, x: Tensor, params: TensorMap, state: TensorMap, options?: InferenceOptions): TranscoderInference;
  /** With `topK`, the k largest of relu(x W_enc + b_enc) per sample, whatever the type's own selection. */
  inferOutputs(graph: Graph, inputs: TensorMap, params: TensorMap, state: TensorMap, options?: InferenceOptions): InferenceOutput;
  constrain(graph: Graph, params: TensorMap, gradients: TensorMap): { params: TensorMap; gradients: TensorMap };
}

/** A forward pass on one [batch, input_size] input and its [batch, output_size] target. */
export type TranscoderForwardOutput = Omit<ForwardOutput, 'outputs'> & { output: Tensor };

/** What each transcoder type defines; `transcoder` turns it into the contract's named streams. */
export interface TranscoderDefinition<Config extends TranscoderConfig> {
  readonly config: Config;
  initialParams(rng?: Rng): Record<string, HostTensor>;
  initialState(): Record<string, HostTensor>;
  forward(graph: Graph, x: Tensor, y: Tensor, params: TensorMap, state: TensorMap, options?: ForwardOptions): TranscoderForwardOutput;
  /** [samples, input_size] in, per-sample features and output. */
  inferSamples(graph: Graph, x: Tensor, params: TensorMap, state: TensorMap): TranscoderInference;
  readonly variants?: readonly ForwardVariant[];
  constrain(graph: Graph, params: TensorMap, gradients: TensorMap): { params: TensorMap; gradients: TensorMap };
  readonly parameterNames: readonly string[];
}

function describeTranscoder(config: TranscoderConfig): DescribedValue[] {
  const swept: DescribedValue =
    config.architecture === 'topk_transcoder' || config.architecture === 'batchtopk_transcoder' ? { key: 'top_k', value: config.top_k } : { key: 'l1_coeff', value: config.l1_coeff };
  return [{ key: 'architecture', value: config.architecture }, swept, ...(config.skip ? [{ key: 'skip', value: true }] : [])];
}

/** Wraps a transcoder type as a Decomposition reading `hook_point` and writing `hook_point_out`. */
export function transcoder<Config extends TranscoderConfig>(definition: TranscoderDefinition<Config>): Transcoder<Config> {
  const { config } = definition;
  const { architecture } = config;
  const inputHook = config.hook_point ?? DEFAULT_INPUT_HOOK;
  const outputHook = config.hook_point_out ?? DEFAULT_OUTPUT_HOOK;
  const reads: ActivationPort[] = [{ hook: inputHook, width: config.input_size }];
  const writes: ActivationPort[] = [{ hook: outputHook, width: config.output_size }];
  // The synthetic top-k sweep's selection: the k largest dense activations of each sample, in place of the type's own.
  const inferTopK = (x: Tensor, params: TensorMap, k: number): TranscoderInference => {
    const kept = keepTopKPerSample(encodeTranscoder(config, x, params).preactivations, Math.min(k, config.dict_size));
    const featureActs = denseActivations(kept);
    return { featureActs, output: finishOutput(config, matmul(featureActs, params.W_dec), x, params), kept: keptPairs(kept) };
  };
  const inferSamples = (graph: Graph, x: Tensor, params: TensorMap, state: TensorMap, options?: InferenceOptions): TranscoderInference =>
    options?.topK === undefined ? definition.inferSamples(graph, x, params, state) : inferTopK(x, params, options.topK);
  const infer = (graph: Graph, x: Tensor, params: TensorMap, state: TensorMap, options?: InferenceOptions): TranscoderInference => {
    if (config.input_unit_norm) {
      throw new GraphError(
        `${architecture} inference: not defined with input_unit_norm, since the reference maps the output back with the target's mean and std, which inference does not have; evaluate with the forward pass (reconstruction 'forward'), or train without input_unit_norm.`,
      );
    }
    if (x.rank < 1 || x.shape[x.rank - 1] !== config.input_size) {
      throw new ShapeError(`${architecture} infer: x must be [..., ${config.input_size}] (input_size), got ${x}.`);
    }
    if (x.rank === 2) return inferSamples(graph, x, params, state, options);
    const result = inferSamples(graph, reshape(x, [-1, config.input_size]), params, state, options);
    const leading = x.shape.slice(0, -1);
    return {
      featureActs: reshape(result.featureActs, [...leading, config.dict_size]),
      output: reshape(result.output, [...leading, config.output_size]),
      ...(result.kept === undefined ? {} : { kept: keptPairsShaped(result.kept, leading) }),
    };
  };
  return {
    specificationVersion: DECOMPOSITION_SPECIFICATION_VERSION,
    architecture,
    config,
    inputHook,
    outputHook,
    reads,
    writes,
    parameterNames: definition.parameterNames,
    describe: () => describeTranscoder(config),
    initialParams: definition.initialParams,
    initialState: definition.initialState,
    variants: definition.variants,
    constrain: definition.constrain,
    forward(graph, batch, params, state, options) {
      const x = batch.inputs[inputHook];
      const y = batch.targets[outputHook];
      if (x === undefined || y === undefined) {
        throw new GraphError(
          `${architecture} forward: the batch lacks ${x === undefined ? `input '${inputHook}'` : `target '${outputHook}'`} (inputs {${Object.keys(batch.inputs).join(', ')}}, targets {${Object.keys(batch.targets).join(', ')}}); this transcoder reads '${inputHook}' and writes '${outputHook}'.`,
        );
      }
      checkBatch(x, config.input_size, 'input_size', architecture);
      checkBatch(y, config.output_size, 'output_size', architecture);
      const { output, ...rest } = definition.forward(graph, x, y, params, state, options);
      return { outputs: { [outputHook]: output }, ...rest };
    },
    infer,
    decoderDirections(_graph, params) {
      // Each feature adds its activation times its W_dec row to the output (a skip connection's x @ W_skip^T is no feature's).
      const { W_dec: wDec } = params;
      if (wDec === undefined) throw new GraphError(`${architecture} decoderDirections: no parameter 'W_dec' (got {${Object.keys(params).join(', ')}}).`);
      return { [outputHook]: wDec };
    },
    inferOutputs(graph, inputs, params, state, options) {
      const x = inputs[inputHook];
      if (x === undefined) {
        throw new GraphError(`${architecture} inference: no input '${inputHook}' (got {${Object.keys(inputs).join(', ')}}); this transcoder reads '${inputHook}'.`);
      }
      const { output, featureActs, kept } = infer(graph, x, params, state, options);
      return { outputs: { [outputHook]: output }, featureActs, ...(kept === undefined ? {} : { keptFeatures: kept }) };
    },
    inferenceOptions: ['topK'],
    forwardCouplesSamples: architecture === 'batchtopk_transcoder',
    // One feature writes one MLP output and brings its encoder column and decoder row into play (the skip connection is dense).
    featureGroups: () => [{ label: outputHook, size: config.dict_size, streamsWritten: 1, activeParameters: config.input_size + config.output_size }],
    ...(architecture === 'topk_transcoder' || architecture === 'batchtopk_transcoder'
      ? {
          withoutEncoderBias: (params: Readonly<Record<string, HostTensor>>) => ({ ...params, b_enc: hostTensor('float32', [config.dict_size], new Float32Array(config.dict_size)) }),
        }
      : {}),
  };
}

function checkBatch(tensor: Tensor, width: number, key: string, architecture: string): void {
  if (tensor.rank !== 2 || tensor.shape[1] !== width) {
    throw new ShapeError(
      `${architecture} forward: ${key === 'input_size' ? 'the input' : 'the target'} must be [batch, ${width}] (${key}), got ${tensor}; reshape [batch, pos, d] activations to [batch*pos, d] first.`,
    );
  }
}

/** Picks named tensors from a map, naming what is missing. */
export function requireTensors<const Names extends readonly string[]>(map: TensorMap, names: Names, role: string, architecture: string): { [K in Names[number]]: Tensor } {
  const missing = names.filter((name) => map[name] === undefined);
  if (missing.length > 0) {
    throw new GraphError(`${architecture}: ${role} ${missing.map((name) => `'${name}'`).join(', ')} missing; expected {${names.join(', ')}}, got {${Object.keys(map).join(', ')}}.`);
  }
  return Object.fromEntries(names.map((name) => [name, map[name]])) as { [K in Names[number]]: Tensor };
}
