import {
  BYTE_LEVEL_BOS_ID,
  BYTE_LEVEL_EOS_ID,
  BYTE_LEVEL_VOCAB_SIZE,
  byteLevelTokenizerConfig,
  byteLevelTokenizerJson,
  gpt2,
  HuggingFaceConfig,
  initializeParameters,
  saveGpt2Directory,
  tinyLanguageModelDirectory,
  type TransformerConfig,
} from '@nnd/models';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

/** A GPT-2 config as the model package reads one from config.json, so that the architecture's defaults are written once. */
function gpt2Config(fields: Record<string, number>): TransformerConfig {
  return gpt2.config(new HuggingFaceConfig({ model_type: 'gpt2', ...fields }, 'test GPT-2 config'));
}

/** A 2-layer, 16-wide GPT-2 of random weights for tests that build a model in memory. */
export const SMALL_GPT2_CONFIG: TransformerConfig = gpt2Config({ n_layer: 2, n_embd: 16, n_head: 2, n_inner: 32, vocab_size: 20, n_positions: 24, bos_token_id: 0, eos_token_id: 0 });

/** The shipped tiny LM's shape (packages/models/scripts/train-tiny-lm.ts), scaled by the arguments. */
export function tinyShapedConfig(layerCount = 4, hiddenSize = 128): TransformerConfig {
  return gpt2Config({
    n_layer: layerCount,
    n_embd: hiddenSize,
    n_head: 4,
    n_inner: 4 * hiddenSize,
    vocab_size: BYTE_LEVEL_VOCAB_SIZE,
    n_positions: 128,
    bos_token_id: BYTE_LEVEL_BOS_ID,
    eos_token_id: BYTE_LEVEL_EOS_ID,
  });
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
