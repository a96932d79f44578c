import { hostTensor, Rng, type HostTensor } from '@nnd/core';
import { describe, expect, it } from 'vitest';
import { createSae } from './sae-registry.js';
import { buildForward, evaluateNamed, forwardFeeds, gradientOutputs, maxRelativeError, randomTensor, values } from './test-support.js';

const f64 = (shape: number[], data: number[]) => hostTensor('float64', shape, data);

function run(sae: ReturnType<typeof createSae>, x: HostTensor, params: Record<string, HostTensor>, batch: number) {
  const built = buildForward(sae, batch);
  const outputs = {
    acts: built.output.featureActs,
    l2: built.output.losses.l2_loss,
    l1: built.output.losses.l1_loss,
    l0Norm: built.output.metrics.l0_norm,
    l1Norm: built.output.metrics.l1_norm,
    ...gradientOutputs(built),
  };
  return evaluateNamed(built.graph, outputs, forwardFeeds(x, params, sae.initialState()));
}

describe('JumpReLU SAE', () => {
  it('matches hand-computed outputs and straight-through gradients on a 2x2 case', () => {
    const sae = createSae({ architecture: 'jumprelu', act_size: 2, dict_size: 2, bandwidth: 0.5, l1_coeff: 0.2 });
    // W_enc = W_dec = I, zero biases, thresholds t = [1, 0.5].
    const params = {
      W_enc: f64([2, 2], [1, 0, 0, 1]),
      W_dec: f64([2, 2], [1, 0, 0, 1]),
      b_enc: f64([2], [0, 0]),
      b_dec: f64([2], [0, 0]),
      log_threshold: f64([2], [0, Math.log(0.5)]),
    };
    const x = f64([2, 2], [1.2, 0.3, 0.9, 2.0]);
    const out = run(sae, x, params, 2);
    // pre = x; out = pre * (pre > t) = [[1.2, 0], [0, 2]].
    expect(values(out.acts)).toEqual([1.2, 0, 0, 2]);
    // l2 = ((0.3)^2 + (0.9)^2) / 4; l0 = 1 per sample; l1_loss = 0.2 * 1.
    expect(values(out.l2)[0]).toBeCloseTo(0.225, 12);
    expect(values(out.l1)[0]).toBeCloseTo(0.2, 12);
    expect(values(out.l0Norm)[0]).toBe(1);
    expect(values(out.l1Norm)[0]).toBeCloseTo(1.6, 12);
    // d recon = 2 (recon - x) / 4 = [[0, -0.15], [-0.45, 0]] = d out (W_dec = I).
    // JumpReLU: d log t = sum_b -(t / bw) R((pre - t) / bw) d out
    //   f0: sample 1 only (|0.9 - 1| < 0.25): -(1 / 0.5) * -0.45 = 0.9
    //   f1: sample 0 only (|0.3 - 0.5| < 0.25): -(0.5 / 0.5) * -0.15 = 0.15
    // Step: d log t = sum_b -(1 / bw) R((out - t) / bw) * (l1_coeff / B)
    //   f0: sample 0 only (|1.2 - 1| < 0.25): -2 * 0.1 = -0.2; f1: none.
    expect(values(out['grad.log_threshold'])[0]).toBeCloseTo(0.7, 12);
    expect(values(out['grad.log_threshold'])[1]).toBeCloseTo(0.15, 12);
    // d pre = (pre > t) * d out is zero at both kept entries, so the encoder gets nothing.
    expect(values(out['grad.W_enc'])).toEqual([0, 0, 0, 0]);
    // d W_dec = out^T d recon; d b_dec = sum over samples of d recon.
    expect(values(out['grad.W_dec']).map((value) => Number(value.toFixed(12)))).toEqual([0, -0.18, -0.9, 0]);
    expect(values(out['grad.b_dec']).map((value) => Number(value.toFixed(12)))).toEqual([-0.45, -0.15]);
  });

  it('matches the straight-through formulas on a random case', () => {
    const actSize = 3;
    const dictSize = 5;
    const batch = 6;
    const bandwidth = 1.5;
    const l1Coeff = 0.3;
    const sae = createSae({ architecture: 'jumprelu', act_size: actSize, dict_size: dictSize, bandwidth, l1_coeff: l1Coeff });
    const rng = new Rng(11);
    const params = {
      W_enc: randomTensor(rng, [actSize, dictSize]),
      W_dec: randomTensor(rng, [dictSize, actSize]),
      b_enc: randomTensor(rng, [dictSize], 'float64', 0.2),
      b_dec: randomTensor(rng, [actSize], 'float64', 0.2),
      log_threshold: randomTensor(rng, [dictSize], 'float64', 0.3, -0.7),
    };
    const x = randomTensor(rng, [batch, actSize]);
    const out = run(sae, x, params, batch);

    const [xs, wEnc, wDec, bEnc, bDec, logT] = [x, params.W_enc, params.W_dec, params.b_enc, params.b_dec, params.log_threshold].map(values);
    const rectangle = (u: number) => Number(Math.abs(u) < 0.5);
    const dWEnc = new Array(actSize * dictSize).fill(0);
    const dLogT = new Array(dictSize).fill(0);
    let rectangleHits = 0;
    for (let b = 0; b < batch; b++) {
      const raw = Array.from({ length: dictSize }, (_, f) => bEnc[f] + xs.slice(b * actSize, b * actSize + actSize).reduce((s, v, a) => s + v * wEnc[a * dictSize + f], 0));
      const pre = raw.map((value) => Math.max(0, value));
      const t = logT.map(Math.exp);
      const acts = pre.map((value, f) => (value > t[f] ? value : 0));
      const recon = Array.from({ length: actSize }, (_, a) => bDec[a] + acts.reduce((s, v, f) => s + v * wDec[f * actSize + a], 0));
      const dRecon = recon.map((value, a) => (2 * (value - xs[b * actSize + a])) / (batch * actSize));
      const dActs = Array.from({ length: dictSize }, (_, f) => dRecon.reduce((s, v, a) => s + v * wDec[f * actSize + a], 0));
      for (let f = 0; f < dictSize; f++) {
        rectangleHits += rectangle((pre[f] - t[f]) / bandwidth) + rectangle((acts[f] - t[f]) / bandwidth);
        dLogT[f] += -(t[f] / bandwidth) * rectangle((pre[f] - t[f]) / bandwidth) * dActs[f];
        dLogT[f] += -(1 / bandwidth) * rectangle((acts[f] - t[f]) / bandwidth) * (l1Coeff / batch);
        const dPre = (pre[f] > t[f] ? dActs[f] : 0) * (raw[f] > 0 ? 1 : 0);
        for (let a = 0; a < actSize; a++) dWEnc[a * dictSize + f] += xs[b * actSize + a] * dPre;
      }
    }
    expect(rectangleHits).toBeGreaterThan(3);
    expect(maxRelativeError(out['grad.log_threshold'], dLogT)).toBeLessThan(1e-12);
    expect(maxRelativeError(out['grad.W_enc'], dWEnc)).toBeLessThan(1e-12);
  });

  it('starts with log_threshold = 0 (threshold 1) beside the shared initialisation', () => {
    const sae = createSae({ architecture: 'jumprelu', act_size: 3, dict_size: 4 });
    const params = sae.initialParams();
    expect(Object.keys(params).sort()).toEqual(['W_dec', 'W_enc', 'b_dec', 'b_enc', 'log_threshold']);
    expect(Array.from(params.log_threshold.data as Float32Array)).toEqual([0, 0, 0, 0]);
  });
});
