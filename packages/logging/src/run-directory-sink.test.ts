import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LoggingError, RunDirectoryError } from './errors/index.js';
import { PathOutsideFolderError } from '@nnd/core';
import { RUN_FILES, checkpointDirectory, checkpointsFolderOf, readRunDirectory } from './run-directory.js';
import { createRunDirectorySink } from './run-directory-sink.js';

const packageDirectory = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const loopScript = path.join('src', 'log-loop.test-support.ts');
const config = { model_name: 'gpt2-small', hook_point: 'blocks.8.hook_resid_pre', dict_size: 768, sae_type: 'topk', top_k: 32, lr: 3e-4 };

let root: string;
beforeEach(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'nnd-logging-runs-'));
});
afterEach(() => {
  fs.rmSync(root, { recursive: true, force: true });
});

interface LoopRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs the log loop as its own Node process. With `killAfterStep`, SIGKILLs it
 * once it reports that step. Bounded: killed after `timeoutMs` whatever happens.
 */
function runLoop(settings: Record<string, unknown>, options: { killAfterStep?: number; timeoutMs?: number } = {}): Promise<LoopRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--conditions=@nnd/source', '--import', 'tsx', loopScript, JSON.stringify(settings)], {
      cwd: packageDirectory,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    const guard = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000);
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString('utf8');
      const reached = [...stdout.matchAll(/logged (\d+)/g)].some((match) => Number(match[1]) >= (options.killAfterStep ?? Infinity));
      if (reached) child.kill('SIGKILL');
    });
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(guard);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

function loopSettings(overrides: Record<string, unknown>) {
  return { runsDirectory: root, name: 'run', config, from: 0, to: 60, delayMs: 0, checkpointEvery: 20, finish: true, ...overrides };
}

/** Every line of metrics.jsonl, parsed with no tolerance at all. */
function strictRows(directory: string): { step: number }[] {
  const text = fs.readFileSync(path.join(directory, RUN_FILES.metrics), 'utf8');
  expect(text.endsWith('\n')).toBe(true);
  return text
    .trimEnd()
    .split('\n')
    .map((line) => JSON.parse(line) as { step: number });
}

const range = (from: number, to: number) => Array.from({ length: to - from }, (_, index) => from + index);

describe('run directory after a normal run', () => {
  it('holds config, one row per step, checkpoints, artifacts and the summary', async () => {
    const directory = path.join(root, 'normal');
    const sink = createRunDirectorySink({ directory });
    await sink.init(config);
    for (let step = 0; step < 5; step += 1) {
      sink.log({ loss: 1 / (step + 1), l0_norm: 32 }, step);
      if (step === 3) {
        const checkpoint = sink.checkpointDirectory(step);
        fs.writeFileSync(path.join(checkpoint, 'sae_weights.safetensors'), 'weights');
        sink.artifact('checkpoint_3', [path.join(checkpoint, 'sae_weights.safetensors')], { step });
      }
    }
    await sink.finish({ final_loss: 0.2 });

    const contents = readRunDirectory(directory);
    expect(contents.config).toEqual(config);
    expect(contents.metrics.map((row) => row.step)).toEqual(range(0, 5));
    expect(contents.metrics[4]?.metrics).toEqual({ loss: 0.2, l0_norm: 32 });
    expect(Math.abs((contents.metrics[0]?.time ?? 0) - Date.now() / 1000)).toBeLessThan(60);
    expect(contents.summary).toEqual({ loss: 0.2, l0_norm: 32, final_loss: 0.2 });
    expect(contents.checkpointSteps).toEqual([3]);
    expect(contents.artifacts).toMatchObject([{ name: 'checkpoint_3', files: ['checkpoints/step_3/sae_weights.safetensors'], metadata: { step: 3 } }]);
    expect(strictRows(directory)).toHaveLength(5);
  });

  it('lists the step_N checkpoints @nnd/train writes, not its temporary folders, and follows config.checkpoint_dir', async () => {
    // The layout of `nnd train` with two SAEs: the first run directory holds checkpoints/step_N/sae_{i};
    // the second records where they are in its config.json.
    const first = path.join(root, 'group', 'first');
    const second = path.join(root, 'group', 'second');
    const sinks = [createRunDirectorySink({ directory: first }), createRunDirectorySink({ directory: second })];
    await sinks[0]!.init({ ...config, checkpoint_dir: 'checkpoints', checkpoint_member: 0 });
    await sinks[1]!.init({ ...config, checkpoint_dir: path.join('..', 'first', 'checkpoints'), checkpoint_member: 1 });
    for (const name of ['step_4', 'step_12', 'step_6', '.step_8.tmp-0123456789ab', '.step_6.old-0123456789ab', 'step_x', '10']) {
      fs.mkdirSync(path.join(first, 'checkpoints', name, 'sae_0'), { recursive: true });
    }
    fs.writeFileSync(path.join(first, 'checkpoints', 'step_16'), 'a file, not a checkpoint');
    expect(checkpointDirectory(first, 4)).toBe(path.join(first, 'checkpoints', 'step_4'));
    expect(readRunDirectory(first).checkpointSteps).toEqual([4, 6, 12]);
    expect(readRunDirectory(second).checkpointSteps).toEqual([4, 6, 12]);
    expect(checkpointsFolderOf(second)).toBe(path.join(first, 'checkpoints'));
    await Promise.all(sinks.map((sink) => sink.finish()));
  });

  it('keeps config.checkpoint_dir inside the folder of the run directories: absolute paths, .. and links out of it are refused', async () => {
    const outside = path.join(root, 'outside', 'checkpoints');
    fs.mkdirSync(path.join(outside, 'step_7'), { recursive: true });
    const runs = path.join(root, 'runs');
    fs.mkdirSync(runs);
    fs.symlinkSync(path.join(root, 'outside'), path.join(runs, 'linked'));
    for (const recorded of [outside, path.join('..', '..', 'outside', 'checkpoints'), path.join('..', 'linked', 'checkpoints')]) {
      const directory = path.join(runs, 'crafted');
      fs.rmSync(directory, { recursive: true, force: true });
      const sink = createRunDirectorySink({ directory });
      await sink.init({ ...config, checkpoint_dir: recorded });
      await sink.finish();
      expect(() => checkpointsFolderOf(directory)).toThrow(PathOutsideFolderError);
      expect(() => readRunDirectory(directory)).toThrow(`${path.join(directory, 'config.json')} checkpoint_dir is ${JSON.stringify(recorded)}`);
    }
  });

  it('keeps non-finite metrics as numbers through the file', async () => {
    const directory = path.join(root, 'nan');
    const sink = createRunDirectorySink({ directory });
    await sink.init({});
    sink.log({ loss: Number.NaN, l2_loss: Infinity, l1_loss: -Infinity }, 0);
    await sink.finish();
    expect(readRunDirectory(directory).metrics[0]?.metrics).toEqual({ loss: Number.NaN, l2_loss: Infinity, l1_loss: -Infinity });
  });

  it('refuses calls out of order and says when a directory is not a run', async () => {
    const sink = createRunDirectorySink({ directory: path.join(root, 'order') });
    expect(() => sink.log({ loss: 1 }, 0)).toThrow(LoggingError);
    await sink.init({});
    await sink.finish();
    expect(() => sink.log({ loss: 1 }, 0)).toThrow(LoggingError);
    expect(() => readRunDirectory(path.join(root, 'missing'))).toThrow(RunDirectoryError);
  });

  it('writes the same directory from a child process that finishes', async () => {
    const result = await runLoop(loopSettings({ to: 30 }));
    expect(result).toMatchObject({ code: 0, signal: null });
    const contents = readRunDirectory(path.join(root, 'run'));
    expect(contents.metrics.map((row) => row.step)).toEqual(range(0, 30));
    expect(contents.checkpointSteps).toEqual([0, 20]);
    expect(contents.summary).toMatchObject({ finished_by: 'log-loop' });
  });
});

describe('run directory after a crash', () => {
  it('holds only whole lines, steps 0..n without gaps, after SIGKILL mid-run', async () => {
    const result = await runLoop(loopSettings({ to: 20_000, delayMs: 1 }), { killAfterStep: 150 });
    expect(result.signal).toBe('SIGKILL');
    const directory = path.join(root, 'run');
    const rows = strictRows(directory);
    expect(rows.length).toBeGreaterThan(150);
    expect(rows.map((row) => row.step)).toEqual(range(0, rows.length));
    const contents = readRunDirectory(directory);
    expect(contents.metrics).toHaveLength(rows.length);
    expect(contents.summary).toBeUndefined();
    expect(contents.checkpointSteps.slice(0, 8)).toEqual([0, 20, 40, 60, 80, 100, 120, 140]);
  });
});

describe('run directory after a resume', () => {
  it('appends to the same directory: config kept, steps continue, a torn last line repaired', async () => {
    const directory = path.join(root, 'run');
    const first = await runLoop(loopSettings({ to: 20_000, delayMs: 1 }), { killAfterStep: 40 });
    expect(first.signal).toBe('SIGKILL');
    // A torn write at the very end, as a power loss could leave; the resumed run must not build on it.
    fs.appendFileSync(path.join(directory, RUN_FILES.metrics), '{"step":999999,"time":1,"lo');
    const before = readRunDirectory(directory);
    const resumeAt = (before.metrics[before.metrics.length - 1]?.step ?? -1) + 1;

    const second = await runLoop(loopSettings({ from: resumeAt, to: resumeAt + 25, config: { ...config, lr: 1 } }));
    expect(second).toMatchObject({ code: 0, signal: null });

    const after = readRunDirectory(directory);
    expect(after.config).toEqual(config);
    expect(strictRows(directory).map((row) => row.step)).toEqual(range(0, resumeAt + 25));
    expect(after.summary).toMatchObject({ finished_by: 'log-loop' });
    expect(after.checkpointSteps).toContain(0);
    expect(after.checkpointSteps.some((step) => step >= resumeAt)).toBe(true);
  });
});
