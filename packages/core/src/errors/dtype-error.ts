import { NndError } from './nnd-error.js';

/** Thrown for a dtype that an op or backend cannot accept. */
export class DTypeError extends NndError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, { code: 'nnd.dtype', ...options });
  }
}
