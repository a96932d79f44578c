import { ConfigError } from '@nnd/core';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expandGrid, readSweep } from './sweep-grid.js';

let directory: string;
beforeAll(async () => {
  directory = await mkdtemp(join(tmpdir(), 'nnd-sweep-'));
});
afterAll(() => rm(directory, { recursive: true, force: true }));

describe('expandGrid', () => {
  it('gives every combination, the first key varying slowest', () => {
    expect(expandGrid({ sae_type: ['topk', 'batchtopk'], top_k: [16, 32] })).toEqual([
      { sae_type: 'topk', top_k: 16 },
      { sae_type: 'topk', top_k: 32 },
      { sae_type: 'batchtopk', top_k: 16 },
      { sae_type: 'batchtopk', top_k: 32 },
    ]);
  });

  it('runs a list of grids one after another', () => {
    expect(expandGrid([{ top_k: [16, 32] }, { sae_type: ['vanilla'], l1_coeff: [0.1] }])).toEqual([{ top_k: 16 }, { top_k: 32 }, { sae_type: 'vanilla', l1_coeff: 0.1 }]);
  });

  it.each([
    [{ top_k: 16 }, "grid key 'top_k' is 16"],
    [{ top_k: [] }, "grid key 'top_k' is []"],
    [[], "'grid' is an empty list"],
    ['top_k', `'grid' is "top_k"`],
  ])('rejects %j', (grid, message) => {
    expect(() => expandGrid(grid)).toThrow(ConfigError);
    expect(() => expandGrid(grid)).toThrow(message);
  });
});

describe('readSweep', () => {
  it('reads a base config file relative to the sweep, applies --set under the grid, and validates every point', async () => {
    await writeFile(join(directory, 'base.yaml'), 'model_name: tiny-lm\nlayer: 2\nact_size: 128\ndict_size: 2048\n');
    await writeFile(join(directory, 'sweep.yaml'), 'base: base.yaml\nset: { lr: 0.01, top_k: 4 }\ngrid:\n  sae_type: [topk, batchtopk]\n  top_k: [16, 32]\n');
    const points = await readSweep(join(directory, 'sweep.yaml'), ['top_k=8', 'lr=1e-3']);
    expect(points.map((point) => point.config.name)).toEqual([
      'tiny-lm_blocks.2.hook_resid_pre_2048_topk_16_0.001',
      'tiny-lm_blocks.2.hook_resid_pre_2048_topk_32_0.001',
      'tiny-lm_blocks.2.hook_resid_pre_2048_batchtopk_16_0.001',
      'tiny-lm_blocks.2.hook_resid_pre_2048_batchtopk_32_0.001',
    ]);
  });

  it('appends the values that the reference name leaves out when runs would share a directory', async () => {
    await writeFile(join(directory, 'l1.yaml'), 'base: { sae_type: jumprelu }\ngrid:\n  l1_coeff: [0.004, 0.0008]\n');
    const points = await readSweep(join(directory, 'l1.yaml'));
    expect(points.map((point) => point.config.name)).toEqual([
      'gpt2-small_blocks.8.hook_resid_pre_12288_jumprelu_32_0.0003_l1_coeff_0.004',
      'gpt2-small_blocks.8.hook_resid_pre_12288_jumprelu_32_0.0003_l1_coeff_0.0008',
    ]);
  });

  it('names the grid point whose config is invalid', async () => {
    await writeFile(join(directory, 'bad.json'), JSON.stringify({ grid: { top_k: [16, 0] } }));
    await expect(readSweep(join(directory, 'bad.json'))).rejects.toThrow(/Sweep run 2 \({"top_k":0}\): Invalid config: 'top_k' is 0/);
    await writeFile(join(directory, 'extra.yaml'), 'grid: { top_k: [16] }\nruns: 3\n');
    await expect(readSweep(join(directory, 'extra.yaml'))).rejects.toThrow("unknown key(s) 'runs'; allowed: base, set, grid");
  });
});
