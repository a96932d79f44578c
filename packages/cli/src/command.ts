import type { CliIo } from './cli-io.js';

/** One `nnd` subcommand. */
export interface Command {
  readonly name: string;
  /**
   * Trains SAEs: its steps copy large buffers, so `nnd` runs it in a process
   * relaunched with glibc's large-buffer reuse (see @nnd/train's
   * relaunchWithLargeBufferReuse); other commands start directly.
   */
  readonly trains?: boolean;
  /** One line for `nnd --help`. */
  readonly summary: string;
  /** The full `nnd <name> --help` text. */
  help(): string;
  /** Runs with the arguments after the command's name; resolves to the exit code, throws NndErrors for user errors. */
  run(args: readonly string[], io: CliIo): Promise<number>;
}
