import { evaluateGraph, Graph, hostTensor, Rng, type HostTensor, type Tensor } from '@nnd/core';
import { describe, expect, it } from 'vitest';
import { matrixProduct, matrixRows } from './subcomponent-geometry.js';
import { randomUnitEmbedding, residualMlpTarget, type ResidualMlpWeights } from './residual-mlp.js';

const rng = new Rng(3);
const tensor = (rows: number, columns: number) => hostTensor('float32', [rows, columns], rng.normal(rows * columns, 0, 0.5));
const weights: ResidualMlpWeights = { embedding: randomUnitEmbedding(3, 4, rng), layers: [{ mlpIn: tensor(4, 2), mlpOut: tensor(2, 4) }] };
const x = hostTensor('float32', [2, 3], new Float32Array([0.5, 0, -0.25, 0, 1, 0]));

function run(products: Record<string, (input: Tensor, W: Tensor) => Tensor> = {}): number[] {
  const target = residualMlpTarget(weights);
  const graph = new Graph();
  const frozen = Object.fromEntries(Object.entries(target.weights()).map(([name, value]) => [name, graph.constant(value)]));
  const [out] = evaluateGraph(graph, [target.forward(graph, { features: graph.constant(x) }, frozen, products)], {});
  return Array.from(out.data as ArrayLike<number>, Number);
}

/** out = (r + relu(r W_in) W_out) W_E^T with r = x W_E, by hand. */
function byHand(): number[] {
  const E = matrixRows(weights.embedding);
  const residual = matrixProduct(matrixRows(x), E);
  const hidden = matrixProduct(residual, matrixRows(weights.layers[0].mlpIn)).map((row) => row.map((value) => Math.max(0, value)));
  const after = matrixProduct(hidden, matrixRows(weights.layers[0].mlpOut)).map((row, i) => row.map((value, j) => value + residual[i][j]));
  const unembedding = E[0].map((_, column) => E.map((row) => row[column]));
  return matrixProduct(after, unembedding).flat();
}

describe('residualMlpTarget (the paper\u2019s toy model of compressed computation)', () => {
  it('computes (r + relu(r W_in) W_out) W_E^T with r = x W_E', () => {
    const got = run();
    const expected = byHand();
    expect(got).toHaveLength(6);
    got.forEach((value, index) => expect(value).toBeCloseTo(expected[index], 5));
  });

  it('names its matrices as spd does and lets SPD compute their products', () => {
    const target = residualMlpTarget(weights);
    expect([...target.matrices.entries()]).toEqual([
      ['layers.0.mlp_in', { dIn: 4, dOut: 2 }],
      ['layers.0.mlp_out', { dIn: 2, dOut: 4 }],
    ]);
    expect(target.weightOf('layers.0.mlp_in')).toBe('layers.0.mlp_in');
    expect(target.outputLoss).toBe('mse');
    // A product that zeroes mlp_out leaves the residual path alone: out = x W_E W_E^T.
    const zeroed = run({ 'layers.0.mlp_out': (input: Tensor) => input.graph.constant(hostTensor('float32', [2, 4], new Float32Array(8))) });
    const E = matrixRows(weights.embedding);
    const expected = matrixProduct(
      matrixProduct(matrixRows(x), E),
      E[0].map((_, column) => E.map((row) => row[column])),
    ).flat();
    zeroed.forEach((value, index) => expect(value).toBeCloseTo(expected[index], 5));
  });

  it('randomUnitEmbedding gives unit-norm rows', () => {
    const embedding: HostTensor = randomUnitEmbedding(5, 7, new Rng(0));
    for (const row of matrixRows(embedding)) expect(Math.hypot(...row)).toBeCloseTo(1, 5);
  });
});
