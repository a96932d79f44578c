import { createReferenceBackend, hostTensor, Rng } from '@nnd/core';
import { describe, expect, it } from 'vitest';
import { createSpd } from './spd-decomposition.js';
import { addActivePositions, addToCiHistogram, evaluateSpd } from './spd-evaluation.js';
import { polygonTms, tmsTarget } from './tms.js';

describe('CI histograms and component activation density', () => {
  it('bins values in [i / n, (i + 1) / n), 1 in the last bin, anything outside [0, 1] in the end bins', () => {
    const counts = new Array<number>(4).fill(0);
    addToCiHistogram(counts, [0, 0.24, 0.25, 0.5, 0.99, 1, -0.01, 1.5]);
    expect(counts).toEqual([3, 1, 1, 3]);
  });

  it('counts, per component, the positions whose CI exceeds the threshold (strictly)', () => {
    const active = [0, 0, 0];
    // Two positions of three components, row-major.
    addActivePositions(active, [0.1, 0.2, 0, 0.5, 0.1, 0.11], 0.1);
    expect(active).toEqual([1, 1, 1]);
  });
});

describe('evaluateSpd', () => {
  // CI functions that are one linear layer (shared_mlp, no hidden layer), so each causal importance is clamp(x W0 + b0, 0, 1) by hand.
  const target = tmsTarget(polygonTms(5));
  const spd = createSpd(target, {
    modules: [
      { name: 'linear1', C: 4 },
      { name: 'linear2', C: 3 },
    ],
    ci_fn_type: 'shared_mlp',
    ci_fn_hidden_dims: [],
  });
  const params = spd.initialParams(new Rng(0));
  // linear1: component 0 is x0, 1 is always 0, 2 always 0.55, 3 is 2 x0 (clamped); linear2's are constants 0, 0.35 and 1.
  const W0 = new Float32Array(5 * 4);
  W0[0] = 1;
  W0[3] = 2;
  params['linear1.ci.W0'] = hostTensor('float32', [5, 4], W0);
  params['linear1.ci.b0'] = hostTensor('float32', [4], Float32Array.from([0, -0.5, 0.55, 0]));
  params['linear2.ci.W0'] = hostTensor('float32', [2, 3], new Float32Array(6));
  params['linear2.ci.b0'] = hostTensor('float32', [3], Float32Array.from([-1, 0.35, 1.2]));
  const rows = (x0: number[]) => {
    const data = new Float32Array(x0.length * 5);
    x0.forEach((value, row) => {
      data[row * 5] = value;
    });
    return { features: hostTensor('float32', [x0.length, 5], data) };
  };

  it("gives each module's CI histogram and component activation density, summed over batches", async () => {
    const backend = createReferenceBackend();
    // x0 over the four positions: 0, 0.25, 1, 1, in two batches.
    const metrics = await evaluateSpd(spd, params, [rows([0, 0.25]), rows([1, 1])], { backend, histogramBins: 10 });
    // linear1's CIs: component 0: 0, .25, 1, 1; 1: 0 x4; 2: .55 x4; 3: 0, .5, 1, 1.
    expect(metrics['ci_histogram.linear1']).toEqual([6, 0, 1, 0, 0, 5, 0, 0, 0, 4]);
    expect(metrics['ci_histogram.linear2']).toEqual([4, 0, 0, 4, 0, 0, 0, 0, 0, 4]);
    // Active above ci_alive_threshold (0.1 by default).
    expect(metrics.component_density_threshold).toBe(0.1);
    expect(metrics['component_density.linear1']).toEqual([0.75, 0, 1, 0.75]);
    expect(metrics['component_density.linear2']).toEqual([0, 1, 1]);
    // The scalars agree with them: CI-L0 at 0.1 is the densities' sum, alive at 0.5 counts components whose CI exceeds it somewhere.
    expect(metrics['ci_l0_0.1.linear1']).toBeCloseTo(2.5, 6);
    expect(metrics['alive_0.5.linear1']).toBe(3);
    expect(metrics['alive_0.5.linear2']).toBe(1);
  });

  it('takes the density threshold and the bins from its options', async () => {
    const metrics = await evaluateSpd(spd, params, [rows([0, 0.25, 1, 1])], { backend: createReferenceBackend(), densityThreshold: 0.6 });
    expect(metrics['component_density.linear1']).toEqual([0.5, 0, 0, 0.5]);
    expect((metrics['ci_histogram.linear1'] as number[]).length).toBe(50);
    await expect(evaluateSpd(spd, params, [rows([0])], { backend: createReferenceBackend(), histogramBins: 0 })).rejects.toThrow(/histogramBins is 0/);
  });
});
