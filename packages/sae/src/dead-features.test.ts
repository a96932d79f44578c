import { evaluateGraph, Graph, hostTensor, Rng } from '@nnd/core';
import { describe, expect, it } from 'vitest';
import { updateDeadFeatures } from './dead-features.js';
import { createSae } from './sae-registry.js';
import { buildForward, evaluateNamed, forwardFeeds, randomTensor, values } from './test-support.js';

describe('updateDeadFeatures', () => {
  it('resets features that fired, counts up the others, and reports dead counts', () => {
    const graph = new Graph();
    const counter = graph.input('counter', [5], 'float32');
    const totals = graph.input('totals', [5], 'float64');
    const update = updateDeadFeatures(counter, totals, 5, 'float64');
    const [next, dead, numDead, inBatch] = evaluateGraph(graph, [update.counter, update.dead, update.numDeadFeatures, update.deadInBatch], {
      counter: hostTensor('float32', [5], [0, 4, 5, 7, 3]),
      totals: hostTensor('float64', [5], [0, 0, 2.5, 0, 0.1]),
    });
    expect(values(next)).toEqual([1, 5, 0, 8, 0]);
    // Dead for the auxiliary loss: counter >= 5; reported: counter > 5 (the reference's two comparisons).
    expect(values(dead)).toEqual([0, 1, 0, 1, 0]);
    expect(values(numDead)).toEqual([1]);
    expect(values(inBatch)).toEqual([3]);
  });

  it.each(['vanilla', 'topk', 'batchtopk', 'jumprelu'] as const)('%s forward updates num_batches_not_active from the batch', (architecture) => {
    const sae = createSae({ architecture, act_size: 4, dict_size: 12, ...(architecture.includes('topk') ? { top_k: 1 } : {}) });
    const built = buildForward(sae, 2);
    const x = randomTensor(new Rng(3), [2, 4]);
    const counter = hostTensor(
      'float32',
      [12],
      Array.from({ length: 12 }, (_, i) => i),
    );
    const out = evaluateNamed(
      built.graph,
      {
        acts: built.output.featureActs,
        next: built.output.nextState.num_batches_not_active,
        numDead: built.output.metrics.num_dead_features,
        inBatch: built.output.metrics.n_dead_in_batch,
      },
      forwardFeeds(x, sae.initialParams(), { ...sae.initialState(), num_batches_not_active: counter }),
    );
    const acts = values(out.acts);
    const fired = Array.from({ length: 12 }, (_, f) => acts[f] + acts[12 + f] > 0);
    expect(fired.some(Boolean)).toBe(true);
    const expected = fired.map((hit, f) => (hit ? 0 : f + 1));
    expect(values(out.next)).toEqual(expected);
    expect(values(out.numDead)).toEqual([expected.filter((count) => count > 5).length]);
    expect(values(out.inBatch)).toEqual([fired.filter((hit) => !hit).length]);
  });
});
