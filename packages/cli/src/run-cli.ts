import { signalExitCode } from '@nnd/train';
import { cacheCommand } from './cache-command.js';
import { compareCommand } from './compare-command.js';
import { cliVersion } from './cli-version.js';
import type { CliIo } from './cli-io.js';
import { CliUsageError } from './cli-usage-error.js';
import type { Command } from './command.js';
import { dashboardCommand } from './dashboard-command.js';
import { evalCommand } from './eval-command.js';
import { describeFailure, EXIT_CODES, exitCodeFor } from './exit-codes.js';
import { interruptSignalOf, InterruptWatcher } from './interrupt-watcher.js';
import { reportCommand } from './report-command.js';
import { sweepCommand } from './sweep-command.js';
import { trainCommand } from './train-command.js';
import { wandbSyncCommand } from './wandb-sync-command.js';

/** The commands, in the order `nnd --help` lists them. */
export const COMMANDS: readonly Command[] = [trainCommand, cacheCommand, evalCommand, dashboardCommand, sweepCommand, reportCommand, compareCommand, wandbSyncCommand];

export function rootHelp(): string {
  const width = Math.max(...COMMANDS.map((command) => command.name.length));
  return `Usage: nnd <command> [options]

nnd trains and evaluates sparse autoencoders on transformer activations
(the reference: bartbussmann/BatchTopK), in TypeScript on ONNX Runtime.

Commands:
${COMMANDS.map((command) => `  ${command.name.padEnd(width)}  ${command.summary}`).join('\n')}

Run 'nnd <command> --help' for a command's options, 'nnd --version' for the version.
Exit codes: 0 done, 1 a problem with the config or the command line (the
message says what to change), 2 an internal error (with a stack trace),
130 interrupted by Ctrl-C, 143 by SIGTERM, 129 by SIGHUP (training writes a
checkpoint first).
`;
}

/**
 * Runs `nnd <args>` and resolves to its exit code; never throws. User
 * errors print their message, internal errors their stack trace.
 */
export async function runCli(args: readonly string[], io: Partial<CliIo> = {}): Promise<number> {
  const stderr = io.stderr ?? ((text: string) => void process.stderr.write(text));
  const watcher = io.signal === undefined ? new InterruptWatcher(stderr) : undefined;
  const fullIo: CliIo = {
    stdout: io.stdout ?? ((text: string) => void process.stdout.write(text)),
    stderr,
    progress: io.progress ?? process.stderr,
    env: io.env ?? process.env,
    signal: io.signal ?? watcher!.signal,
  };
  try {
    const [name, ...rest] = args;
    if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
      (name === undefined ? fullIo.stderr : fullIo.stdout)(rootHelp());
      return name === undefined ? EXIT_CODES.userError : EXIT_CODES.ok;
    }
    if (name === '--version' || name === '-v') {
      fullIo.stdout(`${cliVersion()}\n`);
      return EXIT_CODES.ok;
    }
    const command = COMMANDS.find((candidate) => candidate.name === name);
    if (command === undefined) {
      throw new CliUsageError(`unknown command '${name}'; the commands are ${COMMANDS.map((candidate) => candidate.name).join(', ')}. Run 'nnd --help'.`);
    }
    const code = await command.run(rest, fullIo);
    return fullIo.signal.aborted && code === EXIT_CODES.ok ? signalExitCode(interruptSignalOf(fullIo.signal)) : code;
  } catch (error) {
    fullIo.stderr(describeFailure(error));
    return exitCodeFor(error);
  } finally {
    watcher?.dispose();
  }
}
