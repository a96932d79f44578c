import { add, DECOMPOSITION_SPECIFICATION_VERSION, hostTensor, matmul, relu, Rng, type Decomposition, type HostTensor } from '@nnd/core';
import { HookedTransformer, initializeParameters, type TransformerConfig } from '@nnd/models';
import type { Backend } from '@nnd/core';

/** A 2-block GPT-2 with random weights: the dashboard needs distinct activations, not a trained model. */
export const TINY_CONFIG: TransformerConfig = {
  modelType: 'gpt2',
  layerCount: 2,
  hiddenSize: 32,
  headCount: 2,
  keyValueHeadCount: 2,
  headSize: 16,
  mlpSize: 64,
  vocabSize: 24,
  contextLength: 32,
  normalization: 'layerNorm',
  normEpsilon: 1e-5,
  activation: 'gelu_new',
  positional: 'learned',
  rotaryDim: 0,
  rotaryBase: 0,
  parallelResidual: false,
  gatedMlp: false,
  tiedEmbeddings: true,
  attentionBias: true,
  mlpBias: true,
  bosTokenId: 0,
  eosTokenId: 0,
};

export const DETECTED_TOKEN = 7;
export const DETECTOR_FEATURES = 6;

export function tinyModel(backend: Backend): HookedTransformer {
  return new HookedTransformer(TINY_CONFIG, initializeParameters(TINY_CONFIG, 5), { backend });
}

/**
 * A hand-made decomposition of `hook_embed`: feature 0 is relu(x . e_t - c)
 * with e_t the embedding of DETECTED_TOKEN and c between e_t . e_t and the
 * largest e_u . e_t of any other token, so it fires on that token alone; the
 * other features are relu of random projections. It writes its features
 * times random decoder rows (row 0 is e_t over the final norm's scale) to
 * `writes` (default hook_embed), with those rows as its decoderDirections.
 */
export function tokenDetector(model: HookedTransformer, options: { writes?: string } = {}): { decomposition: Decomposition; params: Record<string, HostTensor>; state: Record<string, HostTensor> } {
  const width = TINY_CONFIG.hiddenSize;
  const embedding = model.parameter('embed.W_E').data as Float32Array;
  const row = (token: number) => embedding.subarray(token * width, (token + 1) * width);
  const dot = (a: Float32Array, b: Float32Array) => a.reduce((sum, value, index) => sum + value * b[index]!, 0);
  const detected = row(DETECTED_TOKEN);
  const self = dot(detected, detected);
  let others = -Infinity;
  for (let token = 0; token < TINY_CONFIG.vocabSize; token++) if (token !== DETECTED_TOKEN) others = Math.max(others, dot(row(token), detected));
  if (!(others < self)) throw new Error('token-detector: the detected token is not separable in this embedding; pick another seed.');
  const rng = new Rng(11);
  const weights = rng.normal(width * DETECTOR_FEATURES);
  const bias = new Float32Array(DETECTOR_FEATURES);
  for (let index = 0; index < width; index++) weights[index * DETECTOR_FEATURES] = detected[index]!;
  bias[0] = -(self + others) / 2;
  const hook = 'hook_embed';
  const written = options.writes ?? hook;
  // Decoder rows: row 0 is e_t divided by the final norm's scale, so its direct logit effect is E e_t (largest at t).
  const scale = model.parameter('ln_final.w').data as Float32Array;
  const decoder = rng.normal(DETECTOR_FEATURES * width);
  for (let index = 0; index < width; index++) decoder[index] = detected[index]! / scale[index]!;
  const decomposition: Decomposition = {
    specificationVersion: DECOMPOSITION_SPECIFICATION_VERSION,
    architecture: 'token_detector',
    config: {},
    reads: [{ hook, width }],
    writes: [{ hook: written, width }],
    initialParams: () => ({}),
    initialState: () => ({}),
    forward: (_graph, { inputs }, params) => {
      const featureActs = relu(add(matmul(inputs[hook]!, params.W_enc!), params.b_enc!));
      return { outputs: { [written]: matmul(featureActs, params.W_dec!) }, featureActs, losses: {}, metrics: {}, nextState: {} };
    },
    decoderDirections: (_graph, params) => ({ [written]: params.W_dec! }),
  };
  return {
    decomposition,
    params: {
      W_enc: hostTensor('float32', [width, DETECTOR_FEATURES], weights),
      b_enc: hostTensor('float32', [DETECTOR_FEATURES], bias),
      W_dec: hostTensor('float32', [DETECTOR_FEATURES, width], decoder),
    },
    state: {},
  };
}

/** [rows, length] batches of random tokens, each row opened by BOS (0). */
export function randomBatches(count: number, rows: number, length: number, seed: number): HostTensor<'int64'>[] {
  const rng = new Rng(seed);
  return Array.from({ length: count }, () => {
    const data: bigint[] = [];
    for (let row = 0; row < rows; row++) {
      data.push(0n);
      for (let position = 1; position < length; position++) data.push(BigInt(1 + rng.int(TINY_CONFIG.vocabSize - 1)));
    }
    return hostTensor('int64', [rows, length], data) as HostTensor<'int64'>;
  });
}
