import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { LARGE_BUFFER_REUSE_ENV, NO_RELAUNCH_ENV } from './large-buffer-reuse.js';

function run(mode: string, env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; stdout: string }> {
  const inherited = { ...process.env };
  for (const name of [...Object.keys(LARGE_BUFFER_REUSE_ENV), NO_RELAUNCH_ENV]) delete inherited[name];
  const child = spawn(process.execPath, ['--conditions=@nnd/source', '--import', 'tsx', 'src/large-buffer-reuse.test-support.ts', mode], {
    env: { ...inherited, ...env },
  });
  let stdout = '';
  child.stdout.on('data', (chunk) => {
    stdout += chunk;
    // Like a Ctrl-C or a `kill -INT` aimed at the command the user started, not at the relaunched child.
    if (mode === 'sigint' && stdout.endsWith('ready\n')) child.kill('SIGINT');
  });
  return new Promise((resolve) => child.on('exit', (code) => resolve({ code, stdout })));
}

// The allocator settings are glibc's, so the relaunch happens only on Linux.
const onLinux = process.platform === 'linux';
describe.runIf(onLinux)(`relaunchWithLargeBufferReuse${onLinux ? '' : ` (skipped: glibc malloc settings, Linux only; this is ${process.platform})`}`, () => {
  it('runs the script again with the allocator settings and exits with its code', async () => {
    const { code, stdout } = await run('exit');
    expect(stdout).toBe('child env 0 100000000000\nparent exits 7\n');
    expect(code).toBe(7);
  });

  it('reports a child killed by a signal as 128 + its number', async () => {
    const { code, stdout } = await run('signal');
    expect(stdout).toBe('child env 0 100000000000\nparent exits 143\n');
    expect(code).toBe(143);
  });

  it('forwards a SIGINT sent to it to the child exactly once', { timeout: 20_000 }, async () => {
    const { code, stdout } = await run('sigint');
    expect(stdout).toBe('child env 0 100000000000\nready\nchild got 1 SIGINT\nparent exits 130\n');
    expect(code).toBe(130);
  });

  it('stays in the same process when the settings are already there or NND_NO_RELAUNCH=1', async () => {
    expect(await run('exit', { MALLOC_MMAP_MAX_: '0', MALLOC_TRIM_THRESHOLD_: '100000000000' })).toEqual({ code: 7, stdout: 'child env 0 100000000000\n' });
    expect(await run('exit', { [NO_RELAUNCH_ENV]: '1' })).toEqual({ code: 7, stdout: 'child env undefined undefined\n' });
  });
});
