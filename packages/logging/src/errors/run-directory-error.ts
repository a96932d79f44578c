import { NndError } from '@nnd/core';

/** Thrown for a run directory that is missing, unreadable, or has a corrupt file. */
export class RunDirectoryError extends NndError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, { code: 'nnd.run_directory', ...options });
  }
}
