import { describe, expect, it } from 'vitest';
import { moduleLabel } from './module-label.js';

describe('moduleLabel', () => {
  it('lists matrices that differ only in their block once, with the blocks as ranges, and C once when all share it', () => {
    const mlp = [0, 1, 2, 3].flatMap((layer) => [`blocks.${layer}.mlp.W_in`, `blocks.${layer}.mlp.W_out`]).map((name) => ({ name, C: 128 }));
    expect(moduleLabel(mlp)).toBe('mlp.W_in@0-3,mlp.W_out@0-3:128');
    expect(moduleLabel([0, 1, 3, 5, 6].map((layer) => ({ name: `blocks.${layer}.attn.W_Q`, C: 8 })))).toBe('attn.W_Q@0-1.3.5-6:8');
    expect(
      moduleLabel([
        { name: 'linear1', C: 20 },
        { name: 'linear2', C: 20 },
      ]),
    ).toBe('linear1,linear2:20');
  });

  it('names every matrix with its own C when they differ', () => {
    expect(
      moduleLabel([
        { name: 'blocks.0.mlp.W_in', C: 8 },
        { name: 'blocks.0.mlp.W_out', C: 16 },
      ]),
    ).toBe('blocks.0.mlp.W_in:8,blocks.0.mlp.W_out:16');
  });
});
