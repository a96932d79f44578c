import { cpSync, existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { readRunDirectory } from '@nnd/logging';
import { loadSae } from '@nnd/sae';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { runCaptured } from './cli-capture.test-support.js';
import { tinyLanguageModelPresent, writeRandomLanguageModel } from './language-model.test-support.js';

/**
 * The whole CLI on the LM that ships with nnd (a random model of its shape
 * until packages/models/tiny-lm is there): a run small enough for seconds.
 */
let directory: string;
let configFile: string;
let runs: string;
const readJson = (path: string) => JSON.parse(readFileSync(path, 'utf8')) as Record<string, any>;

beforeAll(async () => {
  directory = await mkdtemp(join(tmpdir(), 'nnd-cli-'));
  runs = join(directory, 'runs');
  const modelName = tinyLanguageModelPresent() ? 'tiny-lm' : await writeRandomLanguageModel(join(directory, 'lm'));
  configFile = join(directory, 'config.yaml');
  await writeFile(
    configFile,
    stringify({
      model_name: modelName,
      layer: 2,
      act_size: 128,
      dict_size: 256,
      top_k: 8,
      top_k_aux: 64,
      dataset_path: 'sotu',
      document_token_limit: 'none',
      keep_remainder: true,
      seq_len: 32,
      batch_size: 256,
      num_tokens: 256 * 6,
      model_batch_size: 8,
      num_batches_in_buffer: 2,
      perf_log_freq: 3,
      checkpoint_freq: 4,
      eval_tokens: 512,
      run_dir: runs,
    }),
  );
});
afterAll(() => rm(directory, { recursive: true, force: true }));

/** The reference's run name; its directory replaces the '/' of a model path with '__'. */
const runName = (type: string, k = 8) => `${tinyLanguageModelPresent() ? 'tiny-lm' : join(directory, 'lm')}_blocks.2.hook_resid_pre_256_${type}_${k}_0.0003`;
const runDirectory = (type: string, k = 8) => join(runs, runName(type, k).replaceAll('/', '__'));

describe('nnd train, eval and report on the tiny model', () => {
  it('train writes a run directory with config, metrics, checkpoints, an evaluated summary and a report, and prints the summary', async () => {
    const { code, stdout, stderr } = await runCaptured(['train', '--config', configFile]);
    expect(stderr).toContain('step 6/6 (100.0%)');
    expect(code).toBe(0);
    const run = runDirectory('topk');
    expect(stdout).toContain(`Run directory: ${run}`);
    expect(stdout).toContain(`Report:        ${join(run, 'report.html')}`);
    for (const line of ['L0:', 'Explained variance:', 'CE degradation:', 'Recovery:', 'KL divergence:', 'Dead features:']) expect(stdout).toContain(line);

    expect(readJson(join(run, 'config.json'))).toMatchObject({ sae_type: 'topk', hook_point: 'blocks.2.hook_resid_pre', dict_size: 256, checkpoint_dir: 'checkpoints' });
    const rows = readFileSync(join(run, 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    expect(rows.filter((row) => 'loss' in row).map((row) => row.step)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(rows.filter((row) => 'performance/ce_degradation' in row).map((row) => row.step)).toEqual([0, 3]);
    expect(readdirSync(join(run, 'checkpoints')).sort()).toEqual(['step_4', 'step_6']);
    expect(existsSync(join(run, 'checkpoints', 'step_6', 'sae_weights.safetensors'))).toBe(true);
    const summary = readJson(join(run, 'summary.json'));
    expect(summary).toMatchObject({ status: 'completed', steps: 6, checkpoint: join(run, 'checkpoints', 'step_6') });
    for (const metric of [
      'explained_variance',
      'normalized_mse',
      'l0_norm',
      'dead_fraction',
      'dense_fraction',
      'performance/ce_degradation',
      'performance/recovery_from_zero',
      'performance/recovery_from_mean',
    ]) {
      expect(typeof summary[metric]).toBe('number');
    }
    expect(summary.feature_density_log10).toHaveLength(256);
    expect(summary.l0_norm).toBeLessThanOrEqual(8);
    expect(readFileSync(join(run, 'report.html'), 'utf8')).toContain(runName('topk'));
    // The final SAE loads with @nnd/sae (and SAELens), with the model and hook it belongs to.
    const loaded = await loadSae(join(run, 'sae'));
    expect(loaded.sae.architecture).toBe('topk');
    expect(loaded.metadata).toMatchObject({ hook_name: 'blocks.2.hook_resid_pre' });
    // @nnd/logging reads the trainer's step_N checkpoints, and each one is an SAE folder that loadSae reads.
    expect(readRunDirectory(run).checkpointSteps).toEqual([4, 6]);
    expect(readJson(join(run, 'checkpoints', 'step_4', 'cfg.json'))).toMatchObject({ architecture: 'topk', d_in: 128, d_sae: 256, k: 8 });
    const checkpoint = await loadSae(join(run, 'checkpoints', 'step_6'));
    expect(checkpoint.sae.config).toEqual(loaded.sae.config);
    expect(checkpoint.metadata).toMatchObject({ hook_name: 'blocks.2.hook_resid_pre', dataset_path: 'sotu' });
    expect(checkpoint.params.W_dec.data).toEqual(loaded.params.W_dec.data);
  });

  it("eval evaluates the run's newest checkpoint and writes evaluation.json", async () => {
    const run = runDirectory('topk');
    const { code, stdout } = await runCaptured(['eval', run, '--tokens', '256']);
    expect(code).toBe(0);
    expect(stdout).toContain('Explained variance:');
    const evaluation = readJson(join(run, 'checkpoints', 'step_6', 'evaluation.json'));
    expect(evaluation).toMatchObject({ step: 6, evaluated_tokens: 256 });
    expect(evaluation.evaluation_start).toEqual(readJson(join(run, 'summary.json')).evaluation_start);
  });

  it('--resume with a lower lr continues the same run directory, with a warning line (the advice after a divergence)', async () => {
    const resumedRuns = join(directory, 'resumed-runs');
    const name = basename(runDirectory('topk'));
    cpSync(runDirectory('topk'), join(resumedRuns, name), { recursive: true });
    const run = join(resumedRuns, name);
    const { code, stderr } = await runCaptured(['train', '--config', configFile, '--set', `run_dir=${resumedRuns}`, '--set', 'lr=0.0001', '--set', `num_tokens=${256 * 8}`, '--resume', run]);
    expect(stderr).toContain('resuming with lr 0.0001 (the checkpoint trained with 0.0003)');
    expect(code).toBe(0);
    // No new directory named for the new lr: the run goes on where it was.
    expect(readdirSync(resumedRuns)).toEqual([name]);
    expect(readJson(join(run, 'summary.json'))).toMatchObject({ status: 'completed', steps: 8 });
    expect(readJson(join(run, 'checkpoints', 'step_8', 'trainer_state.json')).members[0].train_config).toMatchObject({ lr: 0.0001 });
    const rows = readFileSync(join(run, 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    expect(rows.filter((row) => 'loss' in row).map((row) => row.step)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
  });

  it('report writes one HTML file of the runs and prints their table', async () => {
    const out = join(directory, 'report.html');
    const { code, stdout } = await runCaptured(['report', runs, '--out', out, '--title', 'tiny']);
    expect(code).toBe(0);
    expect(stdout).toContain(`| ${runName('topk')} | topk | 256 | 8 |`);
    expect(readFileSync(out, 'utf8')).toContain('<title>tiny</title>');
  });

  it('--sae topk,batchtopk trains both on one stream, each in its own run directory', async () => {
    const { code, stdout } = await runCaptured(['train', '--config', configFile, '--sae', 'topk,batchtopk', '--set', 'top_k=4', '--set', 'perf_log_freq=100']);
    expect(code).toBe(0);
    const [first, second] = [runDirectory('topk', 4), runDirectory('batchtopk', 4)];
    expect(stdout).toContain(`Run directory: ${second}`);
    expect(readJson(join(second, 'config.json'))).toMatchObject({ sae_type: 'batchtopk', checkpoint_dir: join('..', runName('topk', 4).replaceAll('/', '__'), 'checkpoints'), checkpoint_member: 1 });
    expect(readdirSync(join(first, 'checkpoints', 'step_6')).sort()).toEqual(['sae_0', 'sae_1', 'trainer_state.json', 'trainer_state.safetensors']);
    expect(readJson(join(second, 'summary.json')).status).toBe('completed');
    // The second member's run directory finds the shared checkpoints through its config's checkpoint_dir.
    expect(readRunDirectory(second).checkpointSteps).toEqual([4, 6]);
    expect((await loadSae(join(first, 'checkpoints', 'step_6', 'sae_1'))).sae.architecture).toBe('batchtopk');
    const { code: evalCode, stdout: evalOut } = await runCaptured(['eval', second, '--tokens', '128']);
    expect(evalCode).toBe(0);
    expect(evalOut).toContain('(batchtopk, step 6)');
  });

  it('sweep trains a 2-point grid, one run directory each, reports them, and skips them when run again', async () => {
    const sweepFile = join(directory, 'sweep.yaml');
    await writeFile(sweepFile, stringify({ base: 'config.yaml', grid: { top_k: [2, 3] } }));
    const out = join(directory, 'sweep.html');
    const first = await runCaptured(['sweep', sweepFile, '--set', 'num_tokens=512', '--out', out]);
    expect(first.code).toBe(0);
    for (const k of [2, 3]) expect(readJson(join(runDirectory('topk', k), 'summary.json'))).toMatchObject({ status: 'completed', steps: 2 });
    expect(first.stdout).toContain('Report (2 runs)');
    expect(existsSync(out)).toBe(true);
    const second = await runCaptured(['sweep', sweepFile, '--set', 'num_tokens=512', '--out', out]);
    expect(second.code).toBe(0);
    expect(second.stderr).toContain('Sweep run 2/2: {"top_k":3}: already completed, skipped.');
  });

  it('cache harvests activations that a run then trains from', async () => {
    const cache = join(directory, 'cache');
    const harvest = await runCaptured(['cache', '--config', configFile, '--out', cache, '--tokens', '2048']);
    expect(harvest.code).toBe(0);
    expect(harvest.stdout).toContain('Rows: 2048 of blocks.2.hook_resid_pre');
    const { code } = await runCaptured(['train', '--config', configFile, '--set', `activation_cache=${cache}`, '--set', 'name=from-cache', '--set', 'num_tokens=512']);
    expect(code).toBe(0);
    expect(readJson(join(runs, 'from-cache', 'summary.json')).steps).toBe(2);
  });
});

it('an interrupted cache says to run the same command again, and doing so completes the cache with the bits of an uninterrupted one', async () => {
  const command = (out: string) => ['cache', '--config', configFile, '--out', out, '--tokens', String(4096 * 2)];
  // Interrupted once its first shard of 4096 rows is written.
  const controller = new AbortController();
  let stderr = '';
  const interrupted = await runCaptured(command(join(directory, 'cache-interrupted')), {
    signal: controller.signal,
    stderr: (text) => {
      stderr += text;
      if (/: 4096 \/ 8192 rows/.test(stderr)) controller.abort();
    },
  });
  expect(interrupted.code).toBe(130);
  expect(stderr).toMatch(/Interrupted: 4096 rows in 1 shards are in .*; run the same command again to continue\./);

  const again = await runCaptured(command(join(directory, 'cache-interrupted')));
  expect(again.code).toBe(0);
  expect(again.stdout).toContain('Rows: 8192 of blocks.2.hook_resid_pre (2 shards)');
  const whole = await runCaptured(command(join(directory, 'cache-whole')));
  expect(whole.code).toBe(0);
  const shards = readdirSync(join(directory, 'cache-whole'))
    .filter((file) => file.endsWith('.safetensors'))
    .sort();
  expect(shards).toHaveLength(2);
  expect(
    readdirSync(join(directory, 'cache-interrupted'))
      .filter((file) => file.endsWith('.safetensors'))
      .sort(),
  ).toEqual(shards);
  for (const shard of shards) {
    expect(readFileSync(join(directory, 'cache-interrupted', shard)).equals(readFileSync(join(directory, 'cache-whole', shard))), shard).toBe(true);
  }
});

it('backend tfjs trains the same job on TensorFlow.js', async () => {
  const { code, stdout } = await runCaptured(['train', '--config', configFile, '--set', 'backend=tfjs', '--set', 'name=on-tfjs', '--set', 'num_tokens=512', '--set', 'perf_log_freq=100']);
  expect(code).toBe(0);
  expect(stdout).toContain('Explained variance:');
  expect(readJson(join(runs, 'on-tfjs', 'summary.json'))).toMatchObject({ status: 'completed', steps: 2 });
});

describe('user errors exit 1 with the message only', () => {
  it('an invalid config names the key, the value and what is allowed', async () => {
    const { code, stderr } = await runCaptured(['train', '--config', configFile, '--set', 'sae_type=topkk', '--set', 'lr=-1']);
    expect(code).toBe(1);
    expect(stderr).toBe(
      `nnd: Invalid config: 'lr' is -1; allowed: a number > 0; 'sae_type' is "topkk"; allowed: one of 'vanilla', 'topk', 'batchtopk', 'jumprelu', or a list of them (trained together on one activation stream).\n`,
    );
  });

  it("an act_size that is not the hook's width says which one is", async () => {
    const { code, stderr } = await runCaptured(['train', '--config', configFile, '--set', 'act_size=768']);
    expect(code).toBe(1);
    expect(stderr).toContain("'act_size' is 768; allowed: 128, the width of blocks.2.hook_resid_pre");
  });

  it('a missing config file and a bad YAML file are named', async () => {
    expect((await runCaptured(['train', '--config', join(directory, 'missing.yaml')])).stderr).toContain('Cannot read the config file');
    await writeFile(join(directory, 'broken.yaml'), 'lr: [1\n');
    expect((await runCaptured(['train', '--config', join(directory, 'broken.yaml')])).stderr).toContain('is not valid YAML');
  });

  it("the gpt2-small example fails offline with the models package's error", async () => {
    vi.stubEnv('NND_CACHE_DIR', join(directory, 'hub-cache'));
    try {
      const example = new URL('../../../examples/gpt2-small/config.yaml', import.meta.url).pathname;
      const { code, stderr } = await runCaptured(['train', '--config', example], { env: { HF_ENDPOINT: 'http://127.0.0.1:1' } });
      expect(code).toBe(1);
      expect(stderr).toMatch(/\nnnd: Model 'gpt2' is not in the local cache .* could not be fetched from http:\/\/127.0.0.1:1/);
      expect(stderr).not.toMatch(/\n\s+at /);
    } finally {
      vi.unstubAllEnvs();
    }
  });
});
