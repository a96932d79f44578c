import { GraphError, reshape, ShapeError, type Decomposition, type Graph, type HostTensor, type Rng, type Tensor, type TensorMap } from '@nnd/core';
import type { SaeArchitecture, SaeConfig } from './sae-config.js';

/** Per-sample inference: no coupling between samples (BatchTopK uses its running threshold). */
export interface SaeInference {
  /** [..., dict_size], in the normalised space when input_unit_norm is set. */
  readonly featureActs: Tensor;
  /** Same shape as the input, mapped back to the input space. */
  readonly reconstruction: Tensor;
}

/**
 * An SAE behind core's Decomposition contract, plus what SAE users need
 * beyond training: per-sample inference and the decoder constraint (which
 * every SAE type here applies).
 */
export interface SparseAutoencoder<Config extends SaeConfig = SaeConfig> extends Decomposition<Config> {
  readonly architecture: SaeArchitecture;
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
  constrain(graph: Graph, params: TensorMap, gradients: TensorMap): { params: TensorMap; gradients: TensorMap };
}

/** Checks that `x` is [batch, act_size]. */
export function checkBatchInput(x: Tensor, actSize: number, architecture: string): void {
  if (x.rank !== 2 || x.shape[1] !== actSize) {
    throw new ShapeError(`${architecture} SAE forward: x must be [batch, ${actSize}] (act_size), got ${x}; reshape [batch, pos, d] activations to [batch*pos, d] first.`);
  }
}

/** Picks named tensors from a map, naming what is missing. */
export function requireTensors<const Names extends readonly string[]>(
  map: TensorMap,
  names: Names,
  role: string,
  architecture: string,
): { [K in Names[number]]: Tensor } {
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
export function inferOnSamples(
  x: Tensor,
  actSize: number,
  architecture: string,
  encodeDecode: (samples: Tensor) => SaeInference,
): SaeInference {
  if (x.rank < 1 || x.shape[x.rank - 1] !== actSize) {
    throw new ShapeError(`${architecture} SAE infer: x must be [..., ${actSize}] (act_size), got ${x}.`);
  }
  if (x.rank === 2) return encodeDecode(x);
  const samples = reshape(x, [-1, actSize]);
  const { featureActs, reconstruction } = encodeDecode(samples);
  const dictSize = featureActs.shape[1];
  return {
    featureActs: reshape(featureActs, [...x.shape.slice(0, -1), dictSize]),
    reconstruction: reshape(reconstruction, x.shape),
  };
}
