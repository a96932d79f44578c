import { ConfigError } from '@nnd/core';
import type { Architecture } from './architecture.js';
import { gpt2 } from './gpt2.js';
import { gptNeox } from './gpt-neox.js';
import { llama } from './llama.js';

export type { Architecture } from './architecture.js';
export { gpt2, gpt2HuggingFaceConfig, gpt2ToHuggingFace } from './gpt2.js';
export { gptNeox } from './gpt-neox.js';
export { llama } from './llama.js';

/** Converters by Hugging Face `model_type`. */
export const ARCHITECTURES: ReadonlyMap<string, Architecture> = new Map([gpt2, gptNeox, llama].map((architecture) => [architecture.modelType, architecture]));

export function architectureFor(modelType: string, source: string): Architecture {
  const architecture = ARCHITECTURES.get(modelType);
  if (!architecture) {
    throw new ConfigError(`${source}: model_type '${modelType}' is not supported; supported model types: ${[...ARCHITECTURES.keys()].join(', ')}.`);
  }
  return architecture;
}
