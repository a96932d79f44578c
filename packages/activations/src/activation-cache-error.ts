import { NndError } from '@nnd/core';

/**
 * Thrown for an on-disk activation cache that cannot be used: a missing or
 * malformed manifest, a shard whose sha256 does not match the manifest, or a
 * harvest resumed with settings that differ from the cache's.
 */
export class ActivationCacheError extends NndError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, { code: 'nnd.activation_cache', ...options });
  }
}
