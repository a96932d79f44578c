import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { runCaptured } from './cli-capture.test-support.js';
import { tinyShapedConfig, writeRandomLanguageModel } from './language-model.test-support.js';

let directory: string;
let configFile: string;
beforeAll(async () => {
  directory = await mkdtemp(join(tmpdir(), 'nnd-sigint-'));
  // A small random model: the test is about the interrupt, not about what is learnt.
  const model = await writeRandomLanguageModel(join(directory, 'lm'), tinyShapedConfig(2, 32));
  configFile = join(directory, 'config.yaml');
  await writeFile(configFile, stringify({
    model_name: model, name: 'interrupted', layer: 1, act_size: 32, dict_size: 64, top_k: 4, top_k_aux: 16, dataset_path: 'sotu',
    document_token_limit: 'none', keep_remainder: true, seq_len: 32, batch_size: 64, num_tokens: 64 * 400, model_batch_size: 4,
    num_batches_in_buffer: 2, perf_log_freq: 1000, checkpoint_freq: 1000, eval_tokens: 128, run_dir: join(directory, 'runs'),
  }));
});
afterAll(() => rm(directory, { recursive: true, force: true }));

it('Ctrl-C during training writes a checkpoint, closes the run and exits with 130; --resume finishes the run', async () => {
  const cli = fileURLToPath(new URL('./cli.ts', import.meta.url));
  const child = spawn(process.execPath, ['--conditions=@nnd/source', '--import', 'tsx', cli, 'train', '--config', configFile], {
    cwd: fileURLToPath(new URL('..', import.meta.url)),
    env: { PATH: process.env.PATH, WANDB_MODE: 'disabled' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  let interrupted = false;
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
    // The first progress line comes after the first step: training is under way.
    if (!interrupted && /step 1\/400/.test(stderr)) {
      interrupted = true;
      child.kill('SIGINT');
    }
  });
  const code = await new Promise<number | null>((resolve) => child.on('exit', (exitCode) => resolve(exitCode)));
  expect(interrupted).toBe(true);
  expect(code).toBe(130);
  expect(stderr).toContain('Interrupted: finishing the current step and saving a checkpoint');
  expect(stderr).toMatch(/Interrupted after \d+ steps; checkpoint written to .*step_\d+\. Run directory: .*interrupted\. Continue with the same command plus --resume/);
  expect(stderr).not.toMatch(/\n\s+at /);

  const run = join(directory, 'runs', 'interrupted');
  const [checkpoint] = readdirSync(join(run, 'checkpoints'));
  expect(checkpoint).toMatch(/^step_\d+$/);
  const summary = JSON.parse(readFileSync(join(run, 'summary.json'), 'utf8'));
  expect(summary).toMatchObject({ status: 'interrupted', checkpoint: join(run, 'checkpoints', checkpoint) });
  const stepsBefore = summary.steps as number;
  expect(stepsBefore).toBeLessThan(400);

  // What the message says: the same command plus --resume <the checkpoint it names> (with fewer tokens, so the test stays short).
  const named = /Continue with the same command plus --resume (\S+)\.\n/.exec(stderr)?.[1];
  expect(named).toBe(join(run, 'checkpoints', checkpoint));
  const resumed = await runCaptured(['train', '--config', configFile, '--set', 'num_tokens=' + 64 * (stepsBefore + 3), '--resume', named!]);
  expect(resumed.code).toBe(0);
  expect(JSON.parse(readFileSync(join(run, 'summary.json'), 'utf8'))).toMatchObject({ status: 'completed', steps: stepsBefore + 3 });
  expect(existsSync(join(run, 'checkpoints', `step_${stepsBefore + 3}`))).toBe(true);
});
