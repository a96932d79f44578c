import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ModelNotFoundError } from './model-not-found-error.js';
import { tinyLanguageModelDirectory } from './tiny-language-model.js';

/** The name of the language model that ships with nnd (`tiny-lm/` in this package). */
export const TINY_LM = 'tiny-lm';

/** TransformerLens' names for models whose hub id differs, as the reference's `model_name` uses them. */
const TRANSFORMER_LENS_NAMES: Readonly<Record<string, string>> = {
  'gpt2-small': 'gpt2',
};

/**
 * Where a model name points, for names that are not a folder: `tiny-lm` is
 * the folder of the LM that ships with nnd, a TransformerLens name
 * (`gpt2-small`) its hub id, and any other name itself (a hub id).
 */
export function modelLocation(modelName: string): string {
  if (modelName === TINY_LM) {
    const directory = tinyLanguageModelDirectory();
    if (!existsSync(join(directory, 'model.safetensors'))) {
      throw new ModelNotFoundError(
        `The LM that ships with nnd ('${TINY_LM}') is missing: ${directory} has no model.safetensors. ` +
          'Restore it from the repository (it is committed with @nnd/models), or reproduce it with: pnpm --filter @nnd/models train-tiny-lm',
      );
    }
    return directory;
  }
  return TRANSFORMER_LENS_NAMES[modelName] ?? modelName;
}
