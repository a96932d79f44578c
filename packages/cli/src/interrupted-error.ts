import { NndError } from '@nnd/core';
import type { InterruptSignal } from '@nnd/train';

/**
 * Ctrl-C (SIGINT), SIGTERM or SIGHUP stopped the command; what could be
 * saved was saved. The CLI exits with 128 + the signal's number (130 for SIGINT).
 */
export class InterruptedError extends NndError {
  constructor(
    message: string,
    readonly signal: InterruptSignal = 'SIGINT',
  ) {
    super(message, { code: 'nnd.interrupted' });
  }
}
