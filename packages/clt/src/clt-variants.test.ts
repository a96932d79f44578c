import { NO_DEAD_FEATURES } from '@nnd/sae';
import { describe, expect, it } from 'vitest';
import { createClt } from './cross-layer-transcoder.js';

describe('CLT forward variants', () => {
  it('a fresh TopK CLT starts without the auxiliary loss; a counter of any layer that can reach n_batches_to_dead needs it', () => {
    const clt = createClt({ encoder_type: 'topk', layers: [0, 1], dict_size: 8, input_size: 4, output_size: 4, top_k: 2, n_batches_to_dead: 5 });
    const [variant] = clt.variants ?? [];
    expect(variant.name).toBe(NO_DEAD_FEATURES);
    const fresh = clt.initialState();
    expect(Object.keys(fresh).sort()).toEqual(['num_batches_not_active_0', 'num_batches_not_active_1']);
    expect(variant.appliesAtStart?.(fresh)).toBe(true);
    const late = { ...fresh, num_batches_not_active_1: { ...fresh.num_batches_not_active_1, data: (fresh.num_batches_not_active_1.data as Float32Array).map((_, index) => (index === 3 ? 4 : 0)) } };
    expect(variant.appliesAtStart?.(late)).toBe(false);
  });

  it('a JumpReLU CLT has no variant', () => {
    expect(createClt({ encoder_type: 'jumprelu', layers: [0, 1], dict_size: 8, input_size: 4, output_size: 4 }).variants ?? []).toEqual([]);
  });
});
