import { describe, expect, it } from 'vitest';
import * as nn from '../primitives.js';
import { constant, evaluateOne } from './test-support.js';

const x = (graph: Parameters<typeof constant>[0]) => constant(graph, [2, 3], [1, 2, 3, 4, 5, 6]);

describe('reference reductions', () => {
  it('sums over axes, with and without keepdims', () => {
    expect(evaluateOne((graph) => nn.reduceSum(x(graph), [1]))).toEqual({ dtype: 'float64', shape: [2], values: [6, 15] });
    expect(evaluateOne((graph) => nn.reduceSum(x(graph), [0], true))).toEqual({ dtype: 'float64', shape: [1, 3], values: [5, 7, 9] });
    expect(evaluateOne((graph) => nn.reduceSum(x(graph), [-1], true)).shape).toEqual([2, 1]);
  });

  it('reduces every axis when axes is empty', () => {
    expect(evaluateOne((graph) => nn.reduceSum(x(graph)))).toEqual({ dtype: 'float64', shape: [], values: [21] });
    expect(evaluateOne((graph) => nn.reduceSum(x(graph), [], true))).toEqual({ dtype: 'float64', shape: [1, 1], values: [21] });
  });

  it('computes ReduceMean, ReduceMax and ReduceSumSquare', () => {
    expect(evaluateOne((graph) => nn.reduceMean(x(graph), [0])).values).toEqual([2.5, 3.5, 4.5]);
    expect(evaluateOne((graph) => nn.reduceMean(x(graph))).values).toEqual([3.5]);
    // int64 results truncate toward zero, as numpy's astype after the mean in the ONNX reference.
    expect(evaluateOne((graph) => nn.reduceMean(constant(graph, [2, 2], [1, 2, -1, -2], 'int64'), [1]))).toEqual({ dtype: 'int64', shape: [2], values: [1, -1] });
    expect(evaluateOne((graph) => nn.reduceMax(constant(graph, [2, 2], [1, -5, -3, -2]), [1])).values).toEqual([1, -2]);
    expect(evaluateOne((graph) => nn.reduceSumSquare(x(graph), [1])).values).toEqual([14, 77]);
    const cube = (graph: Parameters<typeof constant>[0]) => constant(graph, [2, 2, 2], [1, 2, 3, 4, 5, 6, 7, 8]);
    expect(evaluateOne((graph) => nn.reduceSum(cube(graph), [0, 2]))).toEqual({ dtype: 'float64', shape: [2], values: [14, 22] });
  });
});

describe('reference MatMul', () => {
  it('multiplies matrices', () => {
    const result = evaluateOne((graph) => nn.matmul(x(graph), constant(graph, [3, 2], [1, 0, 0, 1, 1, 1])));
    expect(result).toEqual({ dtype: 'float64', shape: [2, 2], values: [4, 5, 10, 11] });
  });

  it('promotes rank-1 operands and drops the added axis', () => {
    expect(evaluateOne((graph) => nn.matmul(constant(graph, [2], [1, 2]), x(graph)))).toEqual({ dtype: 'float64', shape: [3], values: [9, 12, 15] });
    expect(evaluateOne((graph) => nn.matmul(x(graph), constant(graph, [3], [1, 0, -1])))).toEqual({ dtype: 'float64', shape: [2], values: [-2, -2] });
    expect(evaluateOne((graph) => nn.matmul(constant(graph, [3], [1, 2, 3]), constant(graph, [3], [4, 5, 6])))).toEqual({ dtype: 'float64', shape: [], values: [32] });
    const batched = evaluateOne((graph) => nn.matmul(constant(graph, [2], [1, 1]), constant(graph, [2, 2, 2], [1, 2, 3, 4, 5, 6, 7, 8])));
    expect(batched).toEqual({ dtype: 'float64', shape: [2, 2], values: [4, 6, 12, 14] });
  });

  it('broadcasts batch dimensions', () => {
    // Left [2,1,1,2] rows (1,0) and (0,1); right [3,2,2] scaled identities: every product picks one row of k*I.
    const result = evaluateOne((graph) => nn.matmul(constant(graph, [2, 1, 1, 2], [1, 0, 0, 1]), constant(graph, [3, 2, 2], [1, 0, 0, 1, 2, 0, 0, 2, 3, 0, 0, 3])));
    expect(result).toEqual({ dtype: 'float64', shape: [2, 3, 1, 2], values: [1, 0, 2, 0, 3, 0, 0, 1, 0, 2, 0, 3] });
  });
});
