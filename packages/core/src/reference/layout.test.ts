import { describe, expect, it } from 'vitest';
import * as nn from '../primitives.js';
import { constant, evaluateOne } from './test-support.js';

const counting = (length: number) => Array.from({ length }, (_, i) => i);

describe('reference layout kernels', () => {
  it('reshapes, inferring a -1 dimension', () => {
    expect(evaluateOne((graph) => nn.reshape(constant(graph, [2, 3], counting(6)), [3, 2]))).toEqual({ dtype: 'float64', shape: [3, 2], values: counting(6) });
    expect(evaluateOne((graph) => nn.reshape(constant(graph, [2, 3], counting(6)), [-1])).shape).toEqual([6]);
    expect(evaluateOne((graph) => nn.reshape(constant(graph, [2, 3], counting(6)), [1, -1, 2])).shape).toEqual([1, 3, 2]);
  });

  it('transposes, reversing the axes by default', () => {
    expect(evaluateOne((graph) => nn.transpose(constant(graph, [2, 3], counting(6))))).toEqual({ dtype: 'float64', shape: [3, 2], values: [0, 3, 1, 4, 2, 5] });
    const permuted = evaluateOne((graph) => nn.transpose(constant(graph, [2, 2, 2], counting(8)), [2, 0, 1]));
    expect(permuted.values).toEqual([0, 2, 4, 6, 1, 3, 5, 7]);
  });

  it('unsqueezes and squeezes', () => {
    expect(evaluateOne((graph) => nn.unsqueeze(constant(graph, [2, 3], counting(6)), [0, -1])).shape).toEqual([1, 2, 3, 1]);
    expect(evaluateOne((graph) => nn.unsqueeze(constant(graph, [2], [4, 5]), 1))).toEqual({ dtype: 'float64', shape: [2, 1], values: [4, 5] });
    expect(evaluateOne((graph) => nn.squeeze(constant(graph, [1, 2, 1], [4, 5]), [0, -1]))).toEqual({ dtype: 'float64', shape: [2], values: [4, 5] });
  });

  it('concatenates along an axis', () => {
    const result = evaluateOne((graph) => nn.concat([constant(graph, [2, 1], [1, 2]), constant(graph, [2, 2], [3, 4, 5, 6])], 1));
    expect(result).toEqual({ dtype: 'float64', shape: [2, 3], values: [1, 3, 4, 2, 5, 6] });
    expect(evaluateOne((graph) => nn.concat([constant(graph, [1, 2], [1, 2]), constant(graph, [2, 2], [3, 4, 5, 6])], -2)).values).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('slices with steps, negative indices and clamping, as in the ONNX examples', () => {
    const data = (graph: Parameters<typeof constant>[0]) => constant(graph, [2, 4], [1, 2, 3, 4, 5, 6, 7, 8]);
    expect(evaluateOne((graph) => nn.slice(data(graph), { starts: [1, 0], ends: [2, 3], axes: [0, 1], steps: [1, 2] }))).toEqual({ dtype: 'float64', shape: [1, 2], values: [5, 7] });
    expect(evaluateOne((graph) => nn.slice(data(graph), { starts: [0, 1], ends: [-1, 1000] }))).toEqual({ dtype: 'float64', shape: [1, 3], values: [2, 3, 4] });
    expect(evaluateOne((graph) => nn.slice(constant(graph, [10], counting(10)), { starts: [-20], ends: [5] })).values).toEqual([0, 1, 2, 3, 4]);
    expect(evaluateOne((graph) => nn.slice(constant(graph, [10], counting(10)), { starts: [7], ends: [Infinity] })).values).toEqual([7, 8, 9]);
  });

  it('slices with negative steps', () => {
    const slice = (starts: number[], ends: number[], steps: number[]) => evaluateOne((graph) => nn.slice(constant(graph, [10], counting(10)), { starts, ends, steps })).values;
    expect(slice([-1], [-Number.MAX_SAFE_INTEGER], [-1])).toEqual([9, 8, 7, 6, 5, 4, 3, 2, 1, 0]);
    expect(slice([8], [2], [-2])).toEqual([8, 6, 4]);
    expect(slice([100], [5], [-3])).toEqual([9, 6]);
    expect(slice([2], [8], [-1])).toEqual([]);
    expect(slice([3], [-100], [-1])).toEqual([3, 2, 1, 0]);
    const rows = evaluateOne((graph) => nn.slice(constant(graph, [2, 3], [1, 2, 3, 4, 5, 6]), { starts: [-1], ends: [-4], axes: [1], steps: [-1] }));
    expect(rows).toEqual({ dtype: 'float64', shape: [2, 3], values: [3, 2, 1, 6, 5, 4] });
  });

  it('expands bidirectionally', () => {
    const result = evaluateOne((graph) => nn.expand(constant(graph, [3, 1], [1, 2, 3]), [2, 1, 2]));
    expect(result).toEqual({ dtype: 'float64', shape: [2, 3, 2], values: [1, 1, 2, 2, 3, 3, 1, 1, 2, 2, 3, 3] });
    expect(evaluateOne((graph) => nn.expand(constant(graph, [2, 2], [1, 2, 3, 4]), [1, 1])).shape).toEqual([2, 2]);
  });

  it('reads shapes with start and end', () => {
    const x = (graph: Parameters<typeof constant>[0]) => constant(graph, [2, 3, 4], counting(24));
    expect(evaluateOne((graph) => nn.shapeOf(x(graph)))).toEqual({ dtype: 'int64', shape: [3], values: [2, 3, 4] });
    expect(evaluateOne((graph) => nn.shapeOf(x(graph), 1)).values).toEqual([3, 4]);
    expect(evaluateOne((graph) => nn.shapeOf(x(graph), -2, -1)).values).toEqual([3]);
  });

  it('generates ranges', () => {
    expect(evaluateOne((graph) => nn.range(0, 10, 3, { graph }))).toEqual({ dtype: 'int64', shape: [4], values: [0, 3, 6, 9] });
    expect(evaluateOne((graph) => nn.range(1, 2, 0.25, { graph, dtype: 'float64' })).values).toEqual([1, 1.25, 1.5, 1.75]);
    expect(evaluateOne((graph) => nn.range(5, 1, -2, { graph })).values).toEqual([5, 3]);
  });
});
