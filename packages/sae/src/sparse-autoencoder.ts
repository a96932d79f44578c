import {
  DECOMPOSITION_SPECIFICATION_VERSION,
  GraphError,
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
import type { SaeArchitecture, SaeConfig } from './sae-config.js';
import { keptPairsShaped } from './kept-activations.js';
import { inferTopK } from './top-k-inference.js';

/** Per-sample inference: no coupling between samples (BatchTopK uses its running threshold). */
export interface SaeInference {
  /** [..., dict_size], in the normalised space when input_unit_norm is set. */
  readonly featureActs: Tensor;
  /** Same shape as the input, mapped back to the input space. */
  readonly reconstruction: Tensor;
  /** featureActs' kept (index, value) pairs, [..., k] each, when the type keeps k per sample (see KeptFeatures). */
  readonly kept?: KeptFeatures;
}

/** The stream an SAE reads and writes when its config names no `hook_point` (library use without a model). */
export const DEFAULT_SAE_HOOK = 'activations';

/**
 * An SAE behind core's Decomposition contract, plus what SAE users need
 * beyond training: per-sample inference on one tensor and the decoder
 * constraint (which every SAE type here applies). It reads and writes one
 * stream, `hook`.
 */
export interface SparseAutoencoder<Config extends SaeConfig = SaeConfig> extends Decomposition<Config> {
  readonly architecture: SaeArchitecture;
  /** The hook it reads and reconstructs: config.hook_point, or DEFAULT_SAE_HOOK. */
  readonly hook: string;
  /**
   * Initial parameters. Without an argument they are drawn from
   * `new Rng(config.seed)`, as the reference seeds each SAE from its config.
   */
  initialParams(rng?: Rng): Record<string, HostTensor>;
  /** Names of the trained parameters. */
  readonly parameterNames: readonly string[];
  /**
   * Encodes and decodes x ([..., act_size]; leading axes are flattened)
   * sample by sample, as inference and model splicing need.
   */
  infer(graph: Graph, x: Tensor, params: TensorMap, state: TensorMap): SaeInference;
  /** With `topK`, the k largest dense activations per sample, whatever the type's own selection. */
  inferOutputs(graph: Graph, inputs: TensorMap, params: TensorMap, state: TensorMap, options?: InferenceOptions): InferenceOutput;
  /** `{ [hook]: W_dec }`: feature i writes W_dec[i] (scaled by its activation). */
  decoderDirections(graph: Graph, params: TensorMap): TensorMap;
  constrain(graph: Graph, params: TensorMap, gradients: TensorMap): { params: TensorMap; gradients: TensorMap };
}

/** An SAE's forward pass on one [batch, act_size] tensor: the contract's output with the one reconstruction. */
export type SaeForwardOutput = Omit<ForwardOutput, 'outputs'> & { reconstruction: Tensor };

/** What each SAE type defines; `sparseAutoencoder` turns it into the contract's named streams. */
export interface SaeDefinition<Config extends SaeConfig> {
  readonly architecture: SaeArchitecture;
  readonly config: Config;
  readonly parameterNames: readonly string[];
  initialParams(rng?: Rng): Record<string, HostTensor>;
  initialState(): Record<string, HostTensor>;
  forward(graph: Graph, x: Tensor, params: TensorMap, state: TensorMap, options?: ForwardOptions): SaeForwardOutput;
  infer(graph: Graph, x: Tensor, params: TensorMap, state: TensorMap): SaeInference;
  readonly variants?: readonly ForwardVariant[];
  constrain(graph: Graph, params: TensorMap, gradients: TensorMap): { params: TensorMap; gradients: TensorMap };
}

/**
 * An SAE is a decomposition that reads and writes the same stream (the
 * reference calls its transcoder class as `forward(x, x)`): the batch's input
 * at `hook` is x, and its reconstruction is the output at `hook`.
 */
export function sparseAutoencoder<Config extends SaeConfig>(definition: SaeDefinition<Config>): SparseAutoencoder<Config> {
  const { config } = definition;
  const hook = config.hook_point ?? DEFAULT_SAE_HOOK;
  const port: ActivationPort = { hook, width: config.act_size };
  const swept: DescribedValue = config.architecture === 'topk' || config.architecture === 'batchtopk' ? { key: 'top_k', value: config.top_k } : { key: 'l1_coeff', value: config.l1_coeff };
  return {
    ...definition,
    specificationVersion: DECOMPOSITION_SPECIFICATION_VERSION,
    hook,
    reads: [port],
    writes: [port],
    describe: () => [{ key: 'architecture', value: config.architecture }, swept],
    forward(graph, batch, params, state, options) {
      const x = batch.inputs[hook];
      if (x === undefined) {
        throw new GraphError(`${config.architecture} SAE forward: the batch has no input '${hook}' (it has {${Object.keys(batch.inputs).join(', ')}}); this SAE reads '${hook}'.`);
      }
      const { reconstruction, ...rest } = definition.forward(graph, x, params, state, options);
      return { outputs: { [hook]: reconstruction }, ...rest };
    },
    decoderDirections(_graph, params) {
      // Each feature adds its activation times its W_dec row to the reconstruction (times the input norm with input_unit_norm: the same direction).
      const { W_dec } = requireTensors(params, ['W_dec'], 'parameter', config.architecture);
      return { [hook]: W_dec };
    },
    inferOutputs(graph, inputs, params, state, options) {
      const x = inputs[hook];
      if (x === undefined) {
        throw new GraphError(`${config.architecture} SAE inference: no input '${hook}' (got {${Object.keys(inputs).join(', ')}}); this SAE reads '${hook}'.`);
      }
      const { reconstruction, featureActs, kept } = options?.topK === undefined ? definition.infer(graph, x, params, state) : inferTopK(config, x, params, options.topK);
      return { outputs: { [hook]: reconstruction }, featureActs, ...(kept === undefined ? {} : { keptFeatures: kept }) };
    },
    inferenceOptions: ['topK'],
    forwardCouplesSamples: config.architecture === 'batchtopk',
    // A feature reads and writes the one stream: its encoder column and decoder row.
    featureGroups: () => [{ label: hook, size: config.dict_size, streamsWritten: 1, activeParameters: 2 * config.act_size }],
  };
}

/** Checks that `x` is [batch, act_size]. */
export function checkBatchInput(x: Tensor, actSize: number, architecture: string): void {
  if (x.rank !== 2 || x.shape[1] !== actSize) {
    throw new ShapeError(`${architecture} SAE forward: x must be [batch, ${actSize}] (act_size), got ${x}; reshape [batch, pos, d] activations to [batch*pos, d] first.`);
  }
}

/** Picks named tensors from a map, naming what is missing. */
export function requireTensors<const Names extends readonly string[]>(map: TensorMap, names: Names, role: string, architecture: string): { [K in Names[number]]: Tensor } {
  const missing = names.filter((name) => map[name] === undefined);
  if (missing.length > 0) {
    throw new GraphError(`${architecture} SAE: ${role} ${missing.map((name) => `'${name}'`).join(', ')} missing; expected {${names.join(', ')}}, got {${Object.keys(map).join(', ')}}.`);
  }
  return Object.fromEntries(names.map((name) => [name, map[name]])) as { [K in Names[number]]: Tensor };
}

/**
 * Runs `encodeDecode` on x flattened to [samples, act_size] and restores the
 * leading axes, so inference accepts [batch, pos, act_size] activations.
 */
export function inferOnSamples(x: Tensor, actSize: number, architecture: string, encodeDecode: (samples: Tensor) => SaeInference): SaeInference {
  if (x.rank < 1 || x.shape[x.rank - 1] !== actSize) {
    throw new ShapeError(`${architecture} SAE infer: x must be [..., ${actSize}] (act_size), got ${x}.`);
  }
  if (x.rank === 2) return encodeDecode(x);
  const samples = reshape(x, [-1, actSize]);
  const { featureActs, reconstruction, kept } = encodeDecode(samples);
  const dictSize = featureActs.shape[1];
  const leading = x.shape.slice(0, -1);
  return {
    featureActs: reshape(featureActs, [...leading, dictSize]),
    reconstruction: reshape(reconstruction, x.shape),
    ...(kept === undefined ? {} : { kept: keptPairsShaped(kept, leading) }),
  };
}
