import { describe, expect, it } from 'vitest';
import { describeMatrixNames } from './matrix-names.js';

describe('describeMatrixNames', () => {
  it("names a transformer's matrices once per kind with the range of blocks", () => {
    const names = [0, 1, 2, 3].flatMap((layer) => [`blocks.${layer}.attn.W_Q`, `blocks.${layer}.mlp.W_in`, `blocks.${layer}.mlp.W_out`]);
    expect(describeMatrixNames(names)).toBe('blocks.{0-3}.{attn.W_Q, mlp.W_in, mlp.W_out}');
    expect(describeMatrixNames(['blocks.0.mlp.W_in', 'blocks.2.mlp.W_in'])).toBe('blocks.{0,2}.{mlp.W_in}');
    expect(describeMatrixNames(['blocks.5.mlp.W_in'])).toBe('blocks.{5}.{mlp.W_in}');
  });

  it('lists names that are not all in blocks as they are', () => {
    expect(describeMatrixNames(['linear1', 'linear2'])).toBe('linear1, linear2');
    expect(describeMatrixNames(['layers.0.mlp_in', 'blocks.0.mlp.W_in'])).toBe('layers.0.mlp_in, blocks.0.mlp.W_in');
  });
});
