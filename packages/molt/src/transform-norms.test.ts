import { evaluateGraph, Graph, grad, hostTensor, matmul, mul, reduceSum, Rng, sqrt, transpose, type HostTensor } from '@nnd/core';
import { describe, expect, it } from 'vitest';
import { groupTransformNorms } from './transform-norms.js';

describe('groupTransformNorms', () => {
  it('has the gradient autodiff gives for the Gram formula, for every factor', () => {
    const [count, dIn, rank, dOut] = [3, 5, 2, 4];
    const rng = new Rng(12);
    const graph = new Graph();
    const v = graph.input('v', [count, dIn, rank], 'float64');
    const u = graph.input('u', [count, rank, dOut], 'float64');
    const weights = graph.input('w', [count], 'float64');
    const plain = sqrt(reduceSum(mul(matmul(transpose(v, [0, 2, 1]), v), matmul(u, transpose(u, [0, 2, 1]))), [1, 2]));
    const fast = groupTransformNorms(v, u);
    // A weighted sum, so that each transform's cotangent differs.
    const [dvPlain, duPlain] = grad(reduceSum(mul(plain, weights)), [v, u]);
    const [dvFast, duFast] = grad(reduceSum(mul(fast, weights)), [v, u]);
    const feeds: Record<string, HostTensor> = {
      v: hostTensor('float64', [count, dIn, rank], Float64Array.from(rng.normal(count * dIn * rank))),
      u: hostTensor('float64', [count, rank, dOut], Float64Array.from(rng.normal(count * rank * dOut))),
      w: hostTensor('float64', [count], [0.5, -1.5, 2]),
    };
    const [a, b, c, d, e, f] = evaluateGraph(graph, [plain, fast, dvPlain, dvFast, duPlain, duFast], feeds).map((tensor) => Array.from(tensor.data as Float64Array));
    b.forEach((value, index) => expect(value).toBeCloseTo(a[index], 12));
    d.forEach((value, index) => expect(value).toBeCloseTo(c[index], 12));
    f.forEach((value, index) => expect(value).toBeCloseTo(e[index], 12));
  });
});
