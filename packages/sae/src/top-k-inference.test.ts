import { evaluateGraph, Graph, hostTensor, Rng } from '@nnd/core';
import { describe, expect, it } from 'vitest';
import { createSae } from './sae-registry.js';

describe("an SAE's inference with topK", () => {
  it('keeps the k largest dense activations per sample for every type, and declares one feature group', () => {
    for (const architecture of ['vanilla', 'topk', 'batchtopk', 'jumprelu']) {
      const sae = createSae({ architecture, act_size: 4, dict_size: 12, hook_point: 'h', ...(architecture.includes('topk') ? { top_k: 2 } : {}) });
      const params = sae.initialParams(new Rng(1));
      const graph = new Graph();
      const x = graph.input('x', [3, 4], 'float32');
      const inputs = Object.fromEntries(Object.entries(params).map(([name, tensor]) => [name, graph.input(name, tensor.shape, tensor.dtype)]));
      const state = Object.fromEntries(Object.entries(sae.initialState()).map(([name, tensor]) => [name, graph.input(`state.${name}`, tensor.shape, tensor.dtype)]));
      const kept = sae.inferOutputs(graph, { h: x }, inputs, state, { topK: 5 });
      const feeds = {
        x: hostTensor('float32', [3, 4], new Rng(2).normal(12, 0, 1)),
        ...params,
        ...Object.fromEntries(Object.entries(sae.initialState()).map(([name, tensor]) => [`state.${name}`, tensor])),
      };
      const [acts, reconstruction] = evaluateGraph(graph, [kept.featureActs, kept.outputs.h], feeds);
      const counts = [0, 1, 2].map((row) => [...acts.data].slice(row * 12, row * 12 + 12).filter((value) => value > 0).length);
      expect(Math.max(...counts)).toBe(5);
      expect(reconstruction.shape).toEqual([3, 4]);
      expect(sae.featureGroups!()).toEqual([{ label: 'h', size: 12, streamsWritten: 1, activeParameters: 8 }]);
      expect(sae.forwardCouplesSamples).toBe(architecture === 'batchtopk');
    }
  });
});
