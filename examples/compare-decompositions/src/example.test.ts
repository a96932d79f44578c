import { mkdtemp, rm } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runExample, type ExampleScale } from './main.js';

/** The example at CI scale: the same configs and commands, on layers 0 and 1, k in {4, 8}, a few steps each. */
const CI_SCALE: ExampleScale = {
  layers: [0, 1],
  topK: [4, 8],
  sets: ['num_tokens=768', 'batch_size=256', 'seq_len=32', 'model_batch_size=8', 'num_batches_in_buffer=2', 'checkpoint_freq=3', 'eval_tokens=256'],
  configSets: {
    'transcoder.yaml': ['dict_size=128'],
    'clt.yaml': ['dict_size=64'],
    'molt.yaml': ['molt_n=1', 'top_k=2'],
    'spd.yaml': ['C=8', 'num_tokens=4', 'batch_size=2', 'faithfulness_warmup_steps=5', 'checkpoint_freq=2'],
  },
  compare: ['--tokens', '512', '--top-k', '1,8', '--neuron-k', '8'],
};

let directory: string;
beforeAll(async () => {
  directory = await mkdtemp(join(tmpdir(), 'nnd-example-compare-'));
});
afterAll(() => rm(directory, { recursive: true, force: true }));

describe('the compare-decompositions example at CI scale', () => {
  it('trains transcoders per layer and k, a CLT, a MOLT per layer and an SPD, and compares them as two transcoder methods, a CLT, a MOLT and an SPD method', async () => {
    let stdout = '';
    let stderr = '';
    const io = { stdout: (text: string) => void (stdout += text), stderr: (text: string) => void (stderr += text), progress: { write: () => true, isTTY: false }, env: { PATH: process.env.PATH } };
    const out = join(directory, 'comparison');
    await runExample(join(directory, 'runs'), out, CI_SCALE, io);
    expect(stderr).toContain('Comparing 5 method(s) (8 decomposition(s))');
    expect(stdout).toContain(join(out, 'report.html'));
    const comparison = JSON.parse(readFileSync(join(out, 'comparison.json'), 'utf8'));
    const native = comparison.points.filter((point: any) => point.sweep === 'native' && point.quirks.length === 0);
    expect(native.map((point: any) => point.method)).toEqual([
      'transcoder batchtopk_transcoder top_k=4',
      'transcoder batchtopk_transcoder top_k=8',
      'clt batchtopk_clt layers=0,1 top_k=16',
      'molt gate=topk top_k=2 transforms=31',
      expect.stringMatching(/^spd modules=mlp\.W_in@0-1,mlp\.W_out@0-1:8 /),
      expect.stringMatching(/^spd /),
      'neurons',
    ]);
    // SPD: its default (CI > 0.5, with the delta component) and its CI > 0 view; both MLP matrices of both layers.
    expect(native.filter((point: any) => point.family === 'spd').map((point: any) => point.variant ?? '')).toEqual(['', 'CI > 0']);
    expect(native.find((point: any) => point.family === 'spd').groups.map((group: any) => group.label)).toEqual(['blocks.0.mlp.W_in', 'blocks.0.mlp.W_out', 'blocks.1.mlp.W_in', 'blocks.1.mlp.W_out']);
    // Every method replaces both MLPs.
    for (const point of native) expect(point.streams).toBe(2);
    const csv = readFileSync(join(out, 'model_comparison.csv'), 'utf8').trim().split('\n');
    expect(csv.length).toBeGreaterThan(native.length);

    // Run again: the completed runs are kept, only the comparison is redone.
    stderr = '';
    await runExample(join(directory, 'runs'), out, CI_SCALE, io);
    expect(stderr).not.toContain('step ');
    expect(stderr).toContain('Comparing 5 method(s)');
  }, 600_000);
});
