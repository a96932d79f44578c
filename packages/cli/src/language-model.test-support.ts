import {
  BYTE_LEVEL_BOS_ID,
  BYTE_LEVEL_EOS_ID,
  BYTE_LEVEL_VOCAB_SIZE,
  byteLevelTokenizerConfig,
  byteLevelTokenizerJson,
  initializeParameters,
  saveGpt2Directory,
  tinyLanguageModelDirectory,
  type TransformerConfig,
} from '@nnd/models';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

/** A 2-layer, 16-wide GPT-2 of random weights for tests that build a model in memory. */
export const SMALL_GPT2_CONFIG: TransformerConfig = {
  modelType: 'gpt2',
  layerCount: 2,
  hiddenSize: 16,
  headCount: 2,
  keyValueHeadCount: 2,
  headSize: 8,
  mlpSize: 32,
  vocabSize: 20,
  contextLength: 24,
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

/** The shipped tiny LM's shape (packages/models/scripts/train-tiny-lm.ts), scaled by the arguments. */
export function tinyShapedConfig(layerCount = 4, hiddenSize = 128): TransformerConfig {
  const headCount = 4;
  return {
    modelType: 'gpt2',
    layerCount,
    hiddenSize,
    headCount,
    keyValueHeadCount: headCount,
    headSize: hiddenSize / headCount,
    mlpSize: 4 * hiddenSize,
    vocabSize: BYTE_LEVEL_VOCAB_SIZE,
    contextLength: 128,
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
    bosTokenId: BYTE_LEVEL_BOS_ID,
    eosTokenId: BYTE_LEVEL_EOS_ID,
  };
}

/**
 * Writes a randomly initialised byte-level GPT-2 in the Hugging Face layout,
 * loadable by `HookedTransformer.fromPretrained` like the shipped tiny LM.
 */
export async function writeRandomLanguageModel(directory: string, config: TransformerConfig = tinyShapedConfig(), seed = 0): Promise<string> {
  await saveGpt2Directory(directory, config, initializeParameters(config, seed), {
    'tokenizer.json': byteLevelTokenizerJson(),
    'tokenizer_config.json': byteLevelTokenizerConfig(config.contextLength),
  });
  return directory;
}

/** Whether packages/models/tiny-lm holds its weights yet (it is trained by another script). */
export function tinyLanguageModelPresent(): boolean {
  return existsSync(join(tinyLanguageModelDirectory(), 'model.safetensors'));
}
