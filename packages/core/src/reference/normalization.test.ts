import { describe, expect, it } from 'vitest';
import * as nn from '../primitives.js';
import { constant, evaluateOne } from './test-support.js';

describe('reference normalisation kernels', () => {
  it('computes softmax and log-softmax along an axis', () => {
    // Correctly rounded values from mpmath; the float64 kernel may be an ulp off.
    const close = (values: number[], expected: number[]) => values.forEach((value, i) => expect(value).toBeCloseTo(expected[i], 15));
    close(evaluateOne((graph) => nn.softmax(constant(graph, [3], [1, 2, 3]))).values, [0.09003057317038046, 0.24472847105479764, 0.6652409557748219]);
    close(evaluateOne((graph) => nn.logSoftmax(constant(graph, [3], [1, 2, 3]))).values, [-2.40760596444438, -1.4076059644443804, -0.4076059644443803]);
    expect(evaluateOne((graph) => nn.softmax(constant(graph, [2, 2], [0, 5, 0, 5]), 0)).values).toEqual([0.5, 0.5, 0.5, 0.5]);
  });

  it('stays finite for large logits', () => {
    expect(evaluateOne((graph) => nn.softmax(constant(graph, [2], [1000, 1000]))).values).toEqual([0.5, 0.5]);
    expect(evaluateOne((graph) => nn.logSoftmax(constant(graph, [2], [-1000, 0]))).values).toEqual([-1000, 0]);
  });

  it('keeps the upper or lower triangle of the last two axes, batched', () => {
    const x = (graph: Parameters<typeof constant>[0]) => constant(graph, [2, 2, 3], [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    expect(evaluateOne((graph) => nn.trilu(x(graph))).values).toEqual([1, 2, 3, 0, 5, 6, 7, 8, 9, 0, 11, 12]);
    expect(evaluateOne((graph) => nn.trilu(x(graph), { upper: false })).values).toEqual([1, 0, 0, 4, 5, 0, 7, 0, 0, 10, 11, 0]);
    expect(evaluateOne((graph) => nn.trilu(x(graph), { upper: true, k: 1 })).values).toEqual([0, 2, 3, 0, 0, 6, 0, 8, 9, 0, 0, 12]);
    expect(evaluateOne((graph) => nn.trilu(x(graph), { upper: false, k: -1 })).values).toEqual([0, 0, 0, 4, 0, 0, 0, 0, 0, 10, 0, 0]);
  });

  it('layer-normalises over the trailing axes with biased variance', () => {
    const x = (graph: Parameters<typeof constant>[0]) => constant(graph, [2, 3], [1, 2, 3, 2, 4, 6]);
    const plain = evaluateOne((graph) => nn.layerNorm(x(graph), constant(graph, [3], [1, 1, 1]), undefined, { epsilon: 0 }));
    const unit = Math.sqrt(1.5);
    expect(plain.values).toEqual([-unit, 0, unit, -unit, 0, unit]);
    const affine = evaluateOne((graph) => nn.layerNorm(x(graph), constant(graph, [3], [1, 2, 3]), constant(graph, [3], [0, 1, 2]), { epsilon: 0 }));
    expect(affine.values).toEqual([-unit, 1, 2 + 3 * unit, -unit, 1, 2 + 3 * unit]);
    // Over both axes: mean 3, variance 8/3, and a scalar scale broadcast over the normalised shape.
    const whole = evaluateOne((graph) => nn.layerNorm(x(graph), constant(graph, [], [2]), undefined, { axis: 0, epsilon: 1 }));
    expect(whole.values).toEqual([1, 2, 3, 2, 4, 6].map((value) => (2 * (value - 3)) / Math.sqrt(8 / 3 + 1)));
  });
});
