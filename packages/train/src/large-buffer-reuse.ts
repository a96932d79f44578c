import { spawn } from 'node:child_process';
import { constants } from 'node:os';

/**
 * glibc serves every allocation above 32 MB with a fresh mmap and unmaps it
 * when freed. onnxruntime-node copies each CPU output of a step into a new
 * ArrayBuffer (a 768 x 12288 float32 parameter or Adam moment is 37.7 MB), so
 * every training step pays ~9,200 page faults per such tensor: 20-30% of a
 * TopK step on the 2-core machine (see README "Performance notes"). With
 * these settings glibc keeps that memory and reuses it. It reads them only
 * at process start, hence the relaunch.
 */
export const LARGE_BUFFER_REUSE_ENV: Readonly<Record<string, string>> = {
  MALLOC_MMAP_MAX_: '0',
  MALLOC_TRIM_THRESHOLD_: '100000000000',
};

/** Set to 1 to keep a command in its own process (no relaunch). */
export const NO_RELAUNCH_ENV = 'NND_NO_RELAUNCH';

/**
 * For command-line entry points: on Linux, unless the allocator settings are
 * already in the environment (or NND_NO_RELAUNCH=1), runs this same script
 * again in a child Node process with them and resolves to the exit code the
 * caller should exit with; otherwise resolves to undefined and the caller
 * goes on in this process.
 *
 * The child runs in a process group of its own and this process forwards
 * SIGINT, SIGTERM and SIGHUP to it, so that a Ctrl-C in the terminal and a
 * `kill` of this process both reach it exactly once. A child killed by a
 * signal gives 128 + the signal's number, as a shell does.
 */
export async function relaunchWithLargeBufferReuse(env: NodeJS.ProcessEnv = process.env): Promise<number | undefined> {
  if (process.platform !== 'linux' || env[NO_RELAUNCH_ENV] === '1') return undefined;
  if (Object.entries(LARGE_BUFFER_REUSE_ENV).every(([name, value]) => env[name] === value)) return undefined;

  const child = spawn(process.execPath, [...process.execArgv, ...process.argv.slice(1)], {
    stdio: 'inherit',
    env: { ...env, ...LARGE_BUFFER_REUSE_ENV },
    detached: true,
  });
  const forward = (signal: NodeJS.Signals) => child.kill(signal);
  const signals = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
  for (const signal of signals) process.on(signal, forward);
  try {
    return await new Promise<number>((resolve, reject) => {
      child.once('error', reject);
      child.once('exit', (code, signal) => resolve(code ?? 128 + (signal ? constants.signals[signal] : 0)));
    });
  } finally {
    for (const signal of signals) process.off(signal, forward);
  }
}
