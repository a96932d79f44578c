import { ConfigError } from '@nnd/core';
import { describe, expect, it } from 'vitest';
import { mergeConfigLayer, rawRunConfig } from './config-input.js';
import { parseSetOption } from './set-option.js';

describe('--set key=value', () => {
  it.each([
    ['lr=1e-4', ['lr', 1e-4]],
    ['num_tokens=1e9', ['num_tokens', 1e9]],
    ['top_k=16', ['top_k', 16]],
    ['input_unit_norm=false', ['input_unit_norm', false]],
    ['model_name=gpt2', ['model_name', 'gpt2']],
    ['dataset_path=NeelNanda/pile-10k', ['dataset_path', 'NeelNanda/pile-10k']],
    ['hook_point=blocks.8.hook_resid_pre', ['hook_point', 'blocks.8.hook_resid_pre']],
    ['sae_type=[topk, batchtopk]', ['sae_type', ['topk', 'batchtopk']]],
    ['activation_cache=null', ['activation_cache', null]],
    ["name='42'", ['name', '42']],
    ['run_dir=out/runs=1', ['run_dir', 'out/runs=1']],
    [' lr = 0.01 ', ['lr', 0.01]],
  ])('%s', (option, expected) => {
    expect(parseSetOption(option)).toEqual(expected);
  });

  it.each([
    ['lr', "has no '='"],
    ['=3', 'is not a config key'],
    ['top-k=3', 'is not a config key'],
    ['lr=', "gives 'lr' no value"],
    ['sae_type=[topk', 'is not valid YAML'],
  ])('rejects %j', (option, message) => {
    expect(() => parseSetOption(option)).toThrow(ConfigError);
    expect(() => parseSetOption(option)).toThrow(message);
  });

  it('applies the file, then flags, then each --set, later ones winning', async () => {
    const config = await rawRunConfig({ base: { lr: 1, top_k: 8 }, flags: { top_k: 16, model_name: undefined }, sets: ['lr=2', 'lr=3'] });
    expect(config).toEqual({ lr: 3, top_k: 16 });
  });

  it('lets a later hook_point replace an earlier layer and site, and the other way round', () => {
    expect(mergeConfigLayer({ layer: 2, site: 'resid_pre' }, { hook_point: 'blocks.8.hook_resid_pre' })).toEqual({ hook_point: 'blocks.8.hook_resid_pre' });
    expect(mergeConfigLayer({ hook_point: 'blocks.8.hook_resid_pre' }, { layer: 3 })).toEqual({ layer: 3 });
  });
});
