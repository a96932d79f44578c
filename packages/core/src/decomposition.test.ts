import { describe, expect, it } from 'vitest';
import { checkDecomposition, DECOMPOSITION_SPECIFICATION_VERSION, describeDecomposition, streamsOf, type Decomposition } from './decomposition.js';
import { ConfigError } from './errors/config-error.js';

function decomposition(reads: Decomposition['reads'], writes: Decomposition['writes'], extra: Partial<Decomposition> = {}): Decomposition {
  return {
    specificationVersion: DECOMPOSITION_SPECIFICATION_VERSION,
    architecture: 'test',
    config: {},
    reads,
    writes,
    initialParams: () => ({}),
    initialState: () => ({}),
    forward: () => {
      throw new Error('not run');
    },
    ...extra,
  };
}

describe('checkDecomposition', () => {
  it('accepts an SAE-shaped and a transcoder-shaped decomposition', () => {
    expect(() => checkDecomposition(decomposition([{ hook: 'h', width: 4 }], [{ hook: 'h', width: 4 }]), 'test')).not.toThrow();
    expect(() => checkDecomposition(decomposition([{ hook: 'in', width: 4 }], [{ hook: 'out', width: 2 }]), 'test')).not.toThrow();
  });

  it('accepts a decomposition of weights: token ids read, no stream written', () => {
    expect(() => checkDecomposition(decomposition([{ hook: 'tokens', width: 16, dtype: 'int64' }], []), 'test')).not.toThrow();
  });

  it('names what is wrong: the contract version, empty sides, bad ports, repeated hooks', () => {
    const valid = decomposition([{ hook: 'h', width: 4 }], [{ hook: 'h', width: 4 }]);
    expect(() => checkDecomposition({ ...valid, specificationVersion: undefined } as unknown as Decomposition, 'train')).toThrow(
      /train: decomposition 'test' has specificationVersion undefined; this version of nnd takes 'nnd-decomposition-v2'/,
    );
    expect(() => checkDecomposition(decomposition([], [{ hook: 'h', width: 4 }]), 'train')).toThrow(/reads no stream/);
    expect(() => checkDecomposition(decomposition([{ hook: 'h', width: 4, dtype: 'float64' as 'float32' }], []), 'train')).toThrow(/dtype "float64"; streams are 'float32'/);
    expect(() => checkDecomposition(decomposition([{ hook: 'h', width: 0 }], [{ hook: 'h', width: 4 }]), 'train')).toThrow(/width: an integer >= 1/);
    expect(() =>
      checkDecomposition(
        decomposition(
          [{ hook: 'h', width: 4 }],
          [
            { hook: 'o', width: 4 },
            { hook: 'o', width: 4 },
          ],
        ),
        'train',
      ),
    ).toThrow(ConfigError);
  });
});

describe('streamsOf', () => {
  it('lists every hook read or written once, in first-seen order', () => {
    const sae = decomposition([{ hook: 'a', width: 4 }], [{ hook: 'a', width: 4 }]);
    const transcoder = decomposition([{ hook: 'b', width: 4 }], [{ hook: 'c', width: 2 }]);
    expect(streamsOf([sae, transcoder, sae])).toEqual([
      { hook: 'a', width: 4 },
      { hook: 'b', width: 4 },
      { hook: 'c', width: 2 },
    ]);
  });

  it('refuses one hook declared with two widths', () => {
    const first = decomposition([{ hook: 'a', width: 4 }], [{ hook: 'a', width: 4 }]);
    const second = decomposition([{ hook: 'a', width: 8 }], [{ hook: 'a', width: 8 }]);
    expect(() => streamsOf([first, second])).toThrow(/Hook 'a' is declared with width 4 and with width 8/);
  });

  it("keeps an int64 stream's type and refuses one hook declared with two types", () => {
    const tokens = decomposition([{ hook: 't', width: 8, dtype: 'int64' }], []);
    expect(streamsOf([tokens])).toEqual([{ hook: 't', width: 8, dtype: 'int64' }]);
    expect(() => streamsOf([tokens, decomposition([{ hook: 't', width: 8 }], [])])).toThrow(/declared as int64 and as float32/);
  });
});

describe('describeDecomposition', () => {
  it("is the decomposition's own description, or its architecture", () => {
    const plain = decomposition([{ hook: 'a', width: 4 }], [{ hook: 'a', width: 4 }]);
    expect(describeDecomposition(plain)).toEqual([{ key: 'architecture', value: 'test' }]);
    const described = { ...plain, describe: () => [{ key: 'top_k', value: 32 }] };
    expect(describeDecomposition(described)).toEqual([{ key: 'top_k', value: 32 }]);
  });
});
