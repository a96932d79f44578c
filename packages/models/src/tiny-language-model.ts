import { fileURLToPath } from 'node:url';

/**
 * The directory of the byte-level GPT-2 that ships with this package
 * (config.json, model.safetensors, tokenizer.json, training.json), for
 * `HookedTransformer.fromPretrained(tinyLanguageModelDirectory(), { backend })`.
 * Resolved from this module, so it works from sources and from dist alike.
 */
export function tinyLanguageModelDirectory(): string {
  return fileURLToPath(new URL('../tiny-lm', import.meta.url));
}
