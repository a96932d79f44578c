import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { LARGE_BUFFER_REUSE_ENV, NO_RELAUNCH_ENV } from './large-buffer-reuse.js';

function run(mode: string, env: NodeJS.ProcessEnv = {}, onStdout?: (stdout: string, child: ChildProcess) => void): Promise<{ code: number | null; stdout: string }> {
  const inherited = { ...process.env };
  for (const name of [...Object.keys(LARGE_BUFFER_REUSE_ENV), 'GLIBC_TUNABLES', NO_RELAUNCH_ENV]) delete inherited[name];
  const child = spawn(process.execPath, ['--conditions=@nnd/source', '--import', 'tsx', 'src/large-buffer-reuse.test-support.ts', mode], {
    env: { ...inherited, ...env },
    // Its own process group, as a shell gives a command, so that the test can kill the whole group.
    detached: mode === 'orphan',
  });
  let stdout = '';
  child.stdout.on('data', (chunk) => {
    stdout += chunk;
    // Like a Ctrl-C or a `kill -INT` aimed at the command the user started, not at the relaunched child.
    if (mode === 'sigint' && stdout.endsWith('ready\n')) child.kill('SIGINT');
    onStdout?.(stdout, child);
  });
  return new Promise((resolve) => child.on('exit', (code) => resolve({ code, stdout })));
}

// The allocator settings are glibc's, so the relaunch happens only on Linux.
const onLinux = process.platform === 'linux';
describe.runIf(onLinux)(`relaunchWithLargeBufferReuse${onLinux ? '' : ` (skipped: glibc malloc settings, Linux only; this is ${process.platform})`}`, () => {
  it('runs the script again with the allocator settings and exits with its code', async () => {
    const { code, stdout } = await run('exit');
    expect(stdout).toBe('child env 0 100000000000 glibc.malloc.hugetlb=1\nparent exits 7\n');
    expect(code).toBe(7);
  });

  it('reports a child killed by a signal as 128 + its number', async () => {
    const { code, stdout } = await run('signal');
    expect(stdout).toBe('child env 0 100000000000 glibc.malloc.hugetlb=1\nparent exits 143\n');
    expect(code).toBe(143);
  });

  it('forwards a SIGINT sent to it to the child exactly once', { timeout: 20_000 }, async () => {
    const { code, stdout } = await run('sigint');
    expect(stdout).toBe('child env 0 100000000000 glibc.malloc.hugetlb=1\nready\nchild got 1 SIGINT\nparent exits 130\n');
    expect(code).toBe(130);
  });

  it('kill -9 of the process group leaves no relaunched child behind', { timeout: 20_000 }, async () => {
    let childPid: number | undefined;
    const { code } = await run('orphan', {}, (stdout, parent) => {
      const match = /child pid (\d+)\n/.exec(stdout);
      if (match && childPid === undefined) {
        childPid = Number(match[1]);
        expect(isRunning(childPid)).toBe(true);
        // What `kill -9 -<pgid>` and `timeout -s KILL` do: SIGKILL to the group of the command the user started.
        process.kill(-parent.pid!, 'SIGKILL');
      }
    });
    expect(code).toBe(null);
    expect(childPid).toBeDefined();
    const deadline = Date.now() + 10_000;
    while (isRunning(childPid!) && Date.now() < deadline) await sleep(50);
    const survived = isRunning(childPid!);
    if (survived) process.kill(childPid!, 'SIGKILL');
    expect(survived).toBe(false);
  });

  it('stays in the same process when the settings are already there or NND_NO_RELAUNCH=1', async () => {
    const settings = { MALLOC_MMAP_MAX_: '0', MALLOC_TRIM_THRESHOLD_: '100000000000', GLIBC_TUNABLES: 'glibc.malloc.hugetlb=1' };
    expect(await run('exit', settings)).toEqual({ code: 7, stdout: 'child env 0 100000000000 glibc.malloc.hugetlb=1\n' });
    expect(await run('exit', { [NO_RELAUNCH_ENV]: '1' })).toEqual({ code: 7, stdout: 'child env undefined undefined undefined\n' });
  });

  it("adds the huge-pages tunable to the user's GLIBC_TUNABLES, and keeps a hugetlb setting of theirs", async () => {
    expect((await run('exit', { GLIBC_TUNABLES: 'glibc.malloc.arena_max=2' })).stdout).toBe('child env 0 100000000000 glibc.malloc.arena_max=2:glibc.malloc.hugetlb=1\nparent exits 7\n');
    expect((await run('exit', { GLIBC_TUNABLES: 'glibc.malloc.hugetlb=0' })).stdout).toBe('child env 0 100000000000 glibc.malloc.hugetlb=0\nparent exits 7\n');
  });

  // Only where the kernel gives transparent huge pages to madvised memory.
  const thp = transparentHugePages();
  it.runIf(thp)(`backs the relaunched process's heap with huge pages${thp ? '' : ' (skipped: transparent huge pages are off on this kernel)'}`, async () => {
    const { code, stdout } = await run('hugepages');
    expect(code).toBe(7);
    const kilobytes = Number(/huge (\d+) /.exec(stdout)?.[1]);
    // Most of the 256 MB buffer lies in 2 MB pages; without the tunable it is 0.
    expect(kilobytes).toBeGreaterThan(128 * 1024);
  });
});

/** Whether the kernel backs madvised memory with transparent huge pages (`always` or `madvise` selected). */
function transparentHugePages(): boolean {
  try {
    return /\[(always|madvise)\]/.test(readFileSync('/sys/kernel/mm/transparent_hugepage/enabled', 'utf8'));
  } catch {
    return false;
  }
}

/** Whether `pid` is a live process (a zombie, dead but not yet reaped by init, counts as gone). */
function isRunning(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}
