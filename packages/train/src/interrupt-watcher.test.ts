import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { findLatestCheckpoint, readCheckpoint } from './checkpoint.js';
import { INTERRUPT_SIGNALS, InterruptWatcher, type InterruptSignal } from './interrupt-watcher.js';

const packageRoot = join(dirname(fileURLToPath(import.meta.url)), '..');

let directory: string;
beforeEach(async () => {
  directory = await mkdtemp(join(tmpdir(), 'nnd-sigint-'));
});
afterEach(async () => {
  await rm(directory, { recursive: true, force: true });
});

describe('InterruptWatcher', () => {
  it('turns an abort into a request and removes its signal handlers on dispose', () => {
    const before = INTERRUPT_SIGNALS.map((name) => process.listenerCount(name));
    const controller = new AbortController();
    const watcher = new InterruptWatcher(controller.signal, true);
    expect(INTERRUPT_SIGNALS.map((name) => process.listenerCount(name))).toEqual(before.map((count) => count + 1));
    expect(watcher.requested).toBe(false);
    controller.abort();
    expect(watcher.requested).toBe(true);
    expect(watcher.fromSignal).toBeUndefined();
    watcher.dispose();
    expect(INTERRUPT_SIGNALS.map((name) => process.listenerCount(name))).toEqual(before);
  });

  it('sees a signal that was aborted before training started', () => {
    const watcher = new InterruptWatcher(AbortSignal.abort(), false);
    expect(watcher.requested).toBe(true);
    watcher.dispose();
  });
});

/**
 * Runs the support script in a child process, sends `signal` once it printed
 * `step 3`, and a second one once its logger prints `finishing` if `hang`.
 */
async function interruptedRun(mode: 'wait' | 'hang', signal: InterruptSignal = 'SIGINT'): Promise<{ code: number | null; stdout: string; stderr: string; marker: string }> {
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
      child.kill(signal);
    }
    if (sent === 1 && mode === 'hang' && stdout.includes('finishing\n')) {
      sent = 2;
      child.kill(signal);
    }
  });
  const code = await new Promise<number | null>((resolve) => child.on('exit', (exitCode) => resolve(exitCode)));
  return { code, stdout, stderr, marker };
}

describe('SIGINT, SIGTERM or SIGHUP during training', () => {
  it.each([
    ['SIGINT', 130],
    ['SIGTERM', 143],
    ['SIGHUP', 129],
  ] as const)('%s finishes the step, writes a checkpoint, finishes the logger and exits with code %i', async (signal, exitCode) => {
    const { code, stdout, stderr, marker } = await interruptedRun('wait', signal);
    expect(stderr).toMatch(new RegExp(`Interrupted by ${signal} after step \\d+; checkpoint written to`));
    expect(code).toBe(exitCode);
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

  it.each([
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const)('exits at once on a second %s while the logger finishes', async (signal, exitCode) => {
    const { code, stdout, marker } = await interruptedRun('hang', signal);
    expect(code).toBe(exitCode);
    expect(stdout).toContain('finishing\n');
    expect(existsSync(marker)).toBe(false);
    expect(await findLatestCheckpoint(directory)).toBeDefined();
  });
});
