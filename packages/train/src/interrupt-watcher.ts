import { constants } from 'node:os';

/**
 * The signals that stop training gracefully: Ctrl-C (SIGINT), a scheduler's
 * preemption or a plain `kill` (SIGTERM), and a closed terminal or SSH
 * session (SIGHUP).
 */
export const INTERRUPT_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
export type InterruptSignal = (typeof INTERRUPT_SIGNALS)[number];

/** The exit code a shell reports for a process ended by `signal`: 128 + its number (130 for SIGINT, 143 for SIGTERM). */
export function signalExitCode(signal: NodeJS.Signals): number {
  return 128 + constants.signals[signal];
}

/**
 * Turns SIGINT, SIGTERM, SIGHUP and an AbortSignal into a flag the training
 * loop polls between steps, so a step is never cut in half. While installed,
 * those signals no longer kill the process at once; a second one does
 * (exit code 128 + its number) for when the checkpoint itself hangs.
 */
export class InterruptWatcher {
  /** Set once an interrupt was requested. */
  requested = false;
  /** The signal that requested it, if one did (the process then exits with 128 + its number). */
  fromSignal: InterruptSignal | undefined;
  private readonly onSignal = (signal: InterruptSignal) => {
    if (this.fromSignal !== undefined) process.exit(signalExitCode(signal));
    this.requested = true;
    this.fromSignal = signal;
  };
  private readonly onAbort = () => {
    this.requested = true;
  };

  constructor(
    private readonly signal: AbortSignal | undefined,
    private readonly handleSignals: boolean,
  ) {
    if (handleSignals) for (const name of INTERRUPT_SIGNALS) process.on(name, this.onSignal);
    if (signal?.aborted) this.requested = true;
    signal?.addEventListener('abort', this.onAbort, { once: true });
  }

  /** Removes the handlers; the signals get their default behaviour back. */
  dispose(): void {
    if (this.handleSignals) for (const name of INTERRUPT_SIGNALS) process.off(name, this.onSignal);
    this.signal?.removeEventListener('abort', this.onAbort);
  }
}
