import { describe, expect, it } from 'vitest';
import type { DeviceTensor, Feed } from './backend.js';
import { hostTensor, type HostTensor } from './dtype.js';
import { DTypeError } from './errors/dtype-error.js';
import { GraphError } from './errors/graph-error.js';
import { ShapeError } from './errors/shape-error.js';
import { checkHostTensor, validateFeeds, type InputDescription } from './feed-validation.js';

const inputs: InputDescription[] = [
  { name: 'x', dtype: 'float32', shape: ['batch', 3] },
  { name: 'k', dtype: 'float32', shape: ['batch', 3] },
];
const graphInputNames = new Set(['x', 'k', 'unused']);
const good = hostTensor('float32', [2, 3], [1, 2, 3, 4, 5, 6]);
const validate = (feeds: Record<string, unknown>) => () => validateFeeds(inputs, feeds as Record<string, Feed>, graphInputNames);

/** A device tensor without data on the host: only its dtype and shape can be checked. */
function deviceTensor(dtype: DeviceTensor['dtype'], shape: number[]): DeviceTensor {
  return { dtype, shape, location: 'gpu-buffer', toHost: () => Promise.reject(new Error('not read')), dispose: () => undefined };
}

describe('validateFeeds', () => {
  it('accepts matching feeds, a superset of graph inputs, and device tensors by dtype and shape alone', () => {
    expect(validate({ x: good, k: good })).not.toThrow();
    expect(validate({ x: good, k: good, unused: good })).not.toThrow();
    expect(validate({ x: deviceTensor('float32', [4, 3]), k: hostTensor('float32', [4, 3], new Float32Array(12)) })).not.toThrow();
  });

  it('rejects a missing feed and a name the graph lacks with GraphErrors naming them', () => {
    expect(validate({ x: good })).toThrow(GraphError);
    expect(validate({ x: good })).toThrow("Program input 'k' (float32 [batch, 3]) is not fed; the feeds have [x]. Feed every name in program.inputNames.");
    expect(validate({ x: good, k: good, z: good })).toThrow(GraphError);
    expect(validate({ x: good, k: good, z: good })).toThrow("Feed 'z' is not a graph input; the graph has [x, k, unused].");
    // A name on Object.prototype is not a feed.
    expect(() => validateFeeds([{ name: 'toString', dtype: 'float32', shape: [] }], {}, new Set(['toString']))).toThrow(/'toString'.*is not fed/);
  });

  it('rejects a feed that is not a tensor', () => {
    expect(validate({ x: good, k: 3 })).toThrow(GraphError);
    expect(validate({ x: good, k: null })).toThrow("Feed 'k' is null, not a HostTensor or DeviceTensor; build one with hostTensor().");
    expect(validate({ x: good, k: { dtype: 'float32', shape: 'oops' } })).toThrow(/not a HostTensor or DeviceTensor/);
  });

  it('rejects a wrong dtype with a DTypeError', () => {
    const wide = hostTensor('float64', [2, 3], [1, 2, 3, 4, 5, 6]);
    expect(validate({ x: good, k: wide })).toThrow(DTypeError);
    expect(validate({ x: good, k: wide })).toThrow("Feed 'k' has dtype float64, but the program expects float32 [batch, 3]. Cast it before feeding.");
  });

  it('rejects a wrong rank or static size with ShapeErrors', () => {
    expect(validate({ x: good, k: hostTensor('float32', [6], [1, 2, 3, 4, 5, 6]) })).toThrow(ShapeError);
    expect(validate({ x: good, k: hostTensor('float32', [6], [1, 2, 3, 4, 5, 6]) })).toThrow("Feed 'k' has shape [6] of rank 1, but the program expects float32 [batch, 3].");
    expect(validate({ x: good, k: hostTensor('float32', [2, 2], [1, 2, 3, 4]) })).toThrow(ShapeError);
    expect(validate({ x: good, k: hostTensor('float32', [2, 2], [1, 2, 3, 4]) })).toThrow("Feed 'k' has shape [2, 2], but the program expects float32 [batch, 3]: axis 1 must be 3, got 2.");
  });

  it('requires every feed to agree on a symbolic dimension, products compared as written', () => {
    expect(validate({ x: good, k: hostTensor('float32', [1, 3], [1, 2, 3]) })).toThrow(ShapeError);
    expect(validate({ x: good, k: hostTensor('float32', [1, 3], [1, 2, 3]) })).toThrow("Symbolic dimension 'batch' is 2 in feed 'x' but 1 in feed 'k'; feeds must agree on it.");
    const products: InputDescription[] = [
      { name: 'flat', dtype: 'float32', shape: ['batch*seq'] },
      { name: 'x', dtype: 'float32', shape: ['batch', 'seq'] },
    ];
    // 'batch*seq' is not checked against 'batch' and 'seq' here; that is SymbolBindings' work.
    expect(() => validateFeeds(products, { flat: hostTensor('float32', [5], new Float32Array(5)), x: good }, new Set(['flat', 'x']))).not.toThrow();
  });

  it('checks a host feed holds the typed array and element count its dtype and shape need', () => {
    const short = { dtype: 'float32', shape: [2, 3], data: new Float32Array(5) };
    expect(validate({ x: good, k: short })).toThrow(ShapeError);
    expect(validate({ x: good, k: short })).toThrow("Feed 'k' of shape [2, 3] needs 6 elements but holds 5.");
    const mistyped = { dtype: 'float32', shape: [2, 3], data: new Float64Array(6) };
    expect(validate({ x: good, k: mistyped })).toThrow(DTypeError);
    expect(validate({ x: good, k: mistyped })).toThrow("Feed 'k' says dtype float32 but holds Float64Array; use hostTensor() to build it.");
    expect(validate({ x: good, k: { dtype: 'float32', shape: [2, 3], data: [1, 2, 3, 4, 5, 6] } })).toThrow(/holds Array; use hostTensor\(\)/);
  });

  it('checks inputs in order, so the first bad one is named', () => {
    expect(validate({ x: hostTensor('float64', [2, 3], new Float64Array(6)), k: 3 })).toThrow(DTypeError);
  });
});

describe('checkHostTensor', () => {
  it('names the place it was called from', () => {
    expect(() => checkHostTensor(good, 'upload: the tensor')).not.toThrow();
    const short = { dtype: 'int64', shape: [3], data: new BigInt64Array(2) } as HostTensor;
    expect(() => checkHostTensor(short, 'upload: the tensor')).toThrow('upload: the tensor of shape [3] needs 3 elements but holds 2.');
    const mistyped = { dtype: 'bool', shape: [1], data: new Float32Array(1) } as unknown as HostTensor;
    expect(() => checkHostTensor(mistyped, 'upload: the tensor')).toThrow(DTypeError);
  });
});
