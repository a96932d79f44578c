import { NndError } from './nnd-error.js';

/** Thrown for a malformed or unsupported safetensors file. */
export class SafetensorsError extends NndError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, { code: 'nnd.safetensors', ...options });
  }
}
