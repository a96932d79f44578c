import { add, hostTensor, matmul, relu, Rng, type ActivationSource, type Graph, type HostTensor, type Tensor, type TensorMap } from '@nnd/core';
import type { MatrixProduct, SpdTarget } from './spd-target.js';

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
  const W2 = weights.W2 ?? transposed(weights.W);
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
      const product = (name: string, x: Tensor) => (products[name] ?? matmul)(x, frozen[name]);
      return relu(add(product('linear2', product('linear1', inputs.features)), frozen.b));
    },
  };
}

function transposed(matrix: HostTensor): HostTensor {
  const [rows, columns] = matrix.shape;
  const data = new Float32Array(rows * columns);
  for (let row = 0; row < rows; row++) for (let column = 0; column < columns; column++) data[column * rows + row] = Number(matrix.data[row * columns + column]);
  return hostTensor('float32', [columns, rows], data);
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
 * spd's TMS data (`at_least_zero_active`): each feature is active with
 * probability `featureProbability`, with a value drawn from U(0, 1).
 * Batch n depends only on the seed and n, so runs resume exactly.
 */
export function sparseFeatureSource(features: number, batchSize: number, featureProbability: number, seed: number): ActivationSource {
  let position = 0;
  return {
    async nextBatch() {
      const rng = new Rng(seed * 1_000_003 + position++);
      const values = new Float32Array(batchSize * features);
      for (let i = 0; i < values.length; i++) {
        const active = rng.next() < featureProbability;
        const value = rng.next();
        values[i] = active ? value : 0;
      }
      return { features: values };
    },
    seek(batchIndex: number) {
      position = batchIndex;
    },
  };
}
