import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RunDirectoryError, RunDirectoryLockedError } from './errors/index.js';
import { lockRunDirectory, runDirectoryLockFile, type LockHolder } from './run-directory-lock.js';

const packageRoot = join(dirname(fileURLToPath(import.meta.url)), '..');

let directory: string;
beforeEach(async () => {
  directory = await mkdtemp(join(tmpdir(), 'nnd-lock-'));
});
afterEach(async () => {
  await rm(directory, { recursive: true, force: true });
});

function writeHolder(file: string, holder: Partial<LockHolder>): void {
  writeFileSync(file, JSON.stringify({ pid: process.pid, host: hostname(), since: '2026-01-01T00:00:00.000Z', processStart: null, command: 'nnd train', token: 'abc', ...holder }));
}

/** A pid that no process has now: one of a child that has exited. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '']);
  await new Promise((resolve) => child.on('exit', resolve));
  return child.pid!;
}

describe('lockRunDirectory', () => {
  it('refuses a second writer, naming the holder, and can be taken again once released', () => {
    const run = join(directory, 'runs', 'topk');
    const lock = lockRunDirectory(run);
    expect(lock.file).toBe(join(directory, 'runs', '.topk.lock'));
    expect(runDirectoryLockFile(run)).toBe(lock.file);
    expect(JSON.parse(readFileSync(lock.file, 'utf8'))).toMatchObject({ pid: process.pid, host: hostname() });

    let refused: unknown;
    try {
      lockRunDirectory(run);
    } catch (error) {
      refused = error;
    }
    expect(refused).toBeInstanceOf(RunDirectoryLockedError);
    expect((refused as Error).message).toContain(`${run} is in use by another nnd process (pid ${process.pid} on ${hostname()}`);
    expect((refused as RunDirectoryLockedError).holder.token).toBe(lock.holder.token);

    lock.release();
    expect(existsSync(lock.file)).toBe(false);
    lock.release();
    lockRunDirectory(run).release();
  });

  it('takes over a lock whose process is gone (killed with SIGKILL, a power loss)', async () => {
    const run = join(directory, 'killed');
    writeHolder(runDirectoryLockFile(run), { pid: await deadPid() });
    const lock = lockRunDirectory(run);
    expect(JSON.parse(readFileSync(lock.file, 'utf8')).pid).toBe(process.pid);
    lock.release();
  });

  it.runIf(process.platform === 'linux')('takes over a lock whose pid now belongs to another process (a reused pid)', () => {
    const run = join(directory, 'reused');
    writeHolder(runDirectoryLockFile(run), { pid: process.pid, processStart: 1 });
    lockRunDirectory(run).release();
  });

  it('takes over a lock file nnd did not write', () => {
    const run = join(directory, 'garbage');
    writeFileSync(runDirectoryLockFile(run), 'not json');
    lockRunDirectory(run).release();
  });

  it('refuses a lock held from another host, saying which file to delete if that run is over', () => {
    const run = join(directory, 'shared');
    writeHolder(runDirectoryLockFile(run), { pid: 1, host: 'other-node' });
    expect(() => lockRunDirectory(run)).toThrow(`If that run on other-node is no longer running, delete ${runDirectoryLockFile(run)}.`);
  });

  it('is released by process.exit; between processes, a live holder refuses and a killed one is taken over', { timeout: 30_000 }, async () => {
    const run = join(directory, 'shared-run');
    const hold = () => {
      const child = spawn(process.execPath, ['--conditions=@nnd/source', '--import', 'tsx', 'src/run-directory-lock.test-support.ts', run], { cwd: packageRoot });
      let stdout = '';
      const line = new Promise<string>((resolve) =>
        child.stdout.on('data', (chunk: Buffer) => {
          stdout += chunk.toString();
          if (stdout.endsWith('\n')) resolve(stdout.trim());
        }),
      );
      return { child, line };
    };
    const first = hold();
    expect(await first.line).toBe('locked');
    const second = hold();
    expect(await second.line).toBe('nnd.run_directory_locked');
    expect(() => lockRunDirectory(run)).toThrow(RunDirectoryLockedError);

    first.child.kill('SIGKILL');
    await new Promise((resolve) => first.child.on('exit', resolve));
    expect(existsSync(runDirectoryLockFile(run))).toBe(true);
    const third = hold();
    expect(await third.line).toBe('locked');
    third.child.kill('SIGTERM');
    await new Promise((resolve) => third.child.on('exit', resolve));
    expect(existsSync(runDirectoryLockFile(run))).toBe(false);
  });

  it.runIf(process.platform === 'linux')("fails at once, with a typed error, under a folder that cannot have children (Node's recursive mkdir loops there)", () => {
    expect(() => lockRunDirectory('/proc/nnd-no-such/runs/topk')).toThrow(RunDirectoryError);
    expect(() => lockRunDirectory('/proc/nnd-no-such/runs/topk')).toThrow(/cannot create \/proc\/nnd-no-such\/runs: making \/proc\/nnd-no-such failed/);
  });
});
