import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { THREADS_ENV } from '@nnd/backend-onnx';
import { stringify } from 'yaml';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { runCaptured } from './cli-capture.test-support.js';
import { tinyLanguageModelPresent, writeRandomLanguageModel } from './language-model.test-support.js';

/**
 * Same seed, same result, through the CLI on the LM that ships with nnd:
 * the same config twice gives the same bits, on one runtime thread and on
 * two, and a run killed with SIGKILL and resumed ends with the bits of an
 * uninterrupted run.
 */
let directory: string;
let configFile: string;
const STEPS = 16;
const RUN = 'same-seed';
beforeAll(async () => {
  directory = await mkdtemp(join(tmpdir(), 'nnd-determinism-'));
  const modelName = tinyLanguageModelPresent() ? 'tiny-lm' : await writeRandomLanguageModel(join(directory, 'lm'));
  configFile = join(directory, 'config.yaml');
  await writeFile(
    configFile,
    stringify({
      model_name: modelName,
      name: RUN,
      layer: 2,
      act_size: 128,
      dict_size: 256,
      top_k: 16,
      top_k_aux: 64,
      dataset_path: 'sotu',
      // Batches of 1024 x k 16: enough rows for onnxruntime to split the decoder's ScatterND across threads, which is what lost updates.
      document_token_limit: 'none',
      keep_remainder: true,
      seq_len: 32,
      batch_size: 1024,
      num_tokens: 1024 * STEPS,
      model_batch_size: 8,
      num_batches_in_buffer: 2,
      perf_log_freq: 8,
      checkpoint_freq: 4,
      eval_tokens: 256,
    }),
  );
});
afterAll(() => rm(directory, { recursive: true, force: true }));
afterEach(() => vi.unstubAllEnvs());

/** Trains in this process with `threads` runtime threads into `{directory}/{label}`; returns the run directory. */
async function train(label: string, threads: number, extra: string[] = []): Promise<string> {
  vi.stubEnv(THREADS_ENV, String(threads));
  const { code, stderr } = await runCaptured(['train', '--config', configFile, '--set', `run_dir=${join(directory, label)}`, ...extra]);
  expect(code, stderr).toBe(0);
  return join(directory, label, RUN);
}

const bytes = (run: string, file: string) => readFileSync(join(run, file));
/** metrics.jsonl without the wall-clock time of each row. */
const metricRows = (run: string) =>
  readFileSync(join(run, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((line) => {
      const { time: _, ...row } = JSON.parse(line) as Record<string, unknown>;
      return row;
    });
/** The summary's numbers (the evaluation), without paths. */
const summaryNumbers = (run: string) =>
  Object.fromEntries(Object.entries(JSON.parse(readFileSync(join(run, 'summary.json'), 'utf8')) as Record<string, unknown>).filter(([key]) => key !== 'checkpoint'));

/** The batches consumed at the newest complete checkpoint (the one `--resume <run>` takes), which records the store's position after them. */
function newestCheckpointBatches(run: string): number {
  const steps = readdirSync(join(run, 'checkpoints'))
    .map((name) => /^step_(\d+)$/.exec(name)?.[1])
    .filter((step) => step !== undefined)
    .filter((step) => existsSync(join(run, 'checkpoints', `step_${step}`, 'trainer_state.json')))
    .map(Number);
  const step = Math.max(...steps);
  const state = JSON.parse(readFileSync(join(run, 'checkpoints', `step_${step}`, 'trainer_state.json'), 'utf8')) as { batches_consumed: number; source_position?: { batchesServed: number } };
  expect(state.source_position?.batchesServed).toBe(state.batches_consumed);
  return state.batches_consumed;
}

const FINAL_FILES = ['sae/sae_weights.safetensors', 'sae/nnd_state.safetensors', `checkpoints/step_${STEPS}/trainer_state.safetensors`];

function expectSameRun(first: string, second: string, { metrics = true } = {}) {
  for (const file of FINAL_FILES) expect(bytes(second, file).equals(bytes(first, file)), `${file} differs`).toBe(true);
  expect(summaryNumbers(second)).toEqual(summaryNumbers(first));
  if (metrics) expect(metricRows(second)).toEqual(metricRows(first));
}

describe('nnd train is repeatable', () => {
  it.each([1, 2])('the same config twice on %i runtime thread(s) gives bitwise-identical weights, metrics and summary', async (threads) => {
    const first = await train(`threads-${threads}-a`, threads);
    const second = await train(`threads-${threads}-b`, threads);
    expectSameRun(first, second);
  });

  it('a run killed with SIGKILL mid-way and resumed ends with the bits of an uninterrupted run', async () => {
    const uninterrupted = join(directory, 'threads-2-a', RUN);
    const killed = join(directory, 'killed');
    const run = join(killed, RUN);
    const cli = fileURLToPath(new URL('./cli.ts', import.meta.url));
    const child = spawn(process.execPath, ['--conditions=@nnd/source', '--import', 'tsx', cli, 'train', '--config', configFile, '--set', `run_dir=${killed}`], {
      cwd: fileURLToPath(new URL('..', import.meta.url)),
      // No relaunch, so that the process killed is the one training.
      env: { PATH: process.env.PATH, WANDB_MODE: 'disabled', NND_NO_RELAUNCH: '1', [THREADS_ENV]: '2' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    child.stderr.resume();
    // Killed as soon as the first checkpoint is complete: the run is then past step 4 of 16.
    const poll = setInterval(() => {
      if (existsSync(join(run, 'checkpoints', 'step_4', 'trainer_state.json'))) child.kill('SIGKILL');
    }, 10);
    const signal = await new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_, exitSignal) => resolve(exitSignal)));
    clearInterval(poll);
    expect(signal).toBe('SIGKILL');
    expect(existsSync(join(run, 'summary.json'))).toBe(false);
    expect(existsSync(join(run, 'checkpoints', `step_${STEPS}`))).toBe(false);

    const resumedAt = newestCheckpointBatches(run);
    vi.stubEnv(THREADS_ENV, '2');
    const resumed = await runCaptured(['train', '--config', configFile, '--set', `run_dir=${killed}`, '--resume', run]);
    expect(resumed.code, resumed.stderr).toBe(0);
    // The store continued from the position recorded in the checkpoint (one buffer harvested again), not by replaying the batches before it.
    expect(resumed.stderr).toMatch(new RegExp(`continuing at batch ${resumedAt} from document \\d+ \\(pass \\d+\\), token \\d+, row \\d+ of that buffer`));
    // metrics.jsonl holds the rows the killed process logged after its checkpoint twice, so only the results are compared.
    expectSameRun(uninterrupted, run, { metrics: false });
  });
});
