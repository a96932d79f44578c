import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { HUGE_PAGES_TUNABLE } from '../packages/train/src/large-buffer-reuse.js';

/** Interpreters tried in order: NND_PYTHON, then the PATH's, then Debian's (where apt's python3-torch lives). */
const CANDIDATES = [process.env.NND_PYTHON, 'python3', '/usr/bin/python3'].filter((path): path is string => !!path);

/** The first Python that can import torch, or an error that says how to get one. */
function findTorchPython(): string {
  for (const python of CANDIDATES) {
    if (spawnSync(python, ['-c', 'import torch'], { stdio: 'ignore' }).status === 0) return python;
  }
  throw new Error(
    `No Python with PyTorch found (tried ${CANDIDATES.join(', ')}). On Debian: apt-get install python3-torch libopenblas0-pthread ` +
      "(OpenBLAS: without it Debian's torch uses the reference BLAS, ~4 GFLOP/s); or set NND_PYTHON to an interpreter that has torch.",
  );
}

/** Runs a script of bench/pytorch with `args`; its last stdout line is JSON, returned parsed. Progress lines go to `log`. */
export function runPytorchScript(script: string, args: readonly string[], log: (line: string) => void, env: NodeJS.ProcessEnv = {}): Record<string, unknown> {
  const python = findTorchPython();
  const path = fileURLToPath(new URL(`./pytorch/${script}`, import.meta.url));
  const result = spawnSync(python, [path, ...args], { encoding: 'utf8', env: { ...withoutHugePages(process.env), ...env } });
  if (result.status !== 0) throw new Error(`${python} ${script} failed (exit ${result.status}):\n${result.stderr}`);
  const lines = result.stdout.trim().split('\n');
  for (const line of lines.slice(0, -1)) log(line);
  return JSON.parse(lines[lines.length - 1]) as Record<string, unknown>;
}

/**
 * The environment less the huge-pages tunable that nnd's relaunch adds: PyTorch runs with glibc's settings as
 * before it (the relaunch's MALLOC_* included, as in every earlier comparison), since huge pages raise its peak
 * resident memory (2.3 to 2.9 GB for the TopK SAE step) without making it faster.
 */
function withoutHugePages(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const tunables = env.GLIBC_TUNABLES?.split(':').filter((tunable) => tunable !== HUGE_PAGES_TUNABLE);
  const { GLIBC_TUNABLES: _dropped, ...rest } = env;
  return tunables && tunables.length > 0 ? { ...rest, GLIBC_TUNABLES: tunables.join(':') } : rest;
}

/** `--key value` for each option in `keys` that is set; a boolean option is a bare `--key` when true. */
export function pytorchArgs(options: Record<string, string | boolean | undefined>, keys: readonly string[]): string[] {
  return keys.flatMap((key) => {
    const value = options[key];
    if (value === undefined || value === false) return [];
    return value === true ? [`--${key}`] : [`--${key}`, value];
  });
}
