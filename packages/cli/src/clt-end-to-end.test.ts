import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadClt } from '@nnd/clt';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCaptured } from './cli-capture.test-support.js';
import { tinyLanguageModelPresent, writeRandomLanguageModel } from './language-model.test-support.js';
import { parseRunConfig } from './run-config.js';

/** `decomposition: clt` through the unchanged trainer, multi-hook store, evaluation (both splicing modes), run directory and report. */
let directory: string;
let configFile: string;
let runs: string;
const readJson = (path: string) => JSON.parse(readFileSync(path, 'utf8')) as Record<string, any>;

beforeAll(async () => {
  directory = await mkdtemp(join(tmpdir(), 'nnd-cli-clt-'));
  runs = join(directory, 'runs');
  const modelName = tinyLanguageModelPresent() ? 'tiny-lm' : await writeRandomLanguageModel(join(directory, 'lm'));
  configFile = join(directory, 'config.yaml');
  await writeFile(
    configFile,
    stringify({
      decomposition: 'clt',
      encoder_type: 'topk',
      layers: [0, 1],
      model_name: modelName,
      dict_size: 128,
      top_k: 8,
      top_k_aux: 32,
      dataset_path: 'sotu',
      document_token_limit: 'none',
      keep_remainder: true,
      seq_len: 32,
      batch_size: 256,
      num_tokens: 256 * 4,
      model_batch_size: 8,
      num_batches_in_buffer: 2,
      perf_log_freq: 2,
      checkpoint_freq: 4,
      eval_tokens: 512,
      run_dir: runs,
      name: 'clt',
    }),
  );
});
afterAll(() => rm(directory, { recursive: true, force: true }));

describe('nnd train and eval of a cross-layer transcoder on the tiny model', () => {
  it('is named by its layers, and refuses layers a CLT cannot have, naming the fix', () => {
    expect(parseRunConfig({ decomposition: 'clt', model_name: 'tiny-lm', layers: [0, 1, 2, 3], dict_size: 1024, top_k: 16 }).name).toBe('tiny-lm_layers_0-1-2-3_1024_topk_clt_16_0.0003');
    expect(() => parseRunConfig({ decomposition: 'clt', layers: [] })).toThrow(/'layers' is \[\]; allowed: a list of block indices/);
    expect(() => parseRunConfig({ decomposition: 'clt', encoder_type: 'topk', variant: 'anthropic', dict_size: 64, input_size: 8, output_size: 8 })).toThrow(
      /variant 'anthropic' does not support encoder_type 'topk'/,
    );
  });

  it('trains every layer in one program on streams harvested together, evaluates as a replacement, and writes circuit-tracer files', async () => {
    const { code, stdout, stderr } = await runCaptured(['train', '--config', configFile]);
    expect(stderr).toContain('step 4/4 (100.0%)');
    expect(stderr).toContain('[blocks.0.ln2.hook_normalized 128, blocks.1.ln2.hook_normalized 128, blocks.0.hook_mlp_out 128, blocks.1.hook_mlp_out 128]');
    expect(code).toBe(0);
    const run = join(runs, 'clt');
    expect(stdout).toContain(`Trained:       ${join(run, 'clt')}`);
    const metrics = readFileSync(join(run, 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    // Per-layer metrics sit beside the totals.
    expect(metrics.find((row) => 'loss' in row)).toHaveProperty(['l2_loss/layer_1']);
    const summary = readJson(join(run, 'summary.json'));
    expect(summary).toMatchObject({ status: 'completed', steps: 4 });
    expect(summary.feature_density_log10).toHaveLength(2 * 128);
    // Per-layer reconstruction of the evaluation, beside the totals.
    expect(Object.keys(summary.per_hook)).toEqual(['blocks.0.hook_mlp_out', 'blocks.1.hook_mlp_out']);
    expect(typeof summary.per_hook['blocks.1.hook_mlp_out'].explained_variance).toBe('number');
    expect(summary['performance/zero_ablation_loss']).toBeGreaterThan(summary['performance/original_loss']);

    const loaded = await loadClt(join(run, 'clt'));
    expect(loaded.clt.writes.map(({ hook }) => hook)).toEqual(['blocks.0.hook_mlp_out', 'blocks.1.hook_mlp_out']);

    // The reference's evaluation (all outputs from the clean run) is a labelled option, and gives another loss.
    const replacement = await runCaptured(['eval', run, '--tokens', '256']);
    const clean = await runCaptured(['eval', run, '--tokens', '256', '--set', 'spliced_inputs=clean_inputs']);
    expect(replacement.code).toBe(0);
    expect(clean.code).toBe(0);
    const loss = (text: string) => Number(/with the decomposition spliced in ([\d.]+)/.exec(text)?.[1]);
    expect(loss(replacement.stdout)).toBeGreaterThan(0);
    expect(loss(clean.stdout)).not.toBe(loss(replacement.stdout));
  });
});
