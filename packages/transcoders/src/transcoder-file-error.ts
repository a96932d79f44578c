import { NndError } from '@nnd/core';

/** Thrown when a transcoder folder cannot be written or read (missing file, bad JSON, missing or misshapen tensor). */
export class TranscoderFileError extends NndError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, { code: 'nnd.transcoder-file', ...options });
  }
}
