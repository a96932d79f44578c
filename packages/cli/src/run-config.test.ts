import { ConfigError } from '@nnd/core';
import { wandbRequested } from '@nnd/logging';
import { describe, expect, it } from 'vitest';
import { defaultRunConfig, memberConfigs, parseRunConfig } from './run-config.js';

describe('the run config', () => {
  it('defaults to the reference (bartbussmann/BatchTopK get_default_cfg as main.py sets it, input_unit_norm as nn_decompositions) and derives hook_point and name', () => {
    const defaults = defaultRunConfig();
    expect(defaults).toMatchObject({
      seed: 49,
      batch_size: 4096,
      lr: 3e-4,
      num_tokens: 1e9,
      l1_coeff: 0,
      beta1: 0.9,
      beta2: 0.99,
      max_grad_norm: 100000,
      seq_len: 128,
      dtype: 'float32',
      model_name: 'gpt2-small',
      site: 'resid_pre',
      layer: 8,
      dict_size: 12288,
      decomposition: 'sae',
      model_batch_size: 512,
      num_batches_in_buffer: 10,
      dataset_path: 'Skylion007/openwebtext',
      input_unit_norm: false,
      perf_log_freq: 1000,
      sae_type: 'topk',
      checkpoint_freq: 10000,
      n_batches_to_dead: 5,
      top_k: 32,
      top_k_aux: 512,
      aux_penalty: 1 / 32,
      bandwidth: 0.001,
      device: 'cpu',
      backend: 'onnx',
      run_dir: 'runs/',
      hook_point: 'blocks.8.hook_resid_pre',
      name: 'gpt2-small_blocks.8.hook_resid_pre_12288_topk_32_0.0003',
    });
    // The hook's width comes from the model unless the config states it.
    expect(defaults.act_size).toBeUndefined();
    // W&B is on only when asked, so the project has no default here: a stated wandb_project turns it on (createLogger's rule).
    expect(defaults.wandb_project).toBeUndefined();
    expect(defaults.wandb).toBeUndefined();
    expect(wandbRequested(defaults, {})).toBe(false);
    expect(wandbRequested(defaults, { WANDB_API_KEY: 'k' })).toBe(true);
    expect(wandbRequested(parseRunConfig({ wandb_project: 'mine' }), {})).toBe(true);
    expect(wandbRequested(parseRunConfig({ wandb_project: 'mine', wandb: false }), { WANDB_API_KEY: 'k' })).toBe(false);
  });

  it('derives the hook as TransformerLens get_act_name does', () => {
    expect(parseRunConfig({ site: 'mlp_out', layer: 3 }).hook_point).toBe('blocks.3.hook_mlp_out');
    expect(parseRunConfig({ site: 'post', layer: 0 }).hook_point).toBe('blocks.0.mlp.hook_post');
    expect(parseRunConfig({ site: 'z', layer: 1 }).hook_point).toBe('blocks.1.attn.hook_z');
  });

  it('takes hook_point and sets site and layer from it', () => {
    expect(parseRunConfig({ hook_point: 'blocks.2.hook_resid_post' })).toMatchObject({ site: 'resid_post', layer: 2 });
    expect(() => parseRunConfig({ hook_point: 'blocks.2.hook_resid_post', layer: 3 })).toThrow(/'hook_point' is 'blocks.2.hook_resid_post' but 'layer' is 3/);
    expect(() => parseRunConfig({ hook_point: 'ln_final.hook_normalized' })).toThrow(/'hook_point' is "ln_final.hook_normalized"; allowed: a per-token hook of a block/);
  });

  it('names the run as the reference does, lr printed as Python prints it', () => {
    expect(parseRunConfig({ model_name: 'tiny-lm', layer: 2, dict_size: 2048, lr: 1e-5, sae_type: 'batchtopk', top_k: 16 }).name).toBe('tiny-lm_blocks.2.hook_resid_pre_2048_batchtopk_16_1e-05');
    expect(parseRunConfig({ name: 'mine' }).name).toBe('mine');
  });

  it('gives each SAE of a group its own reference name', () => {
    const config = parseRunConfig({ sae_type: ['topk', 'batchtopk'] });
    expect(memberConfigs(config).map((member) => [member.sae_type, member.name])).toEqual([
      ['topk', 'gpt2-small_blocks.8.hook_resid_pre_12288_topk_32_0.0003'],
      ['batchtopk', 'gpt2-small_blocks.8.hook_resid_pre_12288_batchtopk_32_0.0003'],
    ]);
  });

  it.each([
    [{ lr: 'fast' }, `'lr' is "fast"; allowed: a number > 0`],
    [{ lr: -1 }, `'lr' is -1; allowed: a number > 0`],
    [{ batch_size: 10.5 }, `'batch_size' is 10.5; allowed: an integer >= 1`],
    [{ device: 'tpu' }, `'device' is "tpu"; allowed: one of 'cpu', 'webgpu', 'cuda'`],
    [{ backend: 'torch' }, `'backend' is "torch"; allowed: one of 'onnx', 'tfjs'`],
    [{ sae_type: 'sparse' }, `'sae_type' is "sparse"; allowed: one of 'vanilla', 'topk', 'batchtopk', 'jumprelu', or a list of them`],
    [{ sae_type: ['topk', 'nope'] }, `'sae_type' is ["topk","nope"]; allowed: one of 'vanilla', 'topk', 'batchtopk', 'jumprelu', or a list of them`],
    [{ site: 'resid' }, `'site' is "resid"; allowed: one of 'resid_pre', 'resid_mid'`],
    [{ beta1: 1 }, `'beta1' is 1; allowed: a number in [0, 1)`],
    [{ dtype: 'float16' }, `'dtype' is "float16"; allowed: one of 'float32'`],
    [{ input_unit_norm: 'yes' }, `'input_unit_norm' is "yes"; allowed: true or false`],
    [{ document_token_limit: 0 }, `'document_token_limit' is 0; allowed: an integer >= 1, 'context' (the model's context length) or 'none' (whole documents)`],
    [{ top_k: 64, dict_size: 32 }, `'top_k' is 64; allowed: an integer >= 1 and <= dict_size (32)`],
    [{ num_tokens: 100 }, `'num_tokens' is 100; allowed: at least batch_size (4096)`],
    [{ sae_type: ['topk', 'topk'] }, `'sae_type' is ["topk","topk"]; allowed: each type at most once`],
    [{ learning_rate: 1 }, `unknown key 'learning_rate'`],
    [{ lrr: 1 }, `unknown key 'lrr' (did you mean 'lr'?)`],
  ])('rejects %j naming the key, the value and what is allowed', (input, message) => {
    let error: unknown;
    try {
      parseRunConfig(input);
    } catch (caught) {
      error = caught;
    }
    expect(ConfigError.isInstance(error)).toBe(true);
    expect((error as Error).message).toContain(message);
  });

  it('reports every problem at once', () => {
    expect(() => parseRunConfig({ lr: 0, top_k: 0, colour: 'red' })).toThrow(/'lr' is 0.*'top_k' is 0.*unknown key 'colour'.*Known keys: seed, batch_size/);
  });

  it('names the decomposition families when the family is unknown', () => {
    expect(() => parseRunConfig({ decomposition: 'crosscoder' })).toThrow(/'decomposition' is "crosscoder"; allowed: 'sae' \(sparse autoencoders/);
  });
});
