import { add, DECOMPOSITION_SPECIFICATION_VERSION, hostTensor, matmul, mul, reduceMean, relu, sub, type Graph, type HostTensor, type Rng, type Tensor, type TensorMap } from '@nnd/core';
import { transposeMatrix } from './host-matrix.js';
import type { MatrixProduct, SpdTarget } from './spd-target.js';
import type { TrainableToyModel } from './toy-model-training.js';

/** One residual MLP block: relu(x @ mlp_in) @ mlp_out, both without bias (spd's 1-, 2- and 3-layer toys). */
export interface ResidualMlpLayer {
  /** [d_embed, d_mlp] (x @ W). */
  readonly mlpIn: HostTensor;
  /** [d_mlp, d_embed]. */
  readonly mlpOut: HostTensor;
}

export interface ResidualMlpWeights {
  /** The fixed embedding [features, d_embed]; the unembedding is its transpose. */
  readonly embedding: HostTensor;
  readonly layers: readonly ResidualMlpLayer[];
}

/** Module names as spd's ResidMLP has them. */
export const residualMlpModules = (layer: number) => ({ mlpIn: `layers.${layer}.mlp_in`, mlpOut: `layers.${layer}.mlp_out` });

/**
 * The paper's toy model of compressed computation (spd's ResidMLP, ReLU,
 * no biases): residual = x @ W_E, then per layer residual += relu(residual @
 * mlp_in) @ mlp_out, and out = residual @ W_E^T. Modules
 * `layers.{i}.mlp_in` [d_embed, d_mlp] and `layers.{i}.mlp_out` [d_mlp,
 * d_embed]; outputs compared by MSE.
 */
export function residualMlpTarget(weights: ResidualMlpWeights): SpdTarget {
  const [features, dEmbed] = weights.embedding.shape;
  const dMlp = weights.layers[0]?.mlpIn.shape[1] ?? 0;
  const unembedding = transposeMatrix(weights.embedding);
  return {
    name: `resid_mlp${weights.layers.length}_${features}-${dEmbed}-${dMlp}`,
    inputs: [{ hook: 'features', width: features }],
    positions: (rows) => [rows],
    matrices: new Map(
      weights.layers.flatMap((layer, index) => {
        const names = residualMlpModules(index);
        return [
          [names.mlpIn, { dIn: layer.mlpIn.shape[0], dOut: layer.mlpIn.shape[1] }],
          [names.mlpOut, { dIn: layer.mlpOut.shape[0], dOut: layer.mlpOut.shape[1] }],
        ];
      }),
    ),
    weights: () => ({
      W_E: weights.embedding,
      W_U: unembedding,
      ...Object.fromEntries(
        weights.layers.flatMap((layer, index) => {
          const names = residualMlpModules(index);
          return [
            [names.mlpIn, layer.mlpIn],
            [names.mlpOut, layer.mlpOut],
          ];
        }),
      ),
    }),
    weightOf: (module) => module,
    outputLoss: 'mse',
    forward(_graph: Graph, inputs: TensorMap, frozen: TensorMap, products: Readonly<Record<string, MatrixProduct>>): Tensor {
      return residualMlpForward(inputs.features, frozen, weights.layers.length, products);
    },
  };
}

/** The residual MLP's output [rows, features] with `tensors` holding W_E, W_U and every layer's matrices by module name. */
function residualMlpForward(x: Tensor, tensors: TensorMap, layers: number, products: Readonly<Record<string, MatrixProduct>>): Tensor {
  const product = (name: string, input: Tensor) => (products[name] ?? matmul)(input, tensors[name]);
  let residual = matmul(x, tensors.W_E);
  for (let index = 0; index < layers; index++) {
    const names = residualMlpModules(index);
    residual = add(residual, product(names.mlpOut, relu(product(names.mlpIn, residual))));
  }
  return matmul(residual, tensors.W_U);
}

/** spd's fixed random embedding: rows drawn from N(0, 1) and scaled to unit norm. */
export function randomUnitEmbedding(features: number, dEmbed: number, rng: Rng): HostTensor {
  const data = rng.normal(features * dEmbed);
  for (let row = 0; row < features; row++) {
    let sum = 0;
    for (let column = 0; column < dEmbed; column++) sum += data[row * dEmbed + column] ** 2;
    const norm = Math.sqrt(sum);
    for (let column = 0; column < dEmbed; column++) data[row * dEmbed + column] /= norm;
  }
  return hostTensor('float32', [features, dEmbed], data);
}

/**
 * The residual MLP's training task as spd's train_resid_mlp sets it: the
 * embedding fixed, the MLPs' weights trained (nn.Linear's initialisation,
 * U(-1/sqrt(fan_in), 1/sqrt(fan_in))) to map sparse features x to
 * x + relu(x) (the `act_plus_resid` labels with coefficients 1), by MSE read
 * off through the unembedding.
 */
export function trainableResidualMlp(embedding: HostTensor, options: { readonly dMlp: number; readonly layers?: number }): TrainableToyModel<ResidualMlpWeights> {
  const [features, dEmbed] = embedding.shape;
  const layerCount = options.layers ?? 1;
  const { dMlp } = options;
  const weightsFrom = (params: Readonly<Record<string, HostTensor>>): ResidualMlpWeights => ({
    embedding,
    layers: Array.from({ length: layerCount }, (_, index) => ({ mlpIn: params[residualMlpModules(index).mlpIn], mlpOut: params[residualMlpModules(index).mlpOut] })),
  });
  return {
    specificationVersion: DECOMPOSITION_SPECIFICATION_VERSION,
    architecture: 'resid_mlp',
    config: { features, dEmbed, dMlp, layers: layerCount },
    reads: [{ hook: 'features', width: features }],
    writes: [],
    initialParams(rng: Rng) {
      const params: Record<string, HostTensor> = {};
      for (let index = 0; index < layerCount; index++) {
        const names = residualMlpModules(index);
        params[names.mlpIn] = hostTensor('float32', [dEmbed, dMlp], rng.uniform(dEmbed * dMlp, -1 / Math.sqrt(dEmbed), 1 / Math.sqrt(dEmbed)));
        params[names.mlpOut] = hostTensor('float32', [dMlp, dEmbed], rng.uniform(dMlp * dEmbed, -1 / Math.sqrt(dMlp), 1 / Math.sqrt(dMlp)));
      }
      return params;
    },
    initialState: () => ({}),
    frozenInputs: () => ({ W_E: embedding, W_U: transposeMatrix(embedding) }),
    forward(_graph, { inputs }, params, _state, options) {
      const x = inputs.features;
      const output = residualMlpForward(x, { ...options?.frozen, ...params }, layerCount, {});
      const difference = sub(output, add(x, relu(x)));
      const mse = reduceMean(mul(difference, difference));
      return { outputs: {}, featureActs: output, losses: { mse }, metrics: {}, nextState: {} };
    },
    weightsFrom,
  };
}
