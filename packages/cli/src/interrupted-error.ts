import { NndError } from '@nnd/core';

/** The user pressed Ctrl-C (SIGINT); what could be saved was saved. The CLI exits with 130. */
export class InterruptedError extends NndError {
  constructor(message: string) {
    super(message, { code: 'nnd.interrupted' });
  }
}
