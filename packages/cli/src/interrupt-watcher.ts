import { INTERRUPT_SIGNALS, signalExitCode, type InterruptSignal } from '@nnd/train';

/**
 * SIGINT, SIGTERM and SIGHUP for the whole CLI: the first one aborts
 * `signal` (its reason is the signal's name), which the trainer (checkpoint,
 * then stop) and the activation harvest (stop between model batches) poll; a
 * second one exits at once with 128 + its number, for when saving itself
 * hangs. A scheduler's preemption (SIGTERM) and a closed terminal (SIGHUP)
 * thus save the run like a Ctrl-C does.
 */
export class InterruptWatcher {
  private readonly controller = new AbortController();
  readonly signal: AbortSignal = this.controller.signal;
  private readonly onSignal = (name: InterruptSignal) => {
    if (this.controller.signal.aborted) process.exit(signalExitCode(name));
    const again = name === 'SIGINT' ? 'press Ctrl-C again' : `send ${name} again`;
    this.write(`\nInterrupted${name === 'SIGINT' ? '' : ` by ${name}`}: finishing the current step and saving a checkpoint (${again} to quit at once).\n`);
    this.controller.abort(name);
  };

  constructor(private readonly write: (text: string) => void) {
    for (const name of INTERRUPT_SIGNALS) process.on(name, this.onSignal);
  }

  dispose(): void {
    for (const name of INTERRUPT_SIGNALS) process.off(name, this.onSignal);
  }
}

/** Which signal aborted `signal`: its reason when the watcher aborted it, SIGINT for any other abort (a test's AbortController). */
export function interruptSignalOf(signal: AbortSignal): InterruptSignal {
  return (INTERRUPT_SIGNALS as readonly unknown[]).includes(signal.reason) ? (signal.reason as InterruptSignal) : 'SIGINT';
}
