import {
  abs,
  add,
  DECOMPOSITION_SPECIFICATION_VERSION,
  div,
  hostTensor,
  matmul,
  mul,
  reduceMean,
  reduceSum,
  sqrt,
  sub,
  transpose,
  type Decomposition,
  type Graph,
  type Rng,
  type TensorMap,
} from '@nnd/core';

export interface LinearConfig {
  act_size: number;
  dict_size: number;
  l1_coeff: number;
}

/**
 * A tied linear autoencoder, small enough to differentiate by hand:
 * z = (x - b) W, reconstruction = z W^T + b, with columns of W kept at unit
 * norm by `constrain` and a step counter as state.
 */
export function linearDecomposition(config: LinearConfig): Decomposition<LinearConfig> {
  const { act_size: actSize, dict_size: dictSize } = config;
  const port = { hook: 'activations', width: actSize };
  return {
    specificationVersion: DECOMPOSITION_SPECIFICATION_VERSION,
    architecture: 'linear-test',
    config,
    reads: [port],
    writes: [port],
    initialParams: (rng: Rng) => ({
      W: hostTensor('float32', [actSize, dictSize], rng.uniform(actSize * dictSize, -1, 1)),
      b: hostTensor('float32', [actSize], rng.uniform(actSize, -0.1, 0.1)),
    }),
    initialState: () => ({ counter: hostTensor('float32', [], [0]) }),
    forward(graph: Graph, { inputs }, params: TensorMap, state: TensorMap) {
      const x = inputs.activations;
      const featureActs = matmul(sub(x, params.b), params.W);
      const reconstruction = add(matmul(featureActs, transpose(params.W)), params.b);
      const l1Norm = reduceMean(reduceSum(abs(featureActs), -1));
      return {
        outputs: { activations: reconstruction },
        featureActs,
        losses: { l2_loss: reduceMean(mul(sub(reconstruction, x), sub(reconstruction, x))), l1_loss: mul(l1Norm, config.l1_coeff) },
        metrics: { l1_norm: l1Norm },
        nextState: { counter: add(state.counter, 1) },
      };
    },
    constrain(graph: Graph, params: TensorMap, gradients: TensorMap) {
      const unit = div(params.W, sqrt(reduceSum(mul(params.W, params.W), 0, true)));
      const parallel = mul(reduceSum(mul(gradients.W, unit), 0, true), unit);
      return { params: { ...params, W: unit }, gradients: { ...gradients, W: sub(gradients.W, parallel) } };
    },
  };
}
