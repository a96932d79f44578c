/**
 * SIGINT for the whole CLI: the first Ctrl-C aborts `signal`, which the
 * trainer (checkpoint, then stop) and the activation harvest (stop between
 * model batches) poll; a second one exits at once with 130, for when saving
 * itself hangs.
 */
export class InterruptWatcher {
  private readonly controller = new AbortController();
  readonly signal: AbortSignal = this.controller.signal;
  private readonly onSigint = () => {
    if (this.controller.signal.aborted) process.exit(130);
    this.write('\nInterrupted: finishing the current step and saving a checkpoint (press Ctrl-C again to quit at once).\n');
    this.controller.abort();
  };

  constructor(private readonly write: (text: string) => void) {
    process.on('SIGINT', this.onSigint);
  }

  dispose(): void {
    process.off('SIGINT', this.onSigint);
  }
}
