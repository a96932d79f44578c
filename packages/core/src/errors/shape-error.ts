import { NndError } from './nnd-error.js';

/** Thrown for a tensor shape or rank that an op cannot accept. */
export class ShapeError extends NndError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, { code: 'nnd.shape', ...options });
  }
}
