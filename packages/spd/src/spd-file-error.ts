import { NndError } from '@nnd/core';

/** An SPD folder that cannot be written or read (missing file, bad JSON, missing or misshapen tensor). */
export class SpdFileError extends NndError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, { code: 'nnd.spd-file', ...options });
  }
}
