import { describe, expect, it } from 'vitest';
import { DECOMPOSITION_SPECIFICATION_VERSION, type Decomposition } from './decomposition.js';
import { hostTensor } from './dtype.js';
import { initialTrainingParams } from './initial-training-params.js';
import { Rng } from './rng.js';

function drawing(prepare?: Decomposition['prepareInitialParams']): Decomposition {
  return {
    specificationVersion: DECOMPOSITION_SPECIFICATION_VERSION,
    architecture: 'drawing',
    config: {},
    reads: [],
    writes: [],
    initialParams: (rng) => ({ w: hostTensor('float32', [3], rng.normal(3, 0, 1)) }),
    initialState: () => ({}),
    forward: () => {
      throw new Error('not used');
    },
    ...(prepare === undefined ? {} : { prepareInitialParams: prepare }),
  };
}

describe('initialTrainingParams', () => {
  it("is the seed's draw for a decomposition without prepareInitialParams", () => {
    const decomposition = drawing();
    expect(initialTrainingParams(decomposition, new Rng(4)).w.data).toEqual(decomposition.initialParams(new Rng(4)).w.data);
  });

  it('prepares the draw once, with the draw the same seed gives', () => {
    const seen: number[][] = [];
    const decomposition = drawing((drawn) => {
      seen.push(Array.from(drawn.w.data as Float32Array));
      return { w: hostTensor('float32', [3], [1, 2, 3]) };
    });
    expect([...initialTrainingParams(decomposition, new Rng(4)).w.data]).toEqual([1, 2, 3]);
    expect(seen).toEqual([Array.from(decomposition.initialParams(new Rng(4)).w.data as Float32Array)]);
  });
});
