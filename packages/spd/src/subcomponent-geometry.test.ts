import { hostTensor, Rng } from '@nnd/core';
import { describe, expect, it } from 'vitest';
import { randomUnitEmbedding } from './residual-mlp.js';
import { columnMatches, matrixRows, neuronContributions } from './subcomponent-geometry.js';

/** W [features, hidden] with one rank-one subcomponent per feature: V = diag(scales) (plus unused columns), U = W's rows / scales. */
function exactDecomposition(W: number[][], scales: number[], extra: number) {
  const features = W.length;
  const hidden = W[0].length;
  const C = features + extra;
  const V = new Float32Array(features * C);
  const U = new Float32Array(C * hidden);
  W.forEach((row, feature) => {
    // Component order reversed, to show the match is by direction, not position.
    const c = features - 1 - feature;
    V[feature * C + c] = scales[feature];
    row.forEach((value, h) => (U[c * hidden + h] = value / scales[feature]));
  });
  for (let c = features; c < C; c++) U[c * hidden] = 0.01;
  return { V: hostTensor('float32', [features, C], V), U: hostTensor('float32', [C, hidden], U) };
}

describe('the paper\u2019s subcomponent geometry', () => {
  it('columnMatches finds each feature\u2019s subcomponent with MMCS and ML2R of 1 for an exact decomposition', () => {
    const W = [
      [1, 0, 0.5],
      [0, -2, 0],
      [0.3, 0.3, 0.3],
    ];
    const { V, U } = exactDecomposition(W, [2, -0.5, 3], 2);
    const matches = columnMatches(hostTensor('float32', [3, 3], new Float32Array(W.flat())), V, U);
    expect(matches.component).toEqual([2, 1, 0]);
    matches.cosine.forEach((value) => expect(value).toBeCloseTo(1, 5));
    matches.l2Ratio.forEach((value) => expect(value).toBeCloseTo(1, 5));
    expect(matches.mmcs).toBeCloseTo(1, 5);
    expect(matches.ml2r).toBeCloseTo(1, 5);
  });

  it('columnMatches reports shrinkage and misalignment', () => {
    const W = [
      [1, 0],
      [0, 1],
    ];
    // Both features on one component along (1, 1) / 2: cosine 1/sqrt(2), norm 1/sqrt(2) of the target's.
    const V = hostTensor('float32', [2, 1], new Float32Array([1, 1]));
    const U = hostTensor('float32', [1, 2], new Float32Array([0.5, 0.5]));
    const matches = columnMatches(hostTensor('float32', [2, 2], new Float32Array(W.flat())), V, U);
    expect(matches.mmcs).toBeCloseTo(Math.SQRT1_2, 5);
    expect(matches.ml2r).toBeCloseTo(Math.SQRT1_2, 5);
  });

  it('neuronContributions are the same for the model and for components that split W_in by feature', () => {
    const features = 4;
    const dEmbed = 6;
    const dMlp = 3;
    const rng = new Rng(1);
    const embedding = randomUnitEmbedding(features, dEmbed, rng);
    const mlpIn = hostTensor('float32', [dEmbed, dMlp], rng.normal(dEmbed * dMlp));
    const mlpOut = hostTensor('float32', [dMlp, dEmbed], rng.normal(dMlp * dEmbed));
    // W_in = V_in U_in with V_in = I (one component per embedding direction) and U_in = W_in: subcomponent d reads direction d.
    // With an exact W_out = V_out U_out, feature i's best subcomponent contributes e_i[d] W_in[d, :] * (W_out e_i); the model sums over d.
    const identity = new Float32Array(dEmbed * dEmbed);
    for (let d = 0; d < dEmbed; d++) identity[d * dEmbed + d] = 1;
    const eye = hostTensor('float32', [dEmbed, dEmbed], identity);
    const result = neuronContributions(embedding, mlpIn, mlpOut, { V_in: eye, U_in: mlpIn, V_out: hostTensor('float32', [dMlp, dMlp], new Float32Array([1, 0, 0, 0, 1, 0, 0, 0, 1])), U_out: mlpOut });
    const e = matrixRows(embedding);
    const win = matrixRows(mlpIn);
    const wout = matrixRows(mlpOut);
    for (let i = 0; i < features; i++) {
      const out = wout.map((row) => row.reduce((sum, value, d) => sum + value * e[i][d], 0));
      const model = win[0].map((_, n) => e[i].reduce((sum, value, d) => sum + value * win[d][n], 0) * out[n]);
      result.model[i].forEach((value, n) => expect(value).toBeCloseTo(model[n], 4));
      const c = result.component[i];
      result.subcomponent[i].forEach((value, n) => expect(value).toBeCloseTo(e[i][c] * win[c][n] * out[n], 4));
      // The chosen subcomponent holds the largest single contribution of any.
      const best = Math.max(...e[i].flatMap((value, d) => win[d].map((w, n) => value * w * out[n])));
      expect(Math.max(...result.subcomponent[i])).toBeCloseTo(best, 4);
    }
  });
});
