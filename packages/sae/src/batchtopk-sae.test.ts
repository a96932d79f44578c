import { Graph, hostTensor, Rng, type HostTensor } from '@nnd/core';
import { describe, expect, it } from 'vitest';
import { createSae } from './sae-registry.js';
import { buildForward, evaluateNamed, forwardFeeds, maxRelativeError, randomTensor, values } from './test-support.js';

const ACT_SIZE = 4;
const DICT_SIZE = 10;
const TOP_K = 2;

describe('BatchTopK SAE', () => {
  const sae = createSae({ architecture: 'batchtopk', act_size: ACT_SIZE, dict_size: DICT_SIZE, top_k: TOP_K });
  const params = sae.initialParams();
  const built = buildForward(sae, 'batch');
  const outputs = {
    acts: built.output.featureActs,
    threshold: built.output.nextState.threshold,
    steps: built.output.nextState.threshold_steps,
    thresholdMetric: built.output.metrics.threshold,
    l0: built.output.metrics.l0_norm,
  };
  const run = (x: HostTensor, state: Record<string, HostTensor>) => evaluateNamed(built.graph, outputs, forwardFeeds(x, params, state));

  it('keeps exactly top_k * batch non-zeros over the batch, unevenly per sample, for any batch size', () => {
    for (const batch of [3, 6]) {
      const rng = new Rng(batch);
      // Sample 0 is ten times larger, so it takes more than its share of the budget.
      const data = values(randomTensor(rng, [batch, ACT_SIZE])).map((value, i) => (i < ACT_SIZE ? 10 * value : value));
      const out = run(hostTensor('float64', [batch, ACT_SIZE], data), sae.initialState());
      const acts = values(out.acts);
      const perSample = Array.from({ length: batch }, (_, b) => acts.slice(b * DICT_SIZE, (b + 1) * DICT_SIZE).filter((value) => value !== 0).length);
      expect(perSample.reduce((sum, count) => sum + count, 0)).toBe(TOP_K * batch);
      expect(perSample[0]).toBeGreaterThan(TOP_K);
      expect(values(out.l0)[0]).toBeCloseTo(TOP_K, 12);
    }
  });

  it('keeps the running threshold as the mean over steps of the smallest kept positive activation', () => {
    const rng = new Rng(9);
    const first = randomTensor(rng, [4, ACT_SIZE]);
    const second = randomTensor(rng, [5, ACT_SIZE]);
    const step1 = run(first, sae.initialState());
    const smallest = (acts: HostTensor) => Math.min(...values(acts).filter((value) => value > 0));
    expect(values(step1.threshold)[0]).toBeCloseTo(smallest(step1.acts), 6);
    expect(values(step1.steps)).toEqual([1]);
    expect(values(step1.thresholdMetric)[0]).toBeCloseTo(values(step1.threshold)[0], 12);
    const step2 = run(second, { ...sae.initialState(), threshold: step1.threshold, threshold_steps: step1.steps });
    expect(values(step2.threshold)[0]).toBeCloseTo((smallest(step1.acts) + smallest(step2.acts)) / 2, 6);
    expect(values(step2.steps)).toEqual([2]);
    // A batch that keeps no positive activation leaves the mean alone.
    const step3 = run(hostTensor('float64', [2, ACT_SIZE], new Float64Array(2 * ACT_SIZE)), { ...sae.initialState(), threshold: step2.threshold, threshold_steps: step2.steps });
    expect(values(step3.threshold)).toEqual(values(step2.threshold));
    expect(values(step3.steps)).toEqual([2]);
  });

  it('infers one sample at a time with acts = pre * (pre > threshold), for any leading axes', () => {
    const graph = new Graph();
    const x = graph.input('x', [2, 3, ACT_SIZE], 'float64');
    const paramInputs = Object.fromEntries(Object.entries(params).map(([name, tensor]) => [name, graph.input(name, tensor.shape, 'float64')]));
    const threshold = graph.input('state.threshold', [], 'float32');
    const inference = sae.infer(graph, x, paramInputs, { threshold });
    expect(inference.featureActs.shape).toEqual([2, 3, DICT_SIZE]);
    expect(inference.reconstruction.shape).toEqual([2, 3, ACT_SIZE]);
    const xs = randomTensor(new Rng(13), [2, 3, ACT_SIZE]);
    const feeds = forwardFeeds(xs, params, { threshold: hostTensor('float32', [], [0.3]) });
    const out = evaluateNamed(graph, { acts: inference.featureActs, recon: inference.reconstruction }, feeds);
    const [xv, wEnc, wDec] = [xs, params.W_enc, params.W_dec].map(values);
    const expectedActs: number[] = [];
    const expectedRecon: number[] = [];
    for (let sample = 0; sample < 6; sample++) {
      const pre = Array.from({ length: DICT_SIZE }, (_, f) =>
        Math.max(
          0,
          xv.slice(sample * ACT_SIZE, sample * ACT_SIZE + ACT_SIZE).reduce((s, v, a) => s + v * wEnc[a * DICT_SIZE + f], 0),
        ),
      );
      const acts = pre.map((value) => (value > Math.fround(0.3) ? value : 0));
      expectedActs.push(...acts);
      for (let a = 0; a < ACT_SIZE; a++) expectedRecon.push(acts.reduce((s, v, f) => s + v * wDec[f * ACT_SIZE + a], 0));
    }
    expect(expectedActs.some((value) => value > 0) && expectedActs.some((value, i) => value === 0 && i % 2 === 0)).toBe(true);
    expect(maxRelativeError(out.acts, expectedActs)).toBeLessThan(1e-12);
    expect(maxRelativeError(out.recon, expectedRecon)).toBeLessThan(1e-12);
  });

  it('starts with threshold 0 after 0 steps (float32 scalars)', () => {
    const state = sae.initialState();
    expect(Object.keys(state).sort()).toEqual(['num_batches_not_active', 'threshold', 'threshold_steps']);
    expect(state.threshold.shape).toEqual([]);
    expect(values(state.threshold)).toEqual([0]);
  });
});
