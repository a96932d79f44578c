import { Rng, type HostTensor } from '@nnd/core';
import { describe, expect, it } from 'vitest';
import { createSae } from './sae-registry.js';
import { buildForward, evaluateNamed, forwardFeeds, gradientOutputs, maxRelativeError, randomTensor, values } from './test-support.js';

describe('Vanilla SAE', () => {
  it('computes relu((x - b_dec) W_enc + b_enc), the decoder, l2 + l1_coeff * l1_norm and their gradients', () => {
    const [actSize, dictSize, batch, l1Coeff] = [3, 5, 4, 0.25];
    const sae = createSae({ architecture: 'vanilla', act_size: actSize, dict_size: dictSize, l1_coeff: l1Coeff });
    const rng = new Rng(17);
    const params: Record<string, HostTensor> = {
      ...sae.initialParams(),
      b_enc: randomTensor(rng, [dictSize], 'float64', 0.3),
      b_dec: randomTensor(rng, [actSize], 'float64', 0.3),
    };
    const x = randomTensor(rng, [batch, actSize]);
    const built = buildForward(sae, 'batch');
    const out = evaluateNamed(
      built.graph,
      {
        acts: built.output.featureActs,
        recon: built.output.reconstruction,
        l2: built.output.losses.l2_loss,
        l1: built.output.losses.l1_loss,
        l0Norm: built.output.metrics.l0_norm,
        ...gradientOutputs(built),
      },
      forwardFeeds(x, params, sae.initialState()),
    );

    const [xs, wEnc, wDec, bEnc, bDec] = [x, params.W_enc, params.W_dec, params.b_enc, params.b_dec].map(values);
    const acts: number[] = [];
    const recon: number[] = [];
    const dBDec = new Array(actSize).fill(0);
    let l2 = 0;
    let l1 = 0;
    for (let b = 0; b < batch; b++) {
      const centered = xs.slice(b * actSize, b * actSize + actSize).map((value, a) => value - bDec[a]);
      const raw = Array.from({ length: dictSize }, (_, f) => bEnc[f] + centered.reduce((s, v, a) => s + v * wEnc[a * dictSize + f], 0));
      const row = raw.map((value) => Math.max(0, value));
      acts.push(...row);
      l1 += row.reduce((s, v) => s + Math.abs(v), 0);
      const rowRecon = Array.from({ length: actSize }, (_, a) => bDec[a] + row.reduce((s, v, f) => s + v * wDec[f * actSize + a], 0));
      recon.push(...rowRecon);
      const dRecon = rowRecon.map((value, a) => (2 * (value - xs[b * actSize + a])) / (batch * actSize));
      l2 += rowRecon.reduce((s, v, a) => s + (v - xs[b * actSize + a]) ** 2, 0);
      // d acts from l2 and l1, through relu, back to x - b_dec (which enters with a minus sign).
      const dActs = Array.from({ length: dictSize }, (_, f) => dRecon.reduce((s, v, a) => s + v * wDec[f * actSize + a], 0) + (row[f] > 0 ? l1Coeff / batch : 0));
      const dRaw = dActs.map((value, f) => (raw[f] > 0 ? value : 0));
      for (let a = 0; a < actSize; a++) dBDec[a] += dRecon[a] - dRaw.reduce((s, v, f) => s + v * wEnc[a * dictSize + f], 0);
    }
    expect(maxRelativeError(out.acts, acts)).toBeLessThan(1e-12);
    expect(maxRelativeError(out.recon, recon)).toBeLessThan(1e-12);
    expect(values(out.l2)[0]).toBeCloseTo(l2 / (batch * actSize), 12);
    expect(values(out.l1)[0]).toBeCloseTo((l1Coeff * l1) / batch, 12);
    expect(values(out.l0Norm)[0]).toBeCloseTo(acts.filter((value) => value > 0).length / batch, 12);
    expect(maxRelativeError(out['grad.b_dec'], dBDec)).toBeLessThan(1e-12);
    expect(Object.keys(built.output.losses).sort()).toEqual(['l1_loss', 'l2_loss']);
    expect(Object.keys(built.output.metrics).sort()).toEqual(['l0_norm', 'l1_norm', 'n_dead_in_batch', 'num_dead_features']);
  });
});
