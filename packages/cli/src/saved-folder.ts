import type { DecompositionFamily } from '@nnd/core';
import { DECOMPOSITION_FAMILIES } from './decomposition-families.js';

/** A bare folder a family's `save` wrote, with the metadata it records. */
export interface SavedFolder {
  readonly family: DecompositionFamily;
  readonly metadata: Record<string, unknown>;
}

/**
 * Which family wrote the folder at `path`, asking each family that can tell
 * (`savedMetadata`) in the CLI's order; undefined when none claims it.
 */
export async function savedFolderAt(path: string, families: readonly DecompositionFamily[] = DECOMPOSITION_FAMILIES): Promise<SavedFolder | undefined> {
  for (const family of families) {
    const metadata = await family.savedMetadata?.(path);
    if (metadata !== undefined) return { family, metadata };
  }
  return undefined;
}
