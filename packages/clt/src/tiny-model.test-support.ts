import { hostTensor, Rng, type Backend, type HostTensor } from '@nnd/core';
import { HookedTransformer, trainLanguageModel, type TransformerConfig } from '@nnd/models';

/** Test helpers (not exported): a tiny trained model, as @nnd/train's evaluation tests build it. */

const BOS_TOKEN_ID = 0;

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

/** Random "words" (fixed token runs): a model that learned them has a loss well below uniform. */
function wordCorpus(length: number, seed: number): number[] {
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

/** [rows, length] int64 batches from a held-out corpus, each row opened by BOS. */
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
