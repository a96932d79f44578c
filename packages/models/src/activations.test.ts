import { Graph, evaluateGraph, geluTanh, grad, reduceSum } from '@nnd/core';
import { describe, expect, it } from 'vitest';
import { ACTIVATIONS } from './activations.js';

describe('activations', () => {
  it("gelu_new equals core's geluTanh and has a finite gradient at exactly 0", () => {
    const graph = new Graph();
    const x = graph.input('x', [5]);
    const ours = ACTIVATIONS.gelu_new(x);
    const [gradient] = grad(reduceSum(ours), [x]);
    const feeds = { x: { dtype: 'float32' as const, shape: [5], data: Float32Array.of(-2, -0.5, 0, 0.7, 3) } };
    const [value, reference, slope] = evaluateGraph(graph, [ours, geluTanh(x), gradient], feeds);
    for (let i = 0; i < 5; i++) expect(value.data[i]).toBeCloseTo(Number(reference.data[i]), 6);
    expect(slope.data[2]).toBeCloseTo(0.5, 6);
    expect([...(slope.data as Float32Array)].every(Number.isFinite)).toBe(true);
  });

  it('gelu is the exact erf form and silu is x * sigmoid(x)', () => {
    const graph = new Graph();
    const x = graph.input('x', [3]);
    const [gelu, silu] = evaluateGraph(graph, [ACTIVATIONS.gelu(x), ACTIVATIONS.silu(x)], { x: { dtype: 'float32', shape: [3], data: Float32Array.of(-1, 0, 2) } });
    expect(gelu.data[0]).toBeCloseTo(-0.15865525, 6);
    expect(gelu.data[2]).toBeCloseTo(1.9544997, 6);
    expect(silu.data[2]).toBeCloseTo(2 / (1 + Math.exp(-2)), 6);
  });
});
