import {
  add,
  DECOMPOSITION_SPECIFICATION_VERSION,
  hostTensor,
  matmul,
  mul,
  reduceMean,
  relu,
  Rng,
  sub,
  transpose,
  type ActivationSource,
  type Graph,
  type HostTensor,
  type Tensor,
  type TensorMap,
} from '@nnd/core';
import { transposeMatrix } from './host-matrix.js';
import type { MatrixProduct, SpdTarget } from './spd-target.js';
import type { TrainableToyModel } from './toy-model-training.js';

export interface ToyModelWeights {
  /** linear1's W [features, hidden] (x @ W). */
  readonly W: HostTensor;
  /** linear2's bias [features]. */
  readonly b: HostTensor;
  /** linear2's W [hidden, features]; W transposed when the weights are tied (as in spd's TMS). */
  readonly W2?: HostTensor;
}

/**
 * The toy model of superposition (Elhage et al. 2022) as spd's TMSModel:
 * out = ReLU(linear2(linear1(x))), linear1 without bias, linear2 with, the
 * two weights tied. Modules `linear1` [features, hidden] and `linear2`
 * [hidden, features]; outputs compared by MSE.
 */
export function tmsTarget(weights: ToyModelWeights): SpdTarget {
  const [features, hidden] = weights.W.shape;
  const W2 = weights.W2 ?? transposeMatrix(weights.W);
  return {
    name: `tms_${features}-${hidden}`,
    inputs: [{ hook: 'features', width: features }],
    positions: (rows) => [rows],
    matrices: new Map([
      ['linear1', { dIn: features, dOut: hidden }],
      ['linear2', { dIn: hidden, dOut: features }],
    ]),
    weights: () => ({ linear1: weights.W, linear2: W2, b: weights.b }),
    weightOf: (module) => module,
    outputLoss: 'mse',
    forward(_graph: Graph, inputs: TensorMap, frozen: TensorMap, products: Readonly<Record<string, MatrixProduct>>): Tensor {
      return tmsForward(inputs.features, frozen.linear1, frozen.linear2, frozen.b, products);
    },
  };
}

function tmsForward(x: Tensor, W1: Tensor, W2: Tensor, b: Tensor, products: Readonly<Record<string, MatrixProduct>>): Tensor {
  const hidden = (products.linear1 ?? matmul)(x, W1);
  return relu(add((products.linear2 ?? matmul)(hidden, W2), b));
}

/**
 * The TMS's training task as spd's train_tms sets it: W [features, hidden]
 * with nn.Linear's initialisation U(-1/sqrt(features), 1/sqrt(features)),
 * the two layers tied (linear2 = W^T), the bias starting at 0 (spd's
 * `init_bias_to_zero`, as for 40-10), trained to reproduce sparse inputs
 * by MSE.
 */
export function trainableTms(features: number, hidden: number): TrainableToyModel<ToyModelWeights> {
  return {
    specificationVersion: DECOMPOSITION_SPECIFICATION_VERSION,
    architecture: 'tms',
    config: { features, hidden },
    reads: [{ hook: 'features', width: features }],
    writes: [],
    initialParams: (rng: Rng) => ({
      W: hostTensor('float32', [features, hidden], rng.uniform(features * hidden, -1 / Math.sqrt(features), 1 / Math.sqrt(features))),
      b: hostTensor('float32', [features], new Float32Array(features)),
    }),
    initialState: () => ({}),
    forward(_graph, { inputs }, params) {
      const output = tmsForward(inputs.features, params.W, transpose(params.W, [1, 0]), params.b, {});
      const difference = sub(output, inputs.features);
      return { outputs: {}, featureActs: output, losses: { mse: reduceMean(mul(difference, difference)) }, metrics: {}, nextState: {} };
    },
    weightsFrom: (params) => ({ W: params.W, b: params.b }),
  };
}

/**
 * A TMS whose features sit at the vertices of a regular polygon in the
 * hidden plane (the solution TMS training finds for 5 features in 2
 * dimensions), with a bias that silences the neighbours' interference:
 * W[i] = (cos 2 pi i / n, sin 2 pi i / n), b = -cos(2 pi / n).
 */
export function polygonTms(features: number): ToyModelWeights {
  const W = new Float32Array(features * 2);
  for (let i = 0; i < features; i++) {
    W[i * 2] = Math.cos((2 * Math.PI * i) / features);
    W[i * 2 + 1] = Math.sin((2 * Math.PI * i) / features);
  }
  return { W: hostTensor('float32', [features, 2], W), b: hostTensor('float32', [features], new Float32Array(features).fill(-Math.cos((2 * Math.PI) / features))) };
}

/**
 * spd's toy data (`at_least_zero_active`): each feature is active with
 * probability `featureProbability`, with a value drawn from U(low, high)
 * (U(0, 1) for the TMS, U(-1, 1) for the residual MLP).
 * Batch n depends only on the seed and n, so runs resume exactly.
 */
export function sparseFeatureSource(features: number, batchSize: number, featureProbability: number, seed: number, valueRange: readonly [number, number] = [0, 1]): ActivationSource {
  const [low, high] = valueRange;
  let position = 0;
  return {
    async nextBatch() {
      const rng = new Rng(seed * 1_000_003 + position++);
      const values = new Float32Array(batchSize * features);
      for (let i = 0; i < values.length; i++) {
        const active = rng.next() < featureProbability;
        const value = low + (high - low) * rng.next();
        values[i] = active ? value : 0;
      }
      return { features: values };
    },
    seek(batchIndex: number) {
      position = batchIndex;
    },
  };
}
