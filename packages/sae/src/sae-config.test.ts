import { ConfigError, NndError } from '@nnd/core';
import { describe, expect, it } from 'vitest';
import { createSae, saeRegistry } from './sae-registry.js';
import { topKSae } from './topk-sae.js';

describe('SAE configs', () => {
  it('fill in the reference defaults', () => {
    expect(createSae({ architecture: 'topk', act_size: 768, dict_size: 12288 }).config).toEqual({
      architecture: 'topk',
      act_size: 768,
      dict_size: 12288,
      seed: 49,
      batch_size: 4096,
      lr: 3e-4,
      beta1: 0.9,
      beta2: 0.99,
      max_grad_norm: 100000,
      l1_coeff: 0,
      n_batches_to_dead: 5,
      input_unit_norm: false,
      top_k: 32,
      top_k_aux: 512,
      aux_penalty: 1 / 32,
      sparse_decoder: true,
      encoder_bias: false,
    });
    expect(createSae({ architecture: 'jumprelu', act_size: 4, dict_size: 8 }).config).toMatchObject({ bandwidth: 0.001, l1_coeff: 0 });
    expect(createSae({ architecture: 'vanilla', act_size: 4, dict_size: 8 }).config).not.toHaveProperty('top_k');
  });

  it('dispatch on architecture or the reference key sae_type to the four types', () => {
    expect([...saeRegistry.keys()]).toEqual(['vanilla', 'topk', 'batchtopk', 'jumprelu']);
    for (const architecture of ['vanilla', 'topk', 'batchtopk', 'jumprelu']) {
      expect(createSae({ sae_type: architecture, act_size: 4, dict_size: 64 }).architecture).toBe(architecture);
      expect(createSae({ architecture, act_size: 4, dict_size: 64 }).config.architecture).toBe(architecture);
    }
  });

  it.each([
    [{ architecture: 'topk', act_size: 4, dict_size: 8, top_k: 9 }, /top_k = 9 exceeds dict_size = 8/],
    [{ architecture: 'topk', act_size: 4, dict_size: 8, topk: 3 }, /unknown key 'topk'; allowed keys: .*top_k/],
    [{ architecture: 'topk', act_size: 4.5, dict_size: 8 }, /act_size = 4.5 is invalid .*allowed: an integer >= 1/],
    [{ architecture: 'jumprelu', act_size: 4, dict_size: 8, bandwidth: -1 }, /bandwidth = -1 is invalid .*allowed: a number > 0/],
    [{ architecture: 'vanilla', dict_size: 8 }, /act_size is required; allowed: an integer >= 1/],
    [{ architecture: 'vanilla', act_size: 4, dict_size: 8, input_unit_norm: 'yes' }, /input_unit_norm = "yes" is invalid .*allowed: true or false/],
    [{ architecture: 'vanilla', act_size: 1, dict_size: 8, input_unit_norm: true }, /input_unit_norm = true needs act_size >= 2/],
    [{ architecture: 'gated', act_size: 4, dict_size: 8 }, /architecture = "gated" is not supported; allowed: one of 'vanilla', 'topk', 'batchtopk', 'jumprelu'/],
    [{ architecture: 'topk', sae_type: 'vanilla', act_size: 4, dict_size: 8 }, /architecture = "topk" and sae_type = "vanilla" disagree/],
    [{ act_size: 4, dict_size: 8 }, /architecture \(or sae_type\) is required/],
    [[1, 2], /must be an object/],
  ])('reject %j with a ConfigError naming key, value and allowed values', (config, message) => {
    let caught: unknown;
    try {
      createSae(config);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    expect(NndError.isInstance(caught)).toBe(true);
    expect((caught as Error).message).toMatch(message);
  });

  it('report every problem at once', () => {
    expect(() => topKSae.parseConfig({ act_size: 0, dict_size: 8, lr: 0 })).toThrow(/act_size = 0 .*; lr = 0 /);
  });

  it('expose their zod schema', () => {
    expect(topKSae.configSchema.parse({ act_size: 2, dict_size: 64 }).top_k).toBe(32);
    expect(topKSae.configSchema.safeParse({ act_size: 2, dict_size: 4, top_k: 5 }).success).toBe(false);
  });
});
