import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { paretoAxes, type ComparisonPointData } from '@nnd/results';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCaptured } from './cli-capture.test-support.js';
import { tinyLanguageModelPresent, writeRandomLanguageModel } from './language-model.test-support.js';

/** `nnd compare` over an SPD run (trained here for two steps on the MLP matrices of layers 0 and 1), beside a transcoder. */
let directory: string;
let runs: string;
let modelName: string;
const C = 16;

beforeAll(async () => {
  directory = await mkdtemp(join(tmpdir(), 'nnd-cli-spd-compare-'));
  runs = join(directory, 'runs');
  modelName = tinyLanguageModelPresent() ? 'tiny-lm' : await writeRandomLanguageModel(join(directory, 'lm'));
  const common = { model_name: modelName, dataset_path: 'sotu', document_token_limit: 'none', keep_remainder: true, seq_len: 32, run_dir: runs, eval_tokens: 64, model_batch_size: 4 };
  const configs = {
    spd: { ...common, decomposition: 'spd', spd_modules: 'blocks.0.mlp.W_in,blocks.0.mlp.W_out,blocks.1.mlp.W_in,blocks.1.mlp.W_out', C, batch_size: 2, num_tokens: 4, checkpoint_freq: 2 },
    'tc-L0': { ...common, decomposition: 'transcoder', encoder_type: 'topk', layer: 0, dict_size: 64, top_k: 4, batch_size: 128, num_tokens: 256, num_batches_in_buffer: 2, checkpoint_freq: 2 },
  };
  for (const [name, config] of Object.entries(configs)) {
    const file = join(directory, `${name}.yaml`);
    await writeFile(file, stringify({ ...config, name }));
    const { code, stderr } = await runCaptured(['train', '--config', file]);
    if (code !== 0) throw new Error(`nnd train ${name} failed: ${stderr}`);
  }
}, 600_000);
afterAll(() => rm(directory, { recursive: true, force: true }));

describe('nnd compare with an SPD run', () => {
  it("splices SPD in as a replacement of the MLPs it decomposes, with its CI > 0 and no-delta evaluations labelled, and section 6's axes", async () => {
    const out = join(directory, 'comparison');
    const { code, stderr } = await runCaptured(['compare', runs, '--tokens', '64', '--top-k', `1,${C}`, '--neuron-k', '8', '--out', out]);
    expect(stderr).toContain('Comparing 2 method(s) (2 decomposition(s)) on 64 tokens');
    expect(code).toBe(0);
    const comparison = JSON.parse(readFileSync(join(out, 'comparison.json'), 'utf8')) as { originalCe: number; layers: number[]; points: ComparisonPointData[] };
    expect(comparison.layers).toEqual([0, 1]);
    const spd = comparison.points.filter((point) => point.family === 'spd');
    const native = spd.filter((point) => point.sweep === 'native');
    expect(native.map((point) => [point.variant ?? '', ...point.quirks].join('|'))).toEqual(['', 'CI > 0', '|no_delta', 'CI > 0|no_delta']);
    // The tiny LM: d_model 128, d_mlp 512 (or the random stand-in's widths).
    for (const point of native) {
      expect(point.streams).toBe(2);
      const [inWidth, hidden] = [point.groups[0].activeParameters!, point.groups[1].activeParameters!];
      expect(inWidth).toBe(hidden);
      // Section 6 by hand: the mean of the four matrices' L0, their sum over n = 2 MLPs, Σ m (d_in + d_out).
      const l0 = point.groups.map((group) => group.l0);
      const axes = paretoAxes(point);
      expect(axes.perComponent).toBeCloseTo((l0[0] + l0[1] + l0[2] + l0[3]) / 4, 10);
      expect(axes.perMlp).toBeCloseTo((l0[0] + l0[1] + l0[2] + l0[3]) / 2, 10);
      expect(axes.totalActiveParams).toBeCloseTo((l0[0] + l0[1] + l0[2] + l0[3]) * inWidth, 6);
    }
    // Every component on, with the delta component: the original model.
    const whole = spd.find((point) => point.sweep === 'top_k' && point.k === C && point.quirks.length === 0)!;
    expect(Math.abs(whole.ceDegradation)).toBeLessThan(1e-4);
    expect(whole.groups.map((group) => group.l0)).toEqual([C, C, C, C]);
    const csv = readFileSync(join(out, 'model_comparison.csv'), 'utf8');
    expect(csv).toContain('(CI > 0; reference eval: no delta)');
    // The Pareto legend names the families present, not every family nnd knows.
    const html = readFileSync(join(out, 'report.html'), 'utf8');
    expect(html).toContain('>spd<');
    expect(html).not.toContain('>molt<');
  }, 600_000);
});
