import { hostTensor, Rng } from '@nnd/core';
import { describe, expect, it } from 'vitest';
import { createSae } from './sae-registry.js';
import { buildForward, evaluateNamed, forwardFeeds, randomTensor, values } from './test-support.js';

const ACT_SIZE = 4;
const DICT_SIZE = 12;
const BATCH = 4;
const TOP_K = 2;
const TOP_K_AUX = 3;
const PENALTY = 1 / 32;

/** The reference's get_auxiliary_loss, written out on host arrays for a TopK SAE. */
function referenceAuxLoss(x: number[], wEnc: number[], wDec: number[], counter: number[]): { aux: number; dead: number } {
  const pre: number[][] = [];
  const recon: number[][] = [];
  const fired = new Array(DICT_SIZE).fill(false);
  for (let b = 0; b < BATCH; b++) {
    const row = Array.from({ length: DICT_SIZE }, (_, f) =>
      Math.max(
        0,
        x.slice(b * ACT_SIZE, b * ACT_SIZE + ACT_SIZE).reduce((s, v, a) => s + v * wEnc[a * DICT_SIZE + f], 0),
      ),
    );
    pre.push(row);
    const kept = row
      .map((value, f) => ({ value, f }))
      .sort((p, q) => q.value - p.value || p.f - q.f)
      .slice(0, TOP_K);
    for (const { value, f } of kept) if (value > 0) fired[f] = true;
    recon.push(Array.from({ length: ACT_SIZE }, (_, a) => kept.reduce((s, { value, f }) => s + value * wDec[f * ACT_SIZE + a], 0)));
  }
  const next = counter.map((count, f) => (fired[f] ? 0 : count + 1));
  const deadFeatures = next.map((count, f) => (count >= 5 ? f : -1)).filter((f) => f >= 0);
  if (deadFeatures.length === 0) return { aux: 0, dead: 0 };
  const k = Math.min(TOP_K_AUX, deadFeatures.length);
  let squares = 0;
  for (let b = 0; b < BATCH; b++) {
    const kept = deadFeatures
      .map((f) => ({ value: pre[b][f], f }))
      .sort((p, q) => q.value - p.value || p.f - q.f)
      .slice(0, k);
    for (let a = 0; a < ACT_SIZE; a++) {
      const residual = x[b * ACT_SIZE + a] - recon[b][a];
      const auxRecon = kept.reduce((s, { value, f }) => s + value * wDec[f * ACT_SIZE + a], 0);
      squares += (auxRecon - residual) ** 2;
    }
  }
  return { aux: (PENALTY * squares) / (BATCH * ACT_SIZE), dead: deadFeatures.length };
}

describe('auxiliary loss (TopK / BatchTopK)', () => {
  const sae = createSae({
    architecture: 'topk',
    act_size: ACT_SIZE,
    dict_size: DICT_SIZE,
    top_k: TOP_K,
    top_k_aux: TOP_K_AUX,
    aux_penalty: PENALTY,
  });
  const params = sae.initialParams();
  const x = randomTensor(new Rng(21), [BATCH, ACT_SIZE]);
  const built = buildForward(sae, 'batch');
  const run = (counter: number[]) =>
    evaluateNamed(built.graph, { aux: built.output.losses.aux_loss }, forwardFeeds(x, params, { num_batches_not_active: hostTensor('float32', [DICT_SIZE], counter) })).aux;

  it('is exactly 0 when no feature is dead', () => {
    const counter = new Array(DICT_SIZE).fill(0);
    expect(referenceAuxLoss(values(x), values(params.W_enc), values(params.W_dec), counter).dead).toBe(0);
    expect(values(run(counter))).toEqual([0]);
  });

  it.each([
    ['fewer dead features than top_k_aux', [9, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], false],
    ['more dead features than top_k_aux', [9, 9, 9, 9, 9, 9, 9, 0, 9, 9, 9, 9], true],
  ])('matches the reference with %s', (_, counter, many) => {
    const expected = referenceAuxLoss(values(x), values(params.W_enc), values(params.W_dec), counter as number[]);
    expect(expected.dead).toBeGreaterThan(0);
    expect(expected.dead > TOP_K_AUX).toBe(many);
    expect(expected.aux).toBeGreaterThan(0);
    expect(values(run(counter as number[]))[0]).toBeCloseTo(expected.aux, 12);
  });
});
