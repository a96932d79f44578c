import { evaluateGraph, Graph, hostTensor, Rng } from '@nnd/core';
import { describe, expect, it } from 'vitest';
import { normalizeInput } from './input-normalization.js';
import { createSae } from './sae-registry.js';
import { buildForward, evaluateNamed, forwardFeeds, maxRelativeError, randomTensor, values } from './test-support.js';

describe('normalizeInput (input_unit_norm)', () => {
  it('subtracts the mean and divides by the Bessel-corrected std + 1e-5, and maps back with times std plus mean', () => {
    const graph = new Graph();
    const x = graph.input('x', ['batch', 4], 'float64');
    const normalized = normalizeInput(x, true);
    const [xn, restored] = evaluateGraph(graph, [normalized.x, normalized.restore(normalized.x)], {
      x: hostTensor('float64', [2, 4], [1, 2, 3, 6, -1, -1, -1, 3]),
    });
    // Sample 0: mean 3, squares 4 + 1 + 0 + 9 = 14, std = sqrt(14 / 3).
    const std0 = Math.sqrt(14 / 3) + 1e-5;
    // Sample 1: mean 0, squares 1 + 1 + 1 + 9 = 12, std = 2.
    const std1 = 2 + 1e-5;
    const expected = [-2 / std0, -1 / std0, 0, 3 / std0, -1 / std1, -1 / std1, -1 / std1, 3 / std1];
    expect(maxRelativeError(xn, expected)).toBeLessThan(1e-14);
    // As the reference: the way back multiplies by std, not std + 1e-5, so it
    // returns mean + (x - mean) * std / (std + 1e-5): x up to a relative 1e-5 / std.
    const back0 = (value: number) => 3 + ((value - 3) * (std0 - 1e-5)) / std0;
    const back1 = (value: number) => (value * (std1 - 1e-5)) / std1;
    expect(maxRelativeError(restored, [...[1, 2, 3, 6].map(back0), ...[-1, -1, -1, 3].map(back1)])).toBeLessThan(1e-14);
    expect(maxRelativeError(restored, [1, 2, 3, 6, -1, -1, -1, 3])).toBeLessThan(1e-5);
  });

  it('is the identity when disabled', () => {
    const graph = new Graph();
    const x = graph.input('x', [1, 2], 'float64');
    const normalized = normalizeInput(x, false);
    expect(normalized.x).toBe(x);
    expect(normalized.restore(x)).toBe(x);
  });

  it('maps a perfect reconstruction back to x (sae_out = x) and computes l2 in the normalised space', () => {
    // W_enc = [I, -I], W_dec = [I; -I]: relu(z) - relu(-z) = z, a perfect autoencoder.
    const actSize = 3;
    const sae = createSae({ architecture: 'vanilla', act_size: actSize, dict_size: 2 * actSize, input_unit_norm: true });
    const wEnc: number[] = [];
    for (let a = 0; a < actSize; a++) for (let f = 0; f < 2 * actSize; f++) wEnc.push(f === a ? 1 : f === a + actSize ? -1 : 0);
    const wDec: number[] = [];
    for (let f = 0; f < 2 * actSize; f++) for (let a = 0; a < actSize; a++) wDec.push(f === a ? 1 : f === a + actSize ? -1 : 0);
    const params = {
      W_enc: hostTensor('float64', [actSize, 2 * actSize], wEnc),
      W_dec: hostTensor('float64', [2 * actSize, actSize], wDec),
      b_enc: hostTensor('float64', [2 * actSize], new Float64Array(2 * actSize)),
      b_dec: hostTensor('float64', [actSize], new Float64Array(actSize)),
    };
    const x = randomTensor(new Rng(4), [5, actSize], 'float64', 10, 50);
    const built = buildForward(sae, 'batch');
    const out = evaluateNamed(built.graph, { sae: built.output.reconstruction, l2: built.output.losses.l2_loss }, forwardFeeds(x, params, sae.initialState()));
    // x up to the reference's std / (std + 1e-5) factor on the way back (std ~ 10 here).
    expect(maxRelativeError(out.sae, x)).toBeLessThan(1e-6);
    const xs = values(x);
    const exact = xs.map((value, i) => {
      const row = xs.slice(Math.floor(i / actSize) * actSize, Math.floor(i / actSize) * actSize + actSize);
      const mean = row.reduce((sum, v) => sum + v, 0) / actSize;
      const std = Math.sqrt(row.reduce((sum, v) => sum + (v - mean) ** 2, 0) / (actSize - 1));
      return mean + ((value - mean) * std) / (std + 1e-5);
    });
    expect(maxRelativeError(out.sae, exact)).toBeLessThan(1e-14);
    expect(values(out.l2)[0]).toBeLessThan(1e-28);
  });
});
