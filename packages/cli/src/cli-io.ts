import type { ConsoleStream } from '@nnd/logging';

/** Where a command writes: the process's streams, or a capture in tests. */
export interface CliIo {
  /** Results: paths, summaries, help. */
  stdout(text: string): void;
  /** Progress and diagnostics. */
  stderr(text: string): void;
  /** Where the training progress bar (on a terminal) or progress lines go; process.stderr by default. */
  readonly progress: ConsoleStream;
  /** The environment (W&B keys, NND_* settings); read by commands, never at import. */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Aborted by the interrupt watcher on the first Ctrl-C, SIGTERM or SIGHUP (the reason is the signal's name). */
  readonly signal: AbortSignal;
}
