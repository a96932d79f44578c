import { ConfigError, NndError } from '@nnd/core';
import { describe, expect, it } from 'vitest';
import { pythonFloat, runName } from './run-name.js';

const reference = { model_name: 'gpt2-small', hook_point: 'blocks.8.hook_resid_pre', dict_size: 12288, sae_type: 'topk', top_k: 32, lr: 3e-4 };

describe('runName', () => {
  it("builds the reference's name", () => {
    expect(runName(reference)).toBe('gpt2-small_blocks.8.hook_resid_pre_12288_topk_32_0.0003');
  });

  it('prints lr as Python prints a float', () => {
    expect(runName({ ...reference, lr: 1e-5 })).toBe('gpt2-small_blocks.8.hook_resid_pre_12288_topk_32_1e-05');
    expect(runName({ ...reference, lr: 1 })).toMatch(/_1\.0$/);
  });

  it('names every missing field', () => {
    const error = (() => {
      try {
        runName({ model_name: 'gpt2' });
      } catch (caught) {
        return caught;
      }
    })();
    expect(error).toBeInstanceOf(ConfigError);
    expect(NndError.isInstance(error)).toBe(true);
    expect((error as Error).message).toContain('missing: hook_point, dict_size, sae_type, top_k, lr');
  });
});

describe('pythonFloat', () => {
  it("matches Python's repr", () => {
    // Values checked against CPython 3.11 repr().
    const expected: [number, string][] = [
      [3e-4, '0.0003'],
      [1e-4, '0.0001'],
      [5e-5, '5e-05'],
      [1.5e-5, '1.5e-05'],
      [0.1, '0.1'],
      [2, '2.0'],
      [123.456, '123.456'],
      [1e15, '1000000000000000.0'],
      [1e16, '1e+16'],
      [-2.5e-7, '-2.5e-07'],
      [1e100, '1e+100'],
      [0, '0.0'],
      [Number.NaN, 'nan'],
      [-Infinity, '-inf'],
    ];
    for (const [value, text] of expected) expect(pythonFloat(value)).toBe(text);
  });
});
