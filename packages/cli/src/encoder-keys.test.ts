import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { encoderRunConfigShape } from '@nnd/sae';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { configKeysHelp } from './config-help.js';
import { DECOMPOSITION_FAMILIES, familyNamed } from './decomposition-families.js';
import { parseRunConfig, RUN_CONFIG_KEYS, runConfigSchema } from './run-config.js';

const ENCODER_KEYS = Object.keys(encoderRunConfigShape);
const examples = join(import.meta.dirname, '..', '..', '..', 'examples');

describe('the encoder keys (dict_size, top_k, ...)', () => {
  it("belong to the families that read them, from @nnd/sae's one shared shape, not to the CLI's shared keys", () => {
    expect(ENCODER_KEYS).toEqual(['dict_size', 'l1_coeff', 'input_unit_norm', 'n_batches_to_dead', 'top_k', 'top_k_aux', 'aux_penalty', 'bandwidth']);
    for (const key of ENCODER_KEYS) expect(runConfigSchema.shape).not.toHaveProperty(key);
    for (const name of ['sae', 'transcoder', 'clt']) {
      const shape = familyNamed(name).configShape as Record<string, unknown>;
      for (const key of ENCODER_KEYS) expect(shape[key], `${name}.${key}`).toBe(encoderRunConfigShape[key as keyof typeof encoderRunConfigShape]);
    }
    expect(RUN_CONFIG_KEYS).toEqual(expect.arrayContaining(ENCODER_KEYS));
  });

  it('keep their defaults, bounds and messages in every family that has them', () => {
    for (const decomposition of ['sae', 'transcoder', 'clt']) {
      expect(parseRunConfig({ decomposition })).toMatchObject({
        dict_size: 12288,
        top_k: 32,
        top_k_aux: 512,
        aux_penalty: 1 / 32,
        bandwidth: 0.001,
        l1_coeff: 0,
        n_batches_to_dead: 5,
        input_unit_norm: false,
      });
      expect(() => parseRunConfig({ decomposition, top_k: 0 })).toThrow(/'top_k' is 0; allowed: an integer >= 1 and <= dict_size/);
      expect(() => parseRunConfig({ decomposition, dict_size: 8, top_k: 9 })).toThrow(/'top_k' is 9; allowed: an integer >= 1 and <= dict_size \(8\)/);
    }
  });

  it('are listed by nnd train --help with their type and description', () => {
    const help = configKeysHelp();
    for (const key of ENCODER_KEYS) expect(help).toMatch(new RegExp(`\\n  ${key}: \\S+ +# (integer|number|boolean)[^:]*: \\w`));
  });

  it('leave the run configs of the examples as they parsed before, names included', () => {
    const config = (example: string) => parse(readFileSync(join(examples, example, 'config.yaml'), 'utf8')) as Record<string, unknown>;
    expect(parseRunConfig(config('train-topk'))).toMatchObject({ dict_size: 2048, top_k: 32, name: expect.stringContaining('_2048_topk_32_') });
    expect(parseRunConfig(config('train-transcoder'))).toMatchObject({ dict_size: 2048, top_k: 32 });
    expect(parseRunConfig(config('train-clt'))).toMatchObject({ dict_size: 1024, top_k: 16, name: 'tiny-lm_layers_0-1-2-3_1024_topk_clt_16_0.0003' });
  });

  it('are not MOLT keys: a MOLT run has its own top_k and bandwidth, and its name has no dictionary size', () => {
    const molt = parseRunConfig({ decomposition: 'molt', model_name: 'tiny-lm', layer: 2 });
    expect(molt).toMatchObject({ top_k: 16, bandwidth: 0.1, n_batches_to_dead: 5 });
    expect(molt).not.toHaveProperty('dict_size');
    expect(molt.name).toBe('tiny-lm_blocks.2.ln2.hook_normalized_molt_16_0.0003');
    expect(() => parseRunConfig({ decomposition: 'molt', dict_size: 64 })).toThrow(/key 'dict_size' belongs to decomposition 'sae'/);
    expect(DECOMPOSITION_FAMILIES.map(({ name }) => name)).toContain('molt');
  });
});
