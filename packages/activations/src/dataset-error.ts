import { NndError } from '@nnd/core';

/**
 * Thrown for a dataset that cannot be read: an unknown name or path, a file
 * without a usable column, a hub dataset that cannot be reached, or a dataset
 * that ran out.
 */
export class DatasetError extends NndError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, { code: 'nnd.dataset', ...options });
  }
}
