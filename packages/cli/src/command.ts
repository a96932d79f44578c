import type { CliIo } from './cli-io.js';

/** One `nnd` subcommand. */
export interface Command {
  readonly name: string;
  /** One line for `nnd --help`. */
  readonly summary: string;
  /** The full `nnd <name> --help` text. */
  help(): string;
  /** Runs with the arguments after the command's name; resolves to the exit code, throws NndErrors for user errors. */
  run(args: readonly string[], io: CliIo): Promise<number>;
}
