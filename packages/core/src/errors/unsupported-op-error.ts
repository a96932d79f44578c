import { NndError } from './nnd-error.js';

/** Thrown for an IR op that a backend cannot run. */
export class UnsupportedOpError extends NndError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, { code: 'nnd.unsupported_op', ...options });
  }
}
