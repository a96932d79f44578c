import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { findLatestCheckpoint, readCheckpoint } from './checkpoint.js';
import { InterruptWatcher } from './interrupt-watcher.js';

const packageRoot = join(dirname(fileURLToPath(import.meta.url)), '..');

let directory: string;
beforeEach(async () => {
  directory = await mkdtemp(join(tmpdir(), 'nnd-sigint-'));
});
afterEach(async () => {
  await rm(directory, { recursive: true, force: true });
});

describe('InterruptWatcher', () => {
  it('turns an abort into a request and removes its SIGINT handler on dispose', () => {
    const before = process.listenerCount('SIGINT');
    const controller = new AbortController();
    const watcher = new InterruptWatcher(controller.signal, true);
    expect(process.listenerCount('SIGINT')).toBe(before + 1);
    expect(watcher.requested).toBe(false);
    controller.abort();
    expect(watcher.requested).toBe(true);
    expect(watcher.fromSigint).toBe(false);
    watcher.dispose();
    expect(process.listenerCount('SIGINT')).toBe(before);
  });

  it('sees a signal that was aborted before training started', () => {
    const watcher = new InterruptWatcher(AbortSignal.abort(), false);
    expect(watcher.requested).toBe(true);
    watcher.dispose();
  });
});

/**
 * Runs the support script in a child process, sends SIGINT once it printed
 * `step 3`, and a second one once its logger prints `finishing` if `hang`.
 */
async function interruptedRun(mode: 'wait' | 'hang'): Promise<{ code: number | null; stdout: string; stderr: string; marker: string }> {
  const marker = join(directory, 'logger-finished.json');
  const child = spawn(process.execPath, ['--conditions=@nnd/source', '--import', 'tsx', 'src/sigint-training.test-support.ts', directory, marker, mode], {
    cwd: packageRoot,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  let sent = 0;
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
    if (sent === 0 && stdout.includes('step 3\n')) {
      sent = 1;
      child.kill('SIGINT');
    }
    if (sent === 1 && mode === 'hang' && stdout.includes('finishing\n')) {
      sent = 2;
      child.kill('SIGINT');
    }
  });
  const code = await new Promise<number | null>((resolve) => child.on('exit', (exitCode) => resolve(exitCode)));
  return { code, stdout, stderr, marker };
}

describe('SIGINT during training', () => {
  it('finishes the step, writes a checkpoint, finishes the logger and exits with code 130', async () => {
    const { code, stdout, stderr, marker } = await interruptedRun('wait');
    expect(stderr).toMatch(/Interrupted by SIGINT after step \d+; checkpoint written to/);
    expect(code).toBe(130);
    expect(stdout).not.toContain('completed');
    const latest = await findLatestCheckpoint(directory);
    expect(latest).toBeDefined();
    const checkpoint = await readCheckpoint(latest!);
    // Every step that started finished and was logged before the checkpoint.
    const lastLogged = Math.max(...[...stdout.matchAll(/step (\d+)/g)].map((match) => Number(match[1])));
    expect(checkpoint.step).toBe(lastLogged + 1);
    expect(checkpoint.step).toBeGreaterThanOrEqual(4);
    // The logger's finish ran after the last step and the checkpoint, and the exit waited for it (it sleeps before writing).
    expect(stdout.endsWith('finishing\n')).toBe(true);
    expect(JSON.parse(await readFile(marker, 'utf8'))).toEqual({ status: 'interrupted', steps: checkpoint.step, checkpoint: latest });
  });

  it('exits at once on a second SIGINT while the logger finishes', async () => {
    const { code, stdout, marker } = await interruptedRun('hang');
    expect(code).toBe(130);
    expect(stdout).toContain('finishing\n');
    expect(existsSync(marker)).toBe(false);
    expect(await findLatestCheckpoint(directory)).toBeDefined();
  });
});
