import { evaluateGraph, Graph, grad, matmul, Rng, sub } from '@nnd/core';
import { describe, expect, it } from 'vitest';
import { centeredEncoder } from './centered-encoder.js';
import { maxRelativeError, randomTensor } from './test-support.js';

describe('centeredEncoder', () => {
  it('has the gradients of generic autodiff of (x - b_dec) @ W_enc', () => {
    const graph = new Graph();
    const x = graph.input('x', ['batch', 3], 'float64');
    const bDec = graph.input('b_dec', [3], 'float64');
    const wEnc = graph.input('W_enc', [3, 5], 'float64');
    const cotangent = graph.input('cotangent', ['batch', 5], 'float64');
    const custom = centeredEncoder(x, bDec, wEnc).preactivations;
    const generic = matmul(sub(x, bDec), wEnc);
    const customGradients = grad(custom, [x, bDec, wEnc], { cotangent });
    const genericGradients = grad(generic, [x, bDec, wEnc], { cotangent });
    const rng = new Rng(31);
    const results = evaluateGraph(graph, [custom, generic, ...customGradients, ...genericGradients], {
      x: randomTensor(rng, [4, 3]),
      b_dec: randomTensor(rng, [3]),
      W_enc: randomTensor(rng, [3, 5]),
      cotangent: randomTensor(rng, [4, 5]),
    });
    expect(maxRelativeError(results[0], results[1])).toBe(0);
    for (let i = 0; i < 3; i++) expect(maxRelativeError(results[2 + i], results[5 + i])).toBeLessThan(1e-14);
  });
});
