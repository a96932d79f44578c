import { ConfigError } from '@nnd/core';
import { describe, expect, it } from 'vitest';
import { parseCltConfig } from './clt-config.js';
import { cltRegistry, createClt, topKClt } from './cross-layer-transcoder.js';

const base = { encoder_type: 'topk', layers: [0, 1, 2], dict_size: 64, input_size: 16, output_size: 16 };

function rejection(config: unknown): string {
  try {
    parseCltConfig(config);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error(`accepted ${JSON.stringify(config)}`);
}

describe('CLT config', () => {
  it("fills in the reference's defaults, and the variant defaults to the reference's", () => {
    const config = parseCltConfig(base);
    expect(config).toMatchObject({
      architecture: 'topk_clt',
      variant: 'reference',
      seed: 49,
      n_batches_to_dead: 50,
      top_k: 32,
      top_k_aux: 512,
      aux_penalty: 1 / 32,
      l1_coeff: 0,
      bandwidth: 0.001,
      hook_template_in: 'blocks.{layer}.ln2.hook_normalized',
      hook_template_out: 'blocks.{layer}.hook_mlp_out',
    });
  });

  it('names one stream per layer from the hook templates', () => {
    const clt = createClt({ ...base, layers: [1, 4], hook_template_in: 'blocks.{layer}.hook_resid_mid' });
    expect(clt.reads).toEqual([
      { hook: 'blocks.1.hook_resid_mid', width: 16 },
      { hook: 'blocks.4.hook_resid_mid', width: 16 },
    ]);
    expect(clt.writes).toEqual([
      { hook: 'blocks.1.hook_mlp_out', width: 16 },
      { hook: 'blocks.4.hook_mlp_out', width: 16 },
    ]);
  });

  it('takes the architecture id instead of encoder_type, and the registry knows all four', () => {
    expect(createClt({ ...base, encoder_type: undefined, architecture: 'jumprelu_clt' }).architecture).toBe('jumprelu_clt');
    expect([...cltRegistry.keys()]).toEqual(['vanilla_clt', 'topk_clt', 'batchtopk_clt', 'jumprelu_clt']);
    expect(() => topKClt.parseConfig({ ...base, encoder_type: 'vanilla' })).toThrow(/names encoder_type 'vanilla'; use the 'vanilla_clt' definition/);
  });

  it('refuses unsorted, duplicate, negative and out-of-range layers with the fix', () => {
    expect(rejection({ ...base, layers: [2, 0, 1] })).toMatch(/layers = \[2,0,1\] is not in increasing order; sort it .*\[0,1,2\]/);
    expect(rejection({ ...base, layers: [0, 1, 1] })).toMatch(/lists layer 1 twice/);
    expect(rejection({ ...base, layers: [-1, 0] })).toMatch(/layers = \[-1,0\] has \[-1\]; layers are model layer indices, integers >= 0/);
    expect(rejection({ ...base, layers: [] })).toMatch(/layers = \[\] is invalid/);
    expect(rejection({ ...base, layers: [0, 11, 12], n_model_layers: 12 })).toMatch(/layers \[12\] are out of range: the model has n_model_layers = 12 \(layers 0\.\.11\)/);
  });

  it('refuses an encoder type the variant does not offer, and unknown types', () => {
    expect(rejection({ ...base, variant: 'anthropic' })).toMatch(/variant 'anthropic' does not support encoder_type 'topk'; it offers 'jumprelu'/);
    expect(rejection({ ...base, encoder_type: 'gated' })).toMatch(/encoder_type = "gated" is not supported; allowed: one of 'vanilla', 'topk', 'batchtopk', 'jumprelu'/);
    expect(rejection({ ...base, architecture: 'vanilla_clt' })).toMatch(/architecture = "vanilla_clt" and encoder_type = "topk" disagree/);
    expect(rejection({ ...base, encoder_type: undefined, architecture: 'topk' })).toMatch(/architecture = "topk" is not a cross-layer transcoder/);
    expect(parseCltConfig({ ...base, encoder_type: 'jumprelu', variant: 'anthropic' }).variant).toBe('anthropic');
  });

  it('names every other bad key, its value and what is allowed', () => {
    const message = rejection({ ...base, top_k: 65, dict_size: 64, hook_template_out: 'mlp_out', extra: 1 });
    expect(message).toMatch(/unknown key 'extra'/);
    expect(message).toMatch(/top_k = 65 exceeds dict_size = 64/);
    expect(message).toMatch(/hook_template_out = "mlp_out" has no '\{layer\}'/);
    expect(rejection({ ...base, hook_template_out: 'blocks.{layer}.ln2.hook_normalized', output_size: 8 })).toMatch(/input_size \(16\) != output_size \(8\)/);
  });
});
