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

describe('groupTransformNorms of a zero factor', () => {
  it('is 0 with a finite gradient (0), where autodiff of sqrt gives NaN', () => {
    const graph = new Graph();
    const v = graph.input('v', [2, 3, 2], 'float64');
    const u = graph.input('u', [2, 2, 3], 'float64');
    const norms = groupTransformNorms(v, u);
    const [dv, du] = grad(reduceSum(norms), [v, u]);
    const rng = new Rng(2);
    const uData = Float64Array.from(rng.normal(12));
    uData.fill(0, 0, 6); // transform 0's U is 0, transform 1's is not
    const [n, a, b] = evaluateGraph(graph, [norms, dv, du], {
      v: hostTensor('float64', [2, 3, 2], Float64Array.from(rng.normal(12))),
      u: hostTensor('float64', [2, 2, 3], uData),
    }).map((tensor) => Array.from(tensor.data as Float64Array));
    expect(n[0]).toBe(0);
    expect(n[1]).toBeGreaterThan(0);
    expect([...a, ...b].every(Number.isFinite)).toBe(true);
    expect(a.slice(0, 6).every((value) => value === 0)).toBe(true);
    expect(a.slice(6).some((value) => value !== 0)).toBe(true);
  });
});
