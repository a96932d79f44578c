import { evaluateGraph, grad, Graph, hostTensor, mul, reduceSum } from '@nnd/core';
import { describe, expect, it } from 'vitest';
import { lowerLeakyHardSigmoid, upperLeakyHardSigmoid } from './sigmoids.js';

const xs = [-1, 0, 0.5, 1, 2];

/** Values and gradients of f at xs under the upstream gradient dy (same for every element). */
function run(f: typeof lowerLeakyHardSigmoid, dy: number) {
  const graph = new Graph();
  const x = graph.input('x', [xs.length]);
  const y = f(x);
  const [dx] = grad(reduceSum(mul(y, dy)), [x]);
  const [values, gradients] = evaluateGraph(graph, [y, dx], { x: hostTensor('float32', [xs.length], xs) });
  return { values: Array.from(values.data as Float32Array), gradients: Array.from(gradients.data as Float32Array) };
}

describe('leaky hard sigmoids (goodfire-ai/spd sigmoids.py)', () => {
  it('lower-leaky: clamp(x, 0, 1); below 0 the gradient leaks (x 0.01) only when it pushes x up', () => {
    const down = run(lowerLeakyHardSigmoid, 1);
    expect(down.values).toEqual([0, 0, 0.5, 1, 1]);
    expect(down.gradients).toEqual([0, 0, 1, 1, 0]);
    const up = run(lowerLeakyHardSigmoid, -1);
    expect(up.gradients.map((value) => Math.fround(value))).toEqual([-0.01, -0.01, -1, -1, 0].map(Math.fround));
  });

  it("upper-leaky: clamp(x, 0, 1) below 1 and 1 + 0.01 (x - 1) above, whatever the gradient's sign", () => {
    const { values, gradients } = run(upperLeakyHardSigmoid, 1);
    expect(values.map((value) => Math.fround(value))).toEqual([0, 0, 0.5, 1, 1.01].map(Math.fround));
    expect(gradients.map((value) => Math.fround(value))).toEqual([0, 1, 1, 1, 0.01].map(Math.fround));
  });
});
