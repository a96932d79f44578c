import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
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
 * An SPD run killed with SIGKILL and resumed from its checkpoint ends with
 * the bits of an uninterrupted one: V, U and the CI functions, Adam's
 * moments, the Rng the masks are drawn from, and so the p annealing, the LR
 * schedule and the token stream, all of which the final weights depend on.
 */
let directory: string;
let configFile: string;
const STEPS = 24;
const RUN = 'spd-resume';
const THREADS = '2';
beforeAll(async () => {
  directory = await mkdtemp(join(tmpdir(), 'nnd-spd-resume-'));
  const modelName = tinyLanguageModelPresent() ? 'tiny-lm' : await writeRandomLanguageModel(join(directory, 'lm'));
  configFile = join(directory, 'config.yaml');
  await writeFile(
    configFile,
    stringify({
      decomposition: 'spd',
      name: RUN,
      model_name: modelName,
      spd_modules: 'blocks.0.mlp.W_in,blocks.1.mlp.W_out',
      C: 16,
      dataset_path: 'sotu',
      seq_len: 32,
      batch_size: 4,
      num_tokens: 4 * STEPS,
      checkpoint_freq: 4,
      eval_tokens: 128,
      // Everything a step draws or reads from its position: cosine LR with warm-up, p annealing mid-run, subset routing and PGD with random starts.
      lr_schedule: 'cosine',
      lr_warmup_frac: 0.1,
      lr_final_frac: 0.1,
      importance_minimality_coeff: 0.01,
      p_anneal_final_p: 0.5,
      p_anneal_start_frac: 0.25,
      p_anneal_end_frac: 0.75,
      stochastic_recon_subset_coeff: 0.5,
      pgd_recon_coeff: 0.5,
      pgd_n_steps: 1,
    }),
  );
});
afterAll(() => rm(directory, { recursive: true, force: true }));
afterEach(() => vi.unstubAllEnvs());

const bytes = (run: string, file: string) => readFileSync(join(run, file));
/** The summary's numbers and arrays (the final evaluation and the last step's metrics), without paths. */
const summaryValues = (run: string) =>
  Object.fromEntries(Object.entries(JSON.parse(readFileSync(join(run, 'summary.json'), 'utf8')) as Record<string, unknown>).filter(([key]) => key !== 'checkpoint'));
/** trainer_state.json without where it was written. */
const trainerState = (run: string) => {
  const state = JSON.parse(readFileSync(join(run, 'checkpoints', `step_${STEPS}`, 'trainer_state.json'), 'utf8')) as Record<string, unknown>;
  return JSON.parse(JSON.stringify(state, (key, value) => (key === 'directory' || key === 'time' ? undefined : value))) as Record<string, unknown>;
};

describe('an SPD run resumed after SIGKILL', () => {
  it('ends with the bits of an uninterrupted run', async () => {
    vi.stubEnv(THREADS_ENV, THREADS);
    const straight = await runCaptured(['train', '--config', configFile, '--set', `run_dir=${join(directory, 'straight')}`]);
    expect(straight.code, straight.stderr).toBe(0);
    const uninterrupted = join(directory, 'straight', RUN);

    const killed = join(directory, 'killed');
    const run = join(killed, RUN);
    const cli = fileURLToPath(new URL('./cli.ts', import.meta.url));
    const child = spawn(process.execPath, ['--conditions=@nnd/source', '--import', 'tsx', cli, 'train', '--config', configFile, '--set', `run_dir=${killed}`], {
      cwd: fileURLToPath(new URL('..', import.meta.url)),
      // No relaunch, so that the process killed is the one training.
      env: { PATH: process.env.PATH, WANDB_MODE: 'disabled', NND_NO_RELAUNCH: '1', [THREADS_ENV]: THREADS },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    child.stderr.resume();
    // Killed as soon as the first checkpoint is complete: the run is then past step 4 of 24.
    const poll = setInterval(() => {
      if (existsSync(join(run, 'checkpoints', 'step_4', 'trainer_state.json'))) child.kill('SIGKILL');
    }, 5);
    const signal = await new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_, exitSignal) => resolve(exitSignal)));
    clearInterval(poll);
    expect(signal).toBe('SIGKILL');
    expect(existsSync(join(run, 'summary.json'))).toBe(false);
    expect(existsSync(join(run, 'checkpoints', `step_${STEPS}`))).toBe(false);
    const state = JSON.parse(readFileSync(join(run, 'checkpoints', 'step_4', 'trainer_state.json'), 'utf8')) as { batches_consumed: number; source_position?: { batchesServed: number } };
    // The token stream's position is in the checkpoint, so the resumed run packs no batch twice.
    expect(state.source_position?.batchesServed).toBe(state.batches_consumed);

    const resumed = await runCaptured(['train', '--config', configFile, '--set', `run_dir=${killed}`, '--resume', run]);
    expect(resumed.code, resumed.stderr).toBe(0);
    for (const file of ['spd/components.safetensors', `checkpoints/step_${STEPS}/components.safetensors`, `checkpoints/step_${STEPS}/trainer_state.safetensors`]) {
      expect(bytes(run, file).equals(bytes(uninterrupted, file)), `${file} differs`).toBe(true);
    }
    // Adam's step count, the Rng of the masks and the source's position.
    expect(trainerState(run)).toEqual(trainerState(uninterrupted));
    expect(summaryValues(run)).toEqual(summaryValues(uninterrupted));
  }, 600_000);
});
