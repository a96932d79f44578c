import { evaluateGraph, Graph, hostTensor, Rng, type HostTensor } from '@nnd/core';
import { describe, expect, it } from 'vitest';
import { createClt } from './cross-layer-transcoder.js';

const ROWS = 6;

function run(config: Record<string, unknown>, topK?: number) {
  const clt = createClt({ layers: [0, 1, 2], input_size: 4, output_size: 3, dict_size: 8, ...config });
  const params = clt.initialParams(new Rng(1));
  for (const name of Object.keys(params)) if (name.startsWith('b_')) params[name] = hostTensor('float32', params[name].shape, new Rng(5).normal(params[name].data.length, 0.2, 0.3));
  const graph = new Graph();
  const feeds: Record<string, HostTensor> = {};
  const declare = (name: string, tensor: HostTensor) => {
    feeds[name] = tensor;
    return graph.input(name, tensor.shape, tensor.dtype);
  };
  const rng = new Rng(2);
  const inputs = Object.fromEntries(clt.reads.map(({ hook }) => [hook, declare(hook, hostTensor('float32', [ROWS, 4], rng.normal(ROWS * 4, 0, 1)))]));
  const targets = Object.fromEntries(clt.writes.map(({ hook }) => [hook, declare(`target.${hook}`, hostTensor('float32', [ROWS, 3], rng.normal(ROWS * 3, 0, 1)))]));
  const paramInputs = Object.fromEntries(Object.entries(params).map(([name, tensor]) => [name, declare(name, tensor)]));
  const stateInputs = Object.fromEntries(Object.entries(clt.initialState()).map(([name, tensor]) => [name, declare(`state.${name}`, tensor)]));
  const forward = clt.forward(graph, { inputs, targets }, paramInputs, stateInputs);
  const inferred = clt.inferOutputs!(graph, inputs, paramInputs, stateInputs, topK === undefined ? undefined : { topK });
  const hooks = clt.writes.map(({ hook }) => hook);
  const values = evaluateGraph(graph, [...hooks.map((hook) => forward.outputs[hook]), forward.featureActs, ...hooks.map((hook) => inferred.outputs[hook]), inferred.featureActs], feeds);
  return { clt, forward: values.slice(0, 4), inferred: values.slice(4) };
}

function activePerRowAndLayer(acts: HostTensor): number[] {
  const data = acts.data as Float32Array;
  const counts: number[] = [];
  for (let row = 0; row < ROWS; row++) for (let layer = 0; layer < 3; layer++) counts.push(data.slice(row * 24 + layer * 8, row * 24 + layer * 8 + 8).filter((value) => value > 0).length);
  return counts;
}

describe("a CLT's per-sample inference", () => {
  it("gives the forward pass's outputs and activations for TopK, Vanilla and JumpReLU", () => {
    for (const config of [{ encoder_type: 'topk', top_k: 2 }, { encoder_type: 'vanilla' }, { encoder_type: 'jumprelu' }]) {
      const { forward, inferred } = run(config);
      forward.forEach((expected, index) => {
        const actual = inferred[index].data as Float32Array;
        (expected.data as Float32Array).forEach((value, position) => expect(actual[position]).toBeCloseTo(value, 5));
      });
    }
  });

  it('keeps k per sample and source layer with topK, and the BatchTopK CLT top_k per sample', () => {
    expect(activePerRowAndLayer(run({ encoder_type: 'vanilla' }, 3).inferred[3]).every((count) => count <= 3)).toBe(true);
    expect(Math.max(...activePerRowAndLayer(run({ encoder_type: 'vanilla' }, 3).inferred[3]))).toBe(3);
    expect(activePerRowAndLayer(run({ encoder_type: 'batchtopk', top_k: 2 }).inferred[3]).every((count) => count <= 2)).toBe(true);
  });

  it('declares its layers as feature groups: layer i writes n - i layers with d_in + (n - i) d_out parameters per feature', () => {
    const { clt } = run({ encoder_type: 'batchtopk', top_k: 2 });
    expect(clt.featureGroups!()).toEqual([
      { label: 'blocks.0.hook_mlp_out', size: 8, streamsWritten: 3, activeParameters: 4 + 3 * 3 },
      { label: 'blocks.1.hook_mlp_out', size: 8, streamsWritten: 2, activeParameters: 4 + 2 * 3 },
      { label: 'blocks.2.hook_mlp_out', size: 8, streamsWritten: 1, activeParameters: 4 + 3 },
    ]);
    expect(clt.forwardCouplesSamples).toBe(true);
  });
});
