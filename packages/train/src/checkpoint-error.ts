import { NndError } from '@nnd/core';

/** Thrown when a checkpoint cannot be written, or read back for a resume. */
export class CheckpointError extends NndError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, { code: 'nnd.train.checkpoint', ...options });
  }
}
