import { Graph, evaluateGraph, geluTanh, grad, reduceSum } from '@nnd/core';
import { describe, expect, it } from 'vitest';
import { ACTIVATIONS } from './activations.js';

describe('activations', () => {
  it("gelu_new is core's geluTanh: GPT-2's formula, with a finite gradient at exactly 0", () => {
    expect(ACTIVATIONS.gelu_new).toBe(geluTanh);
    const graph = new Graph();
    const x = graph.input('x', [5]);
    const output = ACTIVATIONS.gelu_new(x);
    const [gradient] = grad(reduceSum(output), [x]);
    const inputs = [-2, -0.5, 0, 0.7, 3];
    const [value, slope] = evaluateGraph(graph, [output, gradient], { x: { dtype: 'float32', shape: [5], data: Float32Array.from(inputs) } });
    // In float64: 0.5x(1 + tanh(u)), u = sqrt(2/pi)(x + 0.044715x^3), and its derivative.
    const c = Math.sqrt(2 / Math.PI);
    inputs.forEach((input, i) => {
      const t = Math.tanh(c * (input + 0.044715 * input ** 3));
      expect(value.data[i]).toBeCloseTo(0.5 * input * (1 + t), 6);
      expect(slope.data[i]).toBeCloseTo(0.5 * (1 + t) + 0.5 * input * (1 - t * t) * c * (1 + 3 * 0.044715 * input ** 2), 5);
    });
    // Pow's gradient is b * a^(b-1), so a pre-activation of exactly 0 gives 0.5, not 0/0 (once NaN at step 212 of the tiny LM's training).
    expect(slope.data[2]).toBe(0.5);
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
