import { NndError } from './nnd-error.js';

/** Thrown for a failure inside a backend (session creation, execution provider missing). */
export class BackendError extends NndError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, { code: 'nnd.backend', ...options });
  }
}
