/**
 * Turns SIGINT and an AbortSignal into a flag the training loop polls between
 * steps, so a step is never cut in half. While installed, SIGINT no longer
 * kills the process at once; a second SIGINT does (exit code 130) for when
 * the checkpoint itself hangs.
 */
export class InterruptWatcher {
  /** Set once an interrupt was requested. */
  requested = false;
  /** Whether the request came from SIGINT (the process then exits with 130). */
  fromSigint = false;
  private readonly onSigint = () => {
    if (this.fromSigint) process.exit(130);
    this.requested = true;
    this.fromSigint = true;
  };
  private readonly onAbort = () => {
    this.requested = true;
  };

  constructor(
    private readonly signal: AbortSignal | undefined,
    private readonly handleSigint: boolean,
  ) {
    if (handleSigint) process.on('SIGINT', this.onSigint);
    if (signal?.aborted) this.requested = true;
    signal?.addEventListener('abort', this.onAbort, { once: true });
  }

  /** Removes the handlers; SIGINT gets its default behaviour back. */
  dispose(): void {
    if (this.handleSigint) process.off('SIGINT', this.onSigint);
    this.signal?.removeEventListener('abort', this.onAbort);
  }
}
