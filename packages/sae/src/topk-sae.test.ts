import { Rng } from '@nnd/core';
import { describe, expect, it } from 'vitest';
import { createSae } from './sae-registry.js';
import { buildForward, evaluateNamed, forwardFeeds, randomTensor, values } from './test-support.js';

describe('TopK SAE', () => {
  const config = { architecture: 'topk', act_size: 4, dict_size: 8, top_k: 3, top_k_aux: 4 } as const;

  it.each([true, false])('keeps exactly top_k non-zeros per sample (sparse_decoder %s)', (sparse) => {
    const sae = createSae({ ...config, sparse_decoder: sparse });
    const built = buildForward(sae, 'batch');
    const rng = new Rng(1);
    const x = randomTensor(rng, [5, 4]);
    const { acts } = evaluateNamed(built.graph, { acts: built.output.featureActs }, forwardFeeds(x, sae.initialParams(), sae.initialState()));
    const rows = values(acts);
    for (let sample = 0; sample < 5; sample++) {
      const row = rows.slice(sample * 8, sample * 8 + 8);
      expect(row.filter((value) => value !== 0)).toHaveLength(3);
    }
  });

  it('reconstructs from the kept activations and sums l2, l1 and aux into the loss terms', () => {
    const sae = createSae({ ...config, l1_coeff: 0.5 });
    const built = buildForward(sae, 3);
    const x = randomTensor(new Rng(2), [3, 4]);
    const params = sae.initialParams();
    const out = evaluateNamed(
      built.graph,
      {
        acts: built.output.featureActs,
        recon: built.output.reconstruction,
        l2: built.output.losses.l2_loss,
        l1: built.output.losses.l1_loss,
        l1Norm: built.output.metrics.l1_norm,
        l0Norm: built.output.metrics.l0_norm,
      },
      forwardFeeds(x, params, sae.initialState()),
    );
    const acts = values(out.acts);
    const wDec = values(params.W_dec);
    const xs = values(x);
    let l2 = 0;
    for (let sample = 0; sample < 3; sample++) {
      for (let j = 0; j < 4; j++) {
        let recon = 0;
        for (let f = 0; f < 8; f++) recon += acts[sample * 8 + f] * wDec[f * 4 + j];
        expect(values(out.recon)[sample * 4 + j]).toBeCloseTo(recon, 12);
        l2 += (recon - xs[sample * 4 + j]) ** 2;
      }
    }
    expect(values(out.l2)[0]).toBeCloseTo(l2 / 12, 12);
    const l1Norm = acts.reduce((sum, value) => sum + Math.abs(value), 0) / 3;
    expect(values(out.l1Norm)[0]).toBeCloseTo(l1Norm, 12);
    expect(values(out.l1)[0]).toBeCloseTo(0.5 * l1Norm, 12);
    expect(values(out.l0Norm)[0]).toBeCloseTo(acts.filter((value) => value > 0).length / 3, 12);
  });
});
