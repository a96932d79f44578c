import { evaluateGraph, Graph, hostTensor, Rng } from '@nnd/core';
import { describe, expect, it } from 'vitest';
import { constrainDecoder } from './decoder-constraint.js';
import { randomTensor, values } from './test-support.js';

function constrain(weights: number[], gradient: number[], rows: number, columns: number) {
  const graph = new Graph();
  const wDec = graph.input('W_dec', [rows, columns], 'float64');
  const gDec = graph.input('g', [rows, columns], 'float64');
  const other = graph.input('b_dec', [columns], 'float64');
  const result = constrainDecoder(graph, { W_dec: wDec, b_dec: other }, { W_dec: gDec, b_dec: other });
  expect(result.params.b_dec).toBe(other);
  expect(result.gradients.b_dec).toBe(other);
  const [unit, projected] = evaluateGraph(graph, [result.params.W_dec, result.gradients.W_dec], {
    W_dec: hostTensor('float64', [rows, columns], weights),
    g: hostTensor('float64', [rows, columns], gradient),
  });
  return { unit: values(unit), projected: values(projected) };
}

describe('constrainDecoder', () => {
  it('removes the radial gradient and normalises rows on a hand-checked 2x2 case', () => {
    // Row 0 = (3, 4) -> (0.6, 0.8); g0 = (1, 0): g0 . u = 0.6, so g0 - 0.6 u = (0.64, -0.48).
    // Row 1 = (0, 2) -> (0, 1); g1 = (2, 5): g1 . u = 5, so (2, 0).
    const { unit, projected } = constrain([3, 4, 0, 2], [1, 0, 2, 5], 2, 2);
    expect(unit.map((value) => Number(value.toFixed(12)))).toEqual([0.6, 0.8, 0, 1]);
    expect(projected.map((value) => Number(value.toFixed(12)))).toEqual([0.64, -0.48, 2, 0]);
  });

  it('leaves unit-norm rows whose gradient is orthogonal to them on a random case', () => {
    const rng = new Rng(5);
    const rows = 7;
    const columns = 4;
    const { unit, projected } = constrain(values(randomTensor(rng, [rows, columns], 'float64', 3)), values(randomTensor(rng, [rows, columns])), rows, columns);
    for (let row = 0; row < rows; row++) {
      const u = unit.slice(row * columns, row * columns + columns);
      const g = projected.slice(row * columns, row * columns + columns);
      expect(Math.hypot(...u)).toBeCloseTo(1, 12);
      expect(u.reduce((sum, value, i) => sum + value * g[i], 0)).toBeCloseTo(0, 12);
      expect(Math.hypot(...g)).toBeGreaterThan(0.01);
    }
  });
});
