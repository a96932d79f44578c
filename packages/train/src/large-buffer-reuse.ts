import { spawn } from 'node:child_process';
import { Socket } from 'node:net';
import { signalExitCode, INTERRUPT_SIGNALS } from './interrupt-watcher.js';

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

/**
 * The glibc tunable (2.35 and later; older versions ignore it) that asks the
 * kernel for transparent huge pages on the heap (`madvise`, so it takes
 * effect where THP is `always` or `madvise`). The first run of a training
 * step touches its whole heap (about 2 GB for a TopK SAE at GPT-2-small
 * size) for the first time: with 4 KB pages that is half a million page
 * faults, during which the other intra-op thread spins, and the first step
 * cost several times a later one (README "Performance notes"). It is added
 * to the user's own GLIBC_TUNABLES; a hugetlb setting there wins.
 */
export const HUGE_PAGES_TUNABLE = 'glibc.malloc.hugetlb=1';

/** The environment a relaunched process gets: `env` with the allocator settings. */
function largeBufferReuseEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const tunables = env.GLIBC_TUNABLES;
  const withHugePages = hasHugePagesSetting(tunables) ? tunables : tunables ? `${tunables}:${HUGE_PAGES_TUNABLE}` : HUGE_PAGES_TUNABLE;
  return { ...env, ...LARGE_BUFFER_REUSE_ENV, GLIBC_TUNABLES: withHugePages };
}

function hasHugePagesSetting(tunables: string | undefined): boolean {
  return tunables?.split(':').some((tunable) => tunable.startsWith('glibc.malloc.hugetlb=')) === true;
}

/** Set to 1 to keep a command in its own process (no relaunch). */
export const NO_RELAUNCH_ENV = 'NND_NO_RELAUNCH';

/** Tells the relaunched child which file descriptor is its pipe from the parent (internal; removed from the child's environment once read). */
const PARENT_PIPE_ENV = 'NND_PARENT_PIPE_FD';
const PARENT_PIPE_FD = 3;

/**
 * For command-line entry points: on Linux, unless the allocator settings are
 * already in the environment (or NND_NO_RELAUNCH=1), runs this same script
 * again in a child Node process with them and resolves to the exit code the
 * caller should exit with; otherwise resolves to undefined and the caller
 * goes on in this process.
 *
 * The child runs in a process group of its own and this process forwards
 * SIGINT, SIGTERM and SIGHUP to it, so that a Ctrl-C in the terminal (sent
 * to the terminal's foreground group) and a `kill` of this process both
 * reach it exactly once. Because a signal that cannot be caught (SIGKILL,
 * e.g. `kill -9` of the group or `timeout -s KILL`) is not forwarded, the
 * child also watches a pipe from this process and exits as soon as it
 * closes: the child never outlives its parent. A child killed by a signal
 * gives 128 + the signal's number, as a shell does.
 */
export async function relaunchWithLargeBufferReuse(env: NodeJS.ProcessEnv = process.env): Promise<number | undefined> {
  if (env[PARENT_PIPE_ENV] !== undefined) {
    exitWhenParentDies(Number(env[PARENT_PIPE_ENV]));
    delete env[PARENT_PIPE_ENV];
  }
  if (process.platform !== 'linux' || env[NO_RELAUNCH_ENV] === '1') return undefined;
  if (Object.entries(LARGE_BUFFER_REUSE_ENV).every(([name, value]) => env[name] === value) && hasHugePagesSetting(env.GLIBC_TUNABLES)) return undefined;

  const child = spawn(process.execPath, [...process.execArgv, ...process.argv.slice(1)], {
    stdio: ['inherit', 'inherit', 'inherit', 'pipe'],
    env: { ...largeBufferReuseEnv(env), [PARENT_PIPE_ENV]: String(PARENT_PIPE_FD) },
    detached: true,
  });
  const forward = (signal: NodeJS.Signals) => child.kill(signal);
  for (const signal of INTERRUPT_SIGNALS) process.on(signal, forward);
  try {
    return await new Promise<number>((resolve, reject) => {
      child.once('error', reject);
      child.once('exit', (code, signal) => resolve(code ?? (signal ? signalExitCode(signal) : 128)));
    });
  } finally {
    for (const signal of INTERRUPT_SIGNALS) process.off(signal, forward);
  }
}

/**
 * The parent never writes to the pipe; its end closes only when the parent
 * exits, whatever killed it. The watch does not keep the process alive.
 */
function exitWhenParentDies(fd: number): void {
  const pipe = new Socket({ fd, readable: true, writable: false });
  const exit = () => {
    process.stderr.write('nnd: the launching process is gone (killed with SIGKILL?); stopping without a checkpoint.\n');
    process.exit(signalExitCode('SIGKILL'));
  };
  pipe.once('end', exit);
  pipe.once('error', exit);
  pipe.resume();
  pipe.unref();
}
