import { describe, expect, it } from 'vitest';
import * as nn from '../primitives.js';
import { hostTensor } from '../dtype.js';
import { constant, evaluateOne, float64 } from './test-support.js';

describe('reference elementwise kernels', () => {
  it('broadcasts binary arithmetic multidirectionally', () => {
    expect(evaluateOne((graph) => nn.add(constant(graph, [2, 3], [1, 2, 3, 4, 5, 6]), constant(graph, [3], [10, 20, 30])))).toEqual({
      dtype: 'float64',
      shape: [2, 3],
      values: [11, 22, 33, 14, 25, 36],
    });
    expect(evaluateOne((graph) => nn.sub(constant(graph, [2, 1], [1, 2]), constant(graph, [1, 3], [10, 20, 30]))).values).toEqual([-9, -19, -29, -8, -18, -28]);
    expect(evaluateOne((graph) => nn.mul(constant(graph, [2, 1, 2], [1, 2, 3, 4]), constant(graph, [3, 1], [1, 10, 100]))).shape).toEqual([2, 3, 2]);
    expect(evaluateOne((graph) => nn.mul(constant(graph, [], [2]), constant(graph, [2], [3, 4]))).values).toEqual([6, 8]);
  });

  it('divides floats exactly and truncates int64 division toward zero', () => {
    expect(evaluateOne((graph) => nn.div(constant(graph, [2], [1, -3]), constant(graph, [2], [4, 2]))).values).toEqual([0.25, -1.5]);
    const result = evaluateOne((graph) => nn.div(constant(graph, [4], [7, -7, 7, -7], 'int64'), constant(graph, [4], [2, 2, -2, -2], 'int64')));
    expect(result).toEqual({ dtype: 'int64', shape: [4], values: [3, -3, -3, 3] });
  });

  it('computes Pow, Max and Min', () => {
    expect(evaluateOne((graph) => nn.pow(constant(graph, [3], [2, 3, 4]), constant(graph, [3], [3, 2, 0.5]))).values).toEqual([8, 9, 2]);
    expect(evaluateOne((graph) => nn.maximum(constant(graph, [3], [1, 5, -2]), constant(graph, [], [0]))).values).toEqual([1, 5, 0]);
    expect(evaluateOne((graph) => nn.minimum(constant(graph, [2, 1], [1, 5]), constant(graph, [2], [2, 3]))).values).toEqual([1, 1, 2, 3]);
  });

  it('compares into bool tensors', () => {
    const compare = (op: (a: nn.Operand, b: nn.Operand) => ReturnType<typeof nn.add>) => evaluateOne((graph) => op(constant(graph, [3], [1, 2, 3]), constant(graph, [], [2])));
    expect(compare(nn.equal)).toEqual({ dtype: 'bool', shape: [3], values: [0, 1, 0] });
    expect(compare(nn.less).values).toEqual([1, 0, 0]);
    expect(compare(nn.lessOrEqual).values).toEqual([1, 1, 0]);
    expect(compare(nn.greater).values).toEqual([0, 0, 1]);
    expect(compare(nn.greaterOrEqual).values).toEqual([0, 1, 1]);
  });

  it('computes And, Or and Not', () => {
    const left = (graph: Parameters<typeof constant>[0]) => constant(graph, [4], [0, 0, 1, 1], 'bool');
    const right = (graph: Parameters<typeof constant>[0]) => constant(graph, [4], [0, 1, 0, 1], 'bool');
    expect(evaluateOne((graph) => nn.and(left(graph), right(graph))).values).toEqual([0, 0, 0, 1]);
    expect(evaluateOne((graph) => nn.or(left(graph), right(graph))).values).toEqual([0, 1, 1, 1]);
    expect(evaluateOne((graph) => nn.not(left(graph)))).toEqual({ dtype: 'bool', shape: [4], values: [1, 1, 0, 0] });
  });

  it('computes the unary math ops', () => {
    const apply = (op: (x: ReturnType<typeof constant>) => ReturnType<typeof constant>, values: number[]) => evaluateOne((graph) => op(constant(graph, [values.length], values))).values;
    expect(apply(nn.neg, [1, -2])).toEqual([-1, 2]);
    expect(apply(nn.abs, [-1.5, 2])).toEqual([1.5, 2]);
    expect(apply(nn.sign, [-2, 0, 3])).toEqual([-1, 0, 1]);
    expect(apply(nn.sqrt, [4, 2.25])).toEqual([2, 1.5]);
    expect(apply(nn.exp, [0, 1])).toEqual([1, Math.E]);
    expect(apply(nn.log, [1, Math.E])).toEqual([0, 1]);
    expect(apply(nn.tanh, [0, 1])).toEqual([0, 0.7615941559557649]);
    expect(apply(nn.sigmoid, [0, -1000, 1000, 2])).toEqual([0.5, 0, 1, 0.8807970779778823]);
    expect(apply(nn.relu, [-1, 0, 2])).toEqual([0, 0, 2]);
  });

  it('computes erf to double precision', () => {
    const known: [number, number][] = [
      [0.5, 0.5204998778130465],
      [1, 0.8427007929497149],
      [-2, -0.9953222650189527],
      [3, 0.9999779095030014],
      [0, 0],
      [1e-10, 1.1283791670955126e-10],
      [0.1, 0.1124629160182849],
      [-0.3, -0.32862675945912745],
      [0.46875, 0.49261347321793797],
      [4.5, 0.9999999998033839],
      [5.5, 0.9999999999999927],
      [7, 1],
    ];
    // Values from mpmath at 30 digits; Cody's approximation is within about one ulp.
    const values = evaluateOne((graph) =>
      nn.erf(
        constant(
          graph,
          [known.length],
          known.map(([x]) => x),
        ),
      ),
    ).values;
    values.forEach((value, i) => expect(Math.abs(value - known[i][1])).toBeLessThanOrEqual(5e-16 * Math.abs(known[i][1])));
  });

  it('selects with Where under broadcasting', () => {
    const result = evaluateOne((graph) => nn.where(constant(graph, [2, 1], [1, 0], 'bool'), constant(graph, [3], [1, 2, 3]), constant(graph, [], [-1])));
    expect(result).toEqual({ dtype: 'float64', shape: [2, 3], values: [1, 2, 3, -1, -1, -1] });
  });

  it('casts: float to int64 truncates toward zero, to bool tests != 0', () => {
    const source = [-1.7, 1.7, 2.5, -0.2, 0];
    const toInt = evaluateOne((graph) => nn.cast(constant(graph, [5], source), 'int64'));
    expect(toInt).toEqual({ dtype: 'int64', shape: [5], values: [-1, 1, 2, 0, 0] });
    expect(evaluateOne((graph) => nn.cast(constant(graph, [5], source), 'bool')).values).toEqual([1, 1, 1, 1, 0]);
    expect(evaluateOne((graph) => nn.cast(constant(graph, [2], [1, 0], 'bool'), 'float64')).values).toEqual([1, 0]);
    expect(evaluateOne((graph) => nn.cast(constant(graph, [1], [0.1]), 'float32')).values).toEqual([Math.fround(0.1)]);
  });

  it('rounds every float32 result, as a float32 engine does', () => {
    const feeds = { x: hostTensor('float32', [1], [0.1]), y: hostTensor('float32', [1], [0.2]) };
    const sum = evaluateOne((graph) => nn.add(graph.input('x', [1]), graph.input('y', [1])), feeds).values[0];
    expect(sum).toBe(Math.fround(Math.fround(0.1) + Math.fround(0.2)));
    expect(sum).not.toBe(Math.fround(0.1) + Math.fround(0.2));
    const wide = evaluateOne((graph) => nn.add(graph.input('x', [1], 'float64'), graph.input('y', [1], 'float64')), {
      x: float64([1], [0.1]),
      y: float64([1], [0.2]),
    });
    expect(wide.values[0]).toBe(0.30000000000000004);
  });
});
