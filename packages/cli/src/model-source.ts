import { ModelNotFoundError, tinyLanguageModelDirectory } from '@nnd/models';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

/** The name of the language model that ships with nnd (packages/models/tiny-lm). */
export const TINY_LM = 'tiny-lm';

/** TransformerLens' names for models whose hub id differs, as the reference's `model_name` uses them. */
const TRANSFORMER_LENS_NAMES: Readonly<Record<string, string>> = {
  'gpt2-small': 'gpt2',
};

/**
 * Where `HookedTransformer.fromPretrained` finds a run's `model_name`: the
 * bundled tiny LM's directory, the hub id of a TransformerLens name, or the
 * name itself (a directory or a hub id).
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
