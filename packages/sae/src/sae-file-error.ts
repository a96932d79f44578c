import { NndError } from '@nnd/core';

/** Thrown when an SAE folder cannot be written or read (missing file, bad JSON, missing or misshapen tensor). */
export class SaeFileError extends NndError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, { code: 'nnd.sae-file', ...options });
  }
}
