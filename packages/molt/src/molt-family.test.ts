import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkDecomposition, hostTensor, Rng, type HostTensor } from '@nnd/core';
import { afterAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { MOLT_WEIGHTS_FILE, loadMolt } from './molt-files.js';
import { moltFamily } from './molt-family.js';
import type { Molt } from './molt.js';

const folders: string[] = [];
afterAll(() => Promise.all(folders.map((folder) => rm(folder, { recursive: true, force: true }))));

/** A run config as the CLI parses it: the driver's keys with this family's defaults, hooks derived from site, site_out and layer. */
function run(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const defaults = z.object(moltFamily.configShape as z.ZodRawShape).parse({});
  return {
    model_name: 'tiny-lm',
    layer: 1,
    num_tokens: 40_960,
    batch_size: 512,
    seed: 49,
    n_batches_to_dead: 5,
    ...defaults,
    hook_point: 'blocks.1.ln2.hook_normalized',
    hook_point_out: 'blocks.1.hook_mlp_out',
    ...overrides,
  };
}

describe('moltFamily', () => {
  it('defaults the sites to ln2 -> mlp_out, and every key it adds has a default or says it is read from the model', () => {
    const defaults = z.object(moltFamily.configShape as z.ZodRawShape).parse({});
    expect(defaults).toMatchObject({ site: 'ln2', site_out: 'mlp_out', gate: 'topk', top_k: 16, lambda_warmup_fraction: 0.1, uv_init: 'scaled_normal' });
    for (const [key, schema] of Object.entries(moltFamily.configShape)) expect((schema as z.ZodType).description, key).toBeTruthy();
  });

  it('builds one MOLT from a run config: widths from the model, scaled rank_counts, the warm-up in steps', () => {
    const width = (hook: string) => ({ 'blocks.1.ln2.hook_normalized': 128, 'blocks.1.hook_mlp_out': 128 })[hook]!;
    const [member] = moltFamily.members(run({ gate: 'jumprelu', lambda: 0.01, molt_n: 2 }), width);
    expect(member.config).toMatchObject({
      d_in: 128,
      d_out: 128,
      rank_counts: { 64: 2, 32: 4, 16: 8, 8: 16, 4: 32 },
      gate: 'jumprelu',
      lambda: 0.01,
      hook_point: 'blocks.1.ln2.hook_normalized',
      hook_point_out: 'blocks.1.hook_mlp_out',
      lambda_warmup_steps: 8,
    });
    const molt = moltFamily.create(member.config) as Molt;
    checkDecomposition(molt, 'test');
    expect(molt.reads).toEqual([{ hook: 'blocks.1.ln2.hook_normalized', width: 128 }]);
    expect(molt.writes).toEqual([{ hook: 'blocks.1.hook_mlp_out', width: 128 }]);
    expect(molt.transforms).toBe(62);
    // Before a model is loaded the widths are unknown, and members says so by leaving them out.
    expect(moltFamily.members(run())[0].config.d_in).toBeUndefined();
    expect(() => moltFamily.members(run({ d_in: 64 }), width)).toThrow(/'d_in' is 64; allowed: 128, the width of blocks.1.ln2.hook_normalized/);
  });

  it('saves W_E, b_E, U.{rank}, V.{rank}, b_D with a config recording rank_counts and hooks, and loads them back', async () => {
    const [member] = moltFamily.members(run({ rank_counts: { 4: 1, 2: 2 }, gate: 'jumprelu', lambda: 0.1 }), () => 8);
    const molt = moltFamily.create(member.config) as Molt;
    const params = molt.initialParams(new Rng(3));
    const state: Record<string, HostTensor> = { ...molt.initialState(), steps: hostTensor('float32', [], [7]) };
    const folder = await mkdtemp(join(tmpdir(), 'nnd-molt-'));
    folders.push(folder);
    await moltFamily.save(folder, molt, params, state, { model_name: 'tiny-lm' });
    const loaded = await moltFamily.load(folder);
    expect(loaded.metadata).toEqual({ model_name: 'tiny-lm' });
    expect(loaded.decomposition.config).toEqual(molt.config);
    expect((loaded.decomposition.config as Molt['config']).rank_counts).toEqual({ 4: 1, 2: 2 });
    expect(loaded.decomposition.reads).toEqual(molt.reads);
    expect(Object.keys(loaded.params).sort()).toEqual(['U.2', 'U.4', 'V.2', 'V.4', 'W_E', 'b_D', 'b_E', 'log_threshold']);
    for (const [name, tensor] of Object.entries(params)) expect(loaded.params[name], name).toEqual(tensor);
    expect(loaded.state.steps.data).toEqual(Float32Array.from([7]));

    // A weights file that does not match its config is refused with both shapes named.
    const other = await mkdtemp(join(tmpdir(), 'nnd-molt-'));
    folders.push(other);
    await moltFamily.save(other, molt, params, state, {});
    const { readFile } = await import('node:fs/promises');
    const config = JSON.parse(await readFile(join(other, 'cfg.json'), 'utf8'));
    await writeFile(join(other, 'cfg.json'), JSON.stringify({ ...config, rank_counts: { 4: 2, 2: 2 } }));
    await expect(loadMolt(other)).rejects.toThrow(new RegExp(`'W_E' in ${MOLT_WEIGHTS_FILE} has shape \\[8, 3\\], but cfg.json implies \\[8, 4\\]`));
  });
});
