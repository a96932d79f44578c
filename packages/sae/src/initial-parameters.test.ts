import { Rng } from '@nnd/core';
import { describe, expect, it } from 'vitest';
import { initialSaeParameters } from './initial-parameters.js';
import { createSae } from './sae-registry.js';

describe('initialSaeParameters', () => {
  it('draws W_enc within sqrt(6 / dict_size) and sets W_dec to the row-normalised W_enc^T', () => {
    const actSize = 5;
    const dictSize = 24;
    const params = initialSaeParameters(actSize, dictSize, new Rng(49));
    const wEnc = params.W_enc.data as Float32Array;
    const wDec = params.W_dec.data as Float32Array;
    expect(params.W_enc.shape).toEqual([actSize, dictSize]);
    expect(params.W_dec.shape).toEqual([dictSize, actSize]);
    const bound = Math.sqrt(6 / dictSize);
    expect(Math.max(...Array.from(wEnc, Math.abs))).toBeLessThanOrEqual(bound);
    // Uniform draws fill most of the interval.
    expect(Math.max(...Array.from(wEnc, Math.abs))).toBeGreaterThan(0.8 * bound);
    for (let feature = 0; feature < dictSize; feature++) {
      const column = Array.from({ length: actSize }, (_, a) => wEnc[a * dictSize + feature]);
      const norm = Math.hypot(...column);
      for (let a = 0; a < actSize; a++) expect(wDec[feature * actSize + a]).toBeCloseTo(column[a] / norm, 6);
      expect(Math.hypot(...wDec.subarray(feature * actSize, feature * actSize + actSize))).toBeCloseTo(1, 6);
    }
    expect(Array.from(params.b_dec.data as Float32Array)).toEqual(new Array(actSize).fill(0));
    expect(Array.from(params.b_enc.data as Float32Array)).toEqual(new Array(dictSize).fill(0));
  });

  it('is seeded from the config seed by default and reproducible', () => {
    const sae = createSae({ architecture: 'topk', act_size: 3, dict_size: 8, top_k: 2, seed: 7 });
    const a = sae.initialParams();
    const b = sae.initialParams(new Rng(7));
    const c = sae.initialParams(new Rng(8));
    expect(Array.from(a.W_enc.data as Float32Array)).toEqual(Array.from(b.W_enc.data as Float32Array));
    expect(Array.from(a.W_enc.data as Float32Array)).not.toEqual(Array.from(c.W_enc.data as Float32Array));
    expect(a.W_enc.dtype).toBe('float32');
  });

  it('starts the dead-feature counter at zero (float32, not trained)', () => {
    const state = createSae({ architecture: 'vanilla', act_size: 3, dict_size: 4 }).initialState();
    expect(state.num_batches_not_active.dtype).toBe('float32');
    expect(Array.from(state.num_batches_not_active.data as Float32Array)).toEqual([0, 0, 0, 0]);
  });
});
