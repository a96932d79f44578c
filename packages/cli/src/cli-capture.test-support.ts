import type { CliIo } from './cli-io.js';
import { runCli } from './run-cli.js';

export interface CliRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `nnd <args>` in this process with its output captured. */
export async function runCaptured(args: readonly string[], io: Partial<CliIo> = {}): Promise<CliRun> {
  let stdout = '';
  let stderr = '';
  const code = await runCli(args, {
    stdout: (text) => void (stdout += text),
    stderr: (text) => void (stderr += text),
    progress: { write: (text: string) => void (stderr += text), isTTY: false },
    env: { PATH: process.env.PATH },
    ...io,
  });
  return { code, stdout, stderr };
}
