import { NndError } from '@nnd/core';

/** A command line that cannot be run as written: an unknown command or option, a missing argument. */
export class CliUsageError extends NndError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, { code: 'nnd.cli_usage', ...options });
  }
}
