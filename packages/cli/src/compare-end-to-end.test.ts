import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCaptured } from './cli-capture.test-support.js';
import { tinyLanguageModelPresent, writeRandomLanguageModel } from './language-model.test-support.js';

/** `nnd compare` over runs of three families, trained here for a few steps each on the tiny LM's layers 0 and 1. */
let directory: string;
let runs: string;
let modelName: string;
const readJson = (path: string) => JSON.parse(readFileSync(path, 'utf8')) as Record<string, any>;

const COMMON = {
  dataset_path: 'sotu',
  document_token_limit: 'none',
  keep_remainder: true,
  seq_len: 32,
  batch_size: 256,
  num_tokens: 256 * 3,
  model_batch_size: 8,
  num_batches_in_buffer: 2,
  perf_log_freq: 3,
  checkpoint_freq: 3,
  eval_tokens: 256,
};

async function train(name: string, config: Record<string, unknown>): Promise<string> {
  const file = join(directory, `${name}.yaml`);
  await writeFile(file, stringify({ ...COMMON, model_name: modelName, run_dir: runs, name, ...config }));
  const { code, stderr } = await runCaptured(['train', '--config', file]);
  if (code !== 0) throw new Error(`nnd train ${name} failed: ${stderr}`);
  return join(runs, name);
}

let trained: string[];

beforeAll(async () => {
  directory = await mkdtemp(join(tmpdir(), 'nnd-cli-compare-'));
  runs = join(directory, 'runs');
  modelName = tinyLanguageModelPresent() ? 'tiny-lm' : await writeRandomLanguageModel(join(directory, 'lm'));
  trained = [
    await train('tc-L0', { decomposition: 'transcoder', encoder_type: 'batchtopk', layer: 0, dict_size: 128, top_k: 4, top_k_aux: 32 }),
    await train('tc-L1', { decomposition: 'transcoder', encoder_type: 'batchtopk', layer: 1, dict_size: 128, top_k: 4, top_k_aux: 32 }),
    await train('clt', { decomposition: 'clt', encoder_type: 'topk', layers: [0, 1], dict_size: 64, top_k: 4, top_k_aux: 32 }),
    await train('molt', { decomposition: 'molt', layer: 0, rank_counts: { 8: 2, 4: 4 }, top_k: 2 }),
  ];
}, 600_000);
afterAll(() => rm(directory, { recursive: true, force: true }));

describe('nnd compare', () => {
  it('groups per-layer runs into one method, evaluates every family on the same tokens with the baselines, and writes the report and the model table', async () => {
    const out = join(directory, 'comparison');
    // The runs folder stands for the runs in it (in name order: clt, molt, tc-L0, tc-L1).
    const { code, stdout, stderr } = await runCaptured(['compare', runs, '--tokens', '256', '--top-k', '1,4', '--neuron-k', '8', '--out', out]);
    expect(stderr).toContain('Comparing 3 method(s) (4 decomposition(s)) on 256 tokens');
    expect(code).toBe(0);
    for (const file of ['report.html', 'model_comparison.csv', 'pareto_points.csv', 'comparison.json']) expect(stdout).toContain(join(out, file));

    const comparison = readJson(join(out, 'comparison.json'));
    expect(comparison.zeroAblationCe).toBeGreaterThan(comparison.originalCe);
    expect(comparison.layers).toEqual([0, 1]);
    const native = comparison.points.filter((point: any) => point.sweep === 'native');
    const labels = native.map((point: any) => `${point.method}|${point.quirks.join('+')}`);
    // The two transcoder runs are one method writing both MLPs; BatchTopK also the reference's way (batch top-k, no b_enc); the CLT also from clean inputs.
    expect(labels).toEqual([
      'clt topk_clt layers=0,1 top_k=4|',
      'clt topk_clt layers=0,1 top_k=4|clean_inputs',
      'molt gate=topk top_k=2 transforms=6|',
      'transcoder batchtopk_transcoder top_k=4|',
      'transcoder batchtopk_transcoder top_k=4|batch_top_k+no_b_enc',
      'neurons|',
    ]);
    const transcoders = native[3];
    expect(transcoders.streams).toBe(2);
    expect(transcoders.groups.map((group: any) => group.label)).toEqual(['blocks.0.hook_mlp_out', 'blocks.1.hook_mlp_out']);
    expect(transcoders.trainingTokens).toBe(2 * 256 * 3);
    // The reference's batch top-k keeps k per token on average.
    expect(native[4].groups[0].l0).toBeCloseTo(4, 1);
    for (const point of comparison.points) {
      expect(Number.isFinite(point.ce)).toBe(true);
      expect(point.ceDegradation).toBeCloseTo(point.ce - comparison.originalCe, 10);
    }
    // The top-k sweep: k = 1 and 4 for every method with per-token inference (all of them), the reference's evaluations beside where they differ.
    const swept = comparison.points.filter((point: any) => point.sweep === 'top_k' && point.quirks.length === 0);
    expect(swept.map((point: any) => `${point.method} ${point.k}`)).toEqual(expect.arrayContaining(['clt topk_clt layers=0,1 top_k=4 1', 'molt gate=topk top_k=2 transforms=6 4', 'neurons 512']));
    expect(swept.find((point: any) => point.method === 'neurons' && point.k === 512).ceDegradation).toBeCloseTo(0, 4);

    const csv = readFileSync(join(out, 'model_comparison.csv'), 'utf8').trim().split('\n');
    expect(csv[0].startsWith('method,label,ce,ce_degradation,mse,mean_l0,total_params,training_tokens,L0_dict_size,L0_alive,L0_dead_pct,L0_l0,L0_mean_act,L1_dict_size')).toBe(true);
    expect(csv).toHaveLength(native.length + 1);
    const html = readFileSync(join(out, 'report.html'), 'utf8');
    expect((html.match(/<svg/g) ?? []).length).toBe(4);
    expect(existsSync(join(out, 'pareto_points.csv'))).toBe(true);
  }, 600_000);

  it('says what is wrong with its arguments', async () => {
    expect((await runCaptured(['compare'])).stderr).toContain('nnd compare needs at least one run directory');
    expect((await runCaptured(['compare', trained[0], '--top-k', '1,x'])).stderr).toContain('--top-k is "1,x"');
    expect((await runCaptured(['compare', trained[0], '--reference', 'all'])).stderr).toContain('--reference is "all"; allowed: combined, separate or none');
  });
});
