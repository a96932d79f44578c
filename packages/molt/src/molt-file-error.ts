import { NndError } from '@nnd/core';

/** Thrown when a MOLT folder cannot be written or read (missing file, bad JSON, missing or misshapen tensor). */
export class MoltFileError extends NndError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, { code: 'nnd.molt-file', ...options });
  }
}
