import { NndError } from '@nnd/core';

/**
 * Thrown when a model id or directory cannot be resolved to local files:
 * no such directory, no such hub repository, or no network to fetch it.
 */
export class ModelNotFoundError extends NndError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, { code: 'nnd.model_not_found', ...options });
  }
}
