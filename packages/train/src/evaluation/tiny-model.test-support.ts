import { DECOMPOSITION_SPECIFICATION_VERSION, hostTensor, mul, relu, Rng, type Backend, type Decomposition, type HostTensor, type TensorMap } from '@nnd/core';
import { HookedTransformer, trainLanguageModel, type TransformerConfig } from '@nnd/models';
import type { ActivationSource } from '../activation-source.js';

export const BOS_TOKEN_ID = 0;

/** A 2-block GPT-2 small enough to train in seconds on a shared CPU. */
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
  bosTokenId: BOS_TOKEN_ID,
  eosTokenId: BOS_TOKEN_ID,
};

/**
 * A stream of "words" (fixed token runs) picked at random: inside a word the
 * next token is determined, so a model that learned it has a loss well below
 * uniform, and ablating its residual stream costs a visible amount of loss.
 */
export function wordCorpus(length: number, seed: number): number[] {
  const rng = new Rng(seed);
  const words = [
    [1, 2, 3],
    [4, 5, 6, 7],
    [8, 9],
    [10, 11, 12, 13, 14],
    [15, 16, 17],
    [18, 19, 20, 21],
    [22, 23],
  ];
  const corpus: number[] = [];
  while (corpus.length < length) corpus.push(...words[rng.int(words.length)]);
  return corpus.slice(0, length);
}

/** The tiny model trained for a few hundred Adam steps on `wordCorpus` (deterministic). */
export async function trainedTinyModel(backend: Backend): Promise<HookedTransformer> {
  const { parameters } = await trainLanguageModel({
    config: TINY_CONFIG,
    backend,
    corpus: wordCorpus(4000, 1),
    bosTokenId: BOS_TOKEN_ID,
    steps: 150,
    batchSize: 8,
    sequenceLength: 16,
    learningRate: 1e-2,
    warmupSteps: 10,
    seed: 2,
  });
  return new HookedTransformer(TINY_CONFIG, parameters, { backend });
}

/** [rows, length] int64 batches cut from a held-out corpus, each row opened by BOS as the packer does. */
export function tokenBatches(count: number, rows: number, length: number, seed: number): HostTensor<'int64'>[] {
  const corpus = wordCorpus(count * rows * length, seed);
  return Array.from({ length: count }, (_, batch) => {
    const data: number[] = [];
    for (let row = 0; row < rows; row++) {
      const start = (batch * rows + row) * (length - 1);
      data.push(BOS_TOKEN_ID, ...corpus.slice(start, start + length - 1));
    }
    return hostTensor(
      'int64',
      [rows, length],
      data.map((id) => BigInt(id)),
    ) as HostTensor<'int64'>;
  });
}

/** The activations of `hookPoint` over `batches`, served `batchSize` rows at a time round and round (a training source). */
export async function harvestedSource(model: HookedTransformer, hookPoint: string, batches: readonly HostTensor<'int64'>[], batchSize: number): Promise<ActivationSource> {
  const chunks: Float32Array[] = [];
  for (const tokens of batches) chunks.push((await model.runWithCache(tokens, { names: [hookPoint] })).cache[hookPoint].data as Float32Array);
  const width = model.config.hiddenSize;
  const all = new Float32Array(chunks.reduce((total, chunk) => total + chunk.length, 0));
  let offset = 0;
  for (const chunk of chunks) {
    all.set(chunk, offset);
    offset += chunk.length;
  }
  const rows = all.length / width;
  let next = 0;
  return {
    async nextBatch() {
      const batch = new Float32Array(batchSize * width);
      for (let row = 0; row < batchSize; row++) batch.set(all.subarray(((next + row) % rows) * width, (((next + row) % rows) + 1) * width), row * width);
      next = (next + batchSize) % rows;
      return batch;
    },
  };
}

/** A "decomposition" of one hook whose output is its input: splicing it must change nothing. */
export function identityDecomposition(width: number, hook: string): Decomposition<{ width: number }> {
  return {
    specificationVersion: DECOMPOSITION_SPECIFICATION_VERSION,
    architecture: 'identity-test',
    config: { width },
    reads: [{ hook, width }],
    writes: [{ hook, width }],
    initialParams: () => ({}),
    initialState: () => ({}),
    forward: (_graph, { inputs }) => ({ outputs: { [hook]: inputs[hook] }, featureActs: inputs[hook], losses: {}, metrics: {}, nextState: {} }),
  };
}

/** A "decomposition" of one hook that outputs zeros: splicing it is zero-ablation. */
export function zeroDecomposition(width: number, hook: string): Decomposition<{ width: number }> {
  return {
    specificationVersion: DECOMPOSITION_SPECIFICATION_VERSION,
    architecture: 'zero-test',
    config: { width },
    reads: [{ hook, width }],
    writes: [{ hook, width }],
    initialParams: () => ({}),
    initialState: () => ({}),
    forward: (_graph, { inputs }) => ({ outputs: { [hook]: mul(inputs[hook], 0) }, featureActs: relu(inputs[hook]), losses: {}, metrics: {}, nextState: {} }),
  };
}

/**
 * A parameter-free "decomposition" that reads `reads` and writes `writes`
 * (hooks of the tiny model, all of its width) with outputs computed by `map`
 * from the inputs, to test how evaluation splices decompositions in.
 */
export function mappingDecomposition(reads: readonly string[], writes: readonly string[], map: (inputs: TensorMap) => TensorMap): Decomposition<Record<string, never>> {
  const width = TINY_CONFIG.hiddenSize;
  return {
    specificationVersion: DECOMPOSITION_SPECIFICATION_VERSION,
    architecture: 'mapping-test',
    config: {},
    reads: reads.map((hook) => ({ hook, width })),
    writes: writes.map((hook) => ({ hook, width })),
    initialParams: () => ({}),
    initialState: () => ({}),
    forward: (_graph, { inputs }) => ({ outputs: map(inputs), featureActs: relu(inputs[reads[0]]), losses: {}, metrics: {}, nextState: {} }),
  };
}
