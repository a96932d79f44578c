import { NndError } from './nnd-error.js';

/** Thrown for a hook name that the model does not have. */
export class HookNotFoundError extends NndError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, { code: 'nnd.hook_not_found', ...options });
  }
}
