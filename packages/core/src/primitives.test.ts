import { describe, expect, it } from 'vitest';
import { DTypeError } from './errors/dtype-error.js';
import { ShapeError } from './errors/shape-error.js';
import { Graph } from './graph.js';
import * as ops from './primitives.js';

describe('builders check what ONNX would reject', () => {
  it('rejects bool operands where ONNX has no kernel', () => {
    const graph = new Graph();
    const mask = graph.input('mask', [3], 'bool');
    for (const build of [ops.neg, ops.abs, ops.relu, ops.sign, (t: typeof mask) => ops.reduceSum(t), (t: typeof mask) => ops.topk(t, 1).values]) {
      expect(() => build(mask)).toThrow(DTypeError);
    }
    expect(() => ops.matmul(mask, mask)).toThrow(DTypeError);
    expect(ops.identity(mask).dtype).toBe('bool');
  });

  it('infers symbolic shapes through reshape, slice and matmul', () => {
    const graph = new Graph();
    const x = graph.input('x', ['batch', 'seq', 8]);
    expect(ops.reshape(x, [-1, 8]).shape).toEqual(['batch*seq', 8]);
    expect(ops.slice(x, { starts: [0], ends: [-1], axes: [1] }).shape).toEqual(['batch', 'seq-1', 8]);
    expect(ops.slice(x, { starts: [1], ends: [Infinity], axes: [1] }).shape).toEqual(['batch', 'seq-1', 8]);
    expect(ops.matmul(x, graph.input('w', [8, 3])).shape).toEqual(['batch', 'seq', 3]);
    expect(() => ops.matmul(x, graph.input('v', [7, 3]))).toThrow(ShapeError);
    expect(() => ops.add(x, graph.input('y', [4]))).toThrow(/do not broadcast/);
  });
});
