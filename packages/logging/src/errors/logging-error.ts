import { NndError } from '@nnd/core';

/** Thrown for a misuse of a logger: a step that is not a non-negative integer, a metric that is not a number, a call before `init`. */
export class LoggingError extends NndError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, { code: 'nnd.logging', ...options });
  }
}
