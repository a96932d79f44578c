import {
  abs,
  add,
  cast,
  ConfigError,
  DECOMPOSITION_SPECIFICATION_VERSION,
  defineDecomposition,
  greater,
  hostTensor,
  matmul,
  mul,
  reduceMean,
  reduceSum,
  relu,
  sub,
  transpose,
  type Rng,
  type TensorMap,
} from '@nnd/core';

export interface TiedSaeConfig {
  /** The hook it reads and reconstructs (the stream of the batches it trains on). */
  readonly hook_point: string;
  readonly act_size: number;
  readonly dict_size: number;
  /** Weight of the L1 sparsity penalty. */
  readonly l1_coeff: number;
}

/**
 * A tied-weights SAE: the decoder is the encoder's transpose, so the
 * dictionary has half the parameters of a standard SAE. It is defined here,
 * outside packages/, against core's Decomposition contract only: the
 * trainer, the logger and the report take it unchanged.
 */
export const tiedSae = defineDecomposition<TiedSaeConfig>({
  architecture: 'tied',
  parseConfig(input) {
    const config = input as Partial<TiedSaeConfig>;
    for (const key of ['act_size', 'dict_size'] as const) {
      if (!Number.isInteger(config[key]) || config[key]! < 1) throw new ConfigError(`tied SAE: '${key}' is ${config[key]}; allowed: an integer >= 1.`);
    }
    if (!(typeof config.l1_coeff === 'number' && config.l1_coeff >= 0)) throw new ConfigError(`tied SAE: 'l1_coeff' is ${config.l1_coeff}; allowed: a number >= 0.`);
    if (typeof config.hook_point !== 'string' || config.hook_point === '')
      throw new ConfigError(`tied SAE: 'hook_point' is ${config.hook_point}; allowed: a hook name such as 'blocks.2.hook_resid_pre'.`);
    return { hook_point: config.hook_point, act_size: config.act_size!, dict_size: config.dict_size!, l1_coeff: config.l1_coeff };
  },
  create: (config) => ({
    specificationVersion: DECOMPOSITION_SPECIFICATION_VERSION,
    architecture: 'tied',
    config,
    // An SAE reads and writes the same stream.
    reads: [{ hook: config.hook_point, width: config.act_size }],
    writes: [{ hook: config.hook_point, width: config.act_size }],
    describe: () => [
      { key: 'architecture', value: 'tied' },
      { key: 'l1_coeff', value: config.l1_coeff },
    ],
    initialParams: (rng: Rng) => ({
      W_enc: hostTensor('float32', [config.act_size, config.dict_size], rng.kaimingUniform([config.act_size, config.dict_size])),
      b_enc: hostTensor('float32', [config.dict_size], new Float32Array(config.dict_size)),
      b_dec: hostTensor('float32', [config.act_size], new Float32Array(config.act_size)),
    }),
    initialState: () => ({}),
    forward(_graph, { inputs }, params: TensorMap) {
      const x = inputs[config.hook_point];
      const featureActs = relu(add(matmul(sub(x, params.b_dec), params.W_enc), params.b_enc));
      const reconstruction = add(matmul(featureActs, transpose(params.W_enc)), params.b_dec);
      const error = sub(reconstruction, x);
      // Per-token sums, averaged over the batch, as the reference's l1_norm and l0_norm.
      const l1Norm = reduceMean(reduceSum(abs(featureActs), 1));
      const l0Norm = reduceMean(reduceSum(cast(greater(featureActs, 0), 'float32'), 1));
      return {
        outputs: { [config.hook_point]: reconstruction },
        featureActs,
        losses: { l2_loss: reduceMean(mul(error, error)), l1_loss: mul(l1Norm, config.l1_coeff) },
        metrics: { l0_norm: l0Norm, l1_norm: l1Norm },
        nextState: {},
      };
    },
  }),
});
