import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadTranscoder } from '@nnd/transcoders';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCaptured } from './cli-capture.test-support.js';
import { tinyLanguageModelPresent, writeRandomLanguageModel } from './language-model.test-support.js';
import { parseRunConfig } from './run-config.js';

/** `decomposition: transcoder` through the unchanged trainer, store, evaluation, run directory and report. */
let directory: string;
let configFile: string;
let runs: string;
let modelName: string;
const readJson = (path: string) => JSON.parse(readFileSync(path, 'utf8')) as Record<string, any>;

beforeAll(async () => {
  directory = await mkdtemp(join(tmpdir(), 'nnd-cli-transcoder-'));
  runs = join(directory, 'runs');
  modelName = tinyLanguageModelPresent() ? 'tiny-lm' : await writeRandomLanguageModel(join(directory, 'lm'));
  configFile = join(directory, 'config.yaml');
  await writeFile(
    configFile,
    stringify({
      decomposition: 'transcoder',
      encoder_type: 'topk',
      model_name: modelName,
      layer: 1,
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
      checkpoint_freq: 6,
      eval_tokens: 512,
      run_dir: runs,
      name: 'transcoder',
    }),
  );
});
afterAll(() => rm(directory, { recursive: true, force: true }));

describe('the run config of a transcoder', () => {
  it("reads the MLP input and writes the MLP output of the config's layer by default; the hooks can be given", () => {
    const config = parseRunConfig({ decomposition: 'transcoder', layer: 3 });
    expect(config).toMatchObject({ hook_point: 'blocks.3.ln2.hook_normalized', hook_point_out: 'blocks.3.hook_mlp_out', encoder_type: 'topk' });
    expect(config.name).toBe('gpt2-small_blocks.3.ln2.hook_normalized_12288_topk_transcoder_32_0.0003');
    expect(parseRunConfig({ decomposition: 'transcoder', hook_point: 'blocks.2.hook_resid_mid', hook_point_out: 'blocks.2.hook_mlp_out' })).toMatchObject({
      layer: 2,
      hook_point: 'blocks.2.hook_resid_mid',
      hook_point_out: 'blocks.2.hook_mlp_out',
    });
  });

  it('refuses what cannot be a transcoder run, naming the fix', () => {
    expect(() => parseRunConfig({ decomposition: 'transcoder', sae_type: 'topk' })).toThrow(/key 'sae_type' belongs to decomposition 'sae', but this run trains 'transcoder'/);
    expect(() => parseRunConfig({ skip: true })).toThrow(/key 'skip' belongs to decomposition 'transcoder', but this run trains 'sae'/);
    expect(() => parseRunConfig({ decomposition: 'transcoder', site_out: 'mlp_outt' })).toThrow(/'site_out' is "mlp_outt"; allowed: one of 'resid_pre'/);
    expect(() => parseRunConfig({ decomposition: 'transcoder', hook_point: 'blocks.2.ln2.hook_normalized', hook_point_out: 'blocks.3.hook_mlp_out' })).toThrow(
      /a transcoder reads and writes the same layer's MLP/,
    );
    expect(() => parseRunConfig({ decomposition: 'transcoder', hook_point: 'blocks.2.hook_mlp_out', hook_point_out: 'blocks.2.hook_mlp_out' })).toThrow(
      /hook_point and hook_point_out are both 'blocks.2.hook_mlp_out'/,
    );
  });
});

describe('nnd train and eval of a transcoder on the tiny model', () => {
  it('trains on the MLP input and output harvested together, evaluates with the MLP output replaced, and writes SAELens transcoder files', async () => {
    const { code, stdout, stderr } = await runCaptured(['train', '--config', configFile]);
    expect(stderr).toContain('step 6/6 (100.0%)');
    expect(stderr).toContain('[blocks.1.ln2.hook_normalized 128, blocks.1.hook_mlp_out 128]');
    expect(code).toBe(0);
    const run = join(runs, 'transcoder');
    expect(stdout).toContain(`Trained:       ${join(run, 'transcoder')}`);
    for (const line of ['L0:', 'Explained variance:', 'CE degradation:', 'Recovery:', 'KL divergence:', 'Dead features:']) expect(stdout).toContain(line);
    expect(readJson(join(run, 'config.json'))).toMatchObject({ decomposition: 'transcoder', encoder_type: 'topk', method: 'topk_transcoder', hook_point_out: 'blocks.1.hook_mlp_out' });

    const summary = readJson(join(run, 'summary.json'));
    expect(summary).toMatchObject({ status: 'completed', steps: 6 });
    // The baselines ablate the written hook (the MLP output), so the loss gap is the MLP's contribution, and FVU is 1 - EV.
    expect(summary['performance/zero_ablation_loss']).toBeGreaterThan(summary['performance/original_loss']);
    expect(summary.fvu).toBeCloseTo(1 - summary.explained_variance, 10);
    expect(summary.l0_norm).toBeLessThanOrEqual(8);
    expect(summary.feature_density_log10).toHaveLength(256);

    const loaded = await loadTranscoder(join(run, 'transcoder'));
    expect(loaded.transcoder.architecture).toBe('topk_transcoder');
    expect(loaded.transcoder.reads).toEqual([{ hook: 'blocks.1.ln2.hook_normalized', width: 128 }]);
    expect(loaded.transcoder.writes).toEqual([{ hook: 'blocks.1.hook_mlp_out', width: 128 }]);
    // SAELens 6.18 has no TopK transcoder; the folder names its own architecture in SAELens's layout.
    expect(readJson(join(run, 'transcoder', 'cfg.json'))).toMatchObject({
      architecture: 'topk_transcoder',
      d_in: 128,
      d_out: 128,
      d_sae: 256,
      metadata: { hook_name: 'blocks.1.ln2.hook_normalized', hook_name_out: 'blocks.1.hook_mlp_out' },
    });
    expect(existsSync(join(run, 'report.html'))).toBe(true);
    expect(readFileSync(join(run, 'report.html'), 'utf8')).toContain('topk_transcoder');

    const evaluated = await runCaptured(['eval', run, '--tokens', '256']);
    expect(evaluated.code).toBe(0);
    expect(evaluated.stdout).toContain('topk_transcoder, step 6');
    expect(readJson(join(run, 'checkpoints', 'step_6', 'evaluation.json'))).toMatchObject({ step: 6 });
  });
});
