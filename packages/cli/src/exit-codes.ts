import { NndError } from '@nnd/core';
import { signalExitCode } from '@nnd/train';
import type { InterruptedError } from './interrupted-error.js';

/** The CLI's exit codes. */
export const EXIT_CODES = {
  ok: 0,
  /** The config, the command line or the files named were wrong: the message says what to change. */
  userError: 1,
  /** A bug or an environment failure: the stack trace goes with it. */
  internalError: 2,
  /** SIGINT, as shells report 128 + 2; the trainer wrote a checkpoint first. SIGTERM gives 143 and SIGHUP 129 (128 + the signal's number). */
  interrupted: 130,
} as const;

/**
 * NndError codes that mean nnd itself built something wrong (a graph, a
 * dtype, a logger call), not that the user asked for something wrong.
 */
const INTERNAL_CODES = new Set(['nnd.graph', 'nnd.dtype', 'nnd.shape', 'nnd.unsupported_op', 'nnd.logging', 'nnd.error']);

export function exitCodeFor(error: unknown): number {
  if (!NndError.isInstance(error)) return EXIT_CODES.internalError;
  if (error.code === 'nnd.interrupted') return signalExitCode((error as InterruptedError).signal ?? 'SIGINT');
  return INTERNAL_CODES.has(error.code) ? EXIT_CODES.internalError : EXIT_CODES.userError;
}

/** What the CLI prints for a failure: the message alone for user errors, the stack trace for internal ones. */
export function describeFailure(error: unknown): string {
  const code = exitCodeFor(error);
  if (NndError.isInstance(error) && error.code === 'nnd.interrupted') return `${error.message}\n`;
  if (code === EXIT_CODES.userError) return `nnd: ${(error as Error).message}\n`;
  const stack = error instanceof Error ? (error.stack ?? `${error.name}: ${error.message}`) : String(error);
  return `nnd: internal error (a bug in nnd or a failure of the environment, not of your config):\n${stack}\n` + 'Please report it with the command you ran.\n';
}
