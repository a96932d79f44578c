import type { TransformerConfig } from './transformer-config.js';

const base = {
  layerCount: 2,
  hiddenSize: 16,
  headCount: 4,
  keyValueHeadCount: 4,
  headSize: 4,
  mlpSize: 32,
  vocabSize: 40,
  contextLength: 32,
  normEpsilon: 1e-5,
  bosTokenId: 0,
  eosTokenId: 1,
} as const;

/** Small configs of each architecture for tests that need no checkpoint. */
export const TEST_CONFIGS: Record<'gpt2' | 'gpt_neox' | 'llama', TransformerConfig> = {
  gpt2: {
    ...base,
    modelType: 'gpt2',
    normalization: 'layerNorm',
    activation: 'gelu_new',
    positional: 'learned',
    rotaryDim: 0,
    rotaryBase: 0,
    parallelResidual: false,
    gatedMlp: false,
    tiedEmbeddings: true,
    attentionBias: true,
    mlpBias: true,
  },
  gpt_neox: {
    ...base,
    modelType: 'gpt_neox',
    normalization: 'layerNorm',
    activation: 'gelu',
    positional: 'rotary',
    rotaryDim: 2,
    rotaryBase: 10000,
    parallelResidual: true,
    gatedMlp: false,
    tiedEmbeddings: false,
    attentionBias: true,
    mlpBias: true,
  },
  llama: {
    ...base,
    modelType: 'llama',
    keyValueHeadCount: 2,
    normalization: 'rmsNorm',
    activation: 'silu',
    positional: 'rotary',
    rotaryDim: 4,
    rotaryBase: 10000,
    parallelResidual: false,
    gatedMlp: true,
    tiedEmbeddings: false,
    attentionBias: false,
    mlpBias: false,
  },
};

/** Deterministic token ids [batch][seq] below `vocabSize`. */
export function testTokens(batch: number, seq: number, vocabSize: number): number[][] {
  return Array.from({ length: batch }, (_, row) => Array.from({ length: seq }, (_, position) => (row * 7 + position * 13 + 3) % vocabSize));
}
