import { NndError } from './nnd-error.js';

/** Thrown for an invalid configuration value. */
export class ConfigError extends NndError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, { code: 'nnd.config', ...options });
  }
}
