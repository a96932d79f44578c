import { ConfigError } from '@nnd/core';
import { describe, expect, it } from 'vitest';
import { createTranscoder } from './transcoder-registry.js';

describe('transcoder configs', () => {
  it("fills the reference's defaults, with n_batches_to_dead and max_grad_norm as @nnd/sae's", () => {
    const { config } = createTranscoder({ architecture: 'topk_transcoder', input_size: 768, output_size: 768 });
    expect(config).toMatchObject({
      dict_size: 12288,
      seed: 49,
      batch_size: 4096,
      lr: 3e-4,
      beta1: 0.9,
      beta2: 0.99,
      l1_coeff: 0,
      top_k: 32,
      top_k_aux: 512,
      aux_penalty: 1 / 32,
      input_unit_norm: false,
      pre_enc_bias: false,
      skip: false,
      n_batches_to_dead: 5,
      max_grad_norm: 100000,
      sparse_decoder: true,
    });
    expect(createTranscoder({ architecture: 'jumprelu_transcoder', input_size: 4, output_size: 4 }).config).toMatchObject({ bandwidth: 0.001 });
  });

  it("accepts the reference's encoder_type, in its short form or as the id, and refuses one that disagrees with architecture", () => {
    expect(createTranscoder({ encoder_type: 'batchtopk', input_size: 4, output_size: 3, dict_size: 8, top_k: 2 }).architecture).toBe('batchtopk_transcoder');
    expect(createTranscoder({ encoder_type: 'jumprelu_transcoder', input_size: 4, output_size: 3, dict_size: 8 }).architecture).toBe('jumprelu_transcoder');
    expect(createTranscoder({ encoder_type: 'topk', architecture: 'topk_transcoder', input_size: 4, output_size: 3, dict_size: 8, top_k: 2 }).architecture).toBe('topk_transcoder');
    expect(() => createTranscoder({ encoder_type: 'topk', architecture: 'vanilla_transcoder', input_size: 4, output_size: 3 })).toThrow(/disagree/);
    expect(() => createTranscoder({ architecture: 'topk', input_size: 4, output_size: 3 })).toThrow(/architecture = "topk" is not supported; allowed: one of 'vanilla_transcoder'/);
  });

  it('names every bad key, its value and what is allowed', () => {
    const attempt = () => createTranscoder({ architecture: 'topk_transcoder', input_size: 0, output_size: 3, dict_size: 8, top_k: 9, bandwidth: 1 });
    expect(attempt).toThrow(ConfigError);
    expect(attempt).toThrow(/input_size = 0 is invalid.*an integer >= 1/);
    expect(attempt).toThrow(/unknown key 'bandwidth'/);
    expect(attempt).toThrow(/top_k = 9 exceeds dict_size = 8/);
    expect(() => createTranscoder({ architecture: 'vanilla_transcoder', input_size: 4 })).toThrow(/output_size is required/);
    expect(() => createTranscoder({ architecture: 'vanilla_transcoder', input_size: 4, output_size: 4, hook_point: 'a', hook_point_out: 'a' })).toThrow(
      /both 'a'; a transcoder reads one stream and writes another/,
    );
  });
});
