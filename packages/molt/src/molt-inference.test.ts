import { evaluateGraph, Graph, hostTensor, Rng, type HostTensor } from '@nnd/core';
import { describe, expect, it } from 'vitest';
import { parseMoltConfig } from './molt-config.js';
import { createMolt, parametersPerActiveTransform } from './molt.js';

const ROWS = 5;

function run(overrides: Record<string, unknown>, topK?: number) {
  const molt = createMolt(parseMoltConfig({ d_in: 4, d_out: 4, rank_counts: { 2: 2, 1: 4 }, top_k: 2, ...overrides }));
  const params = molt.initialParams(new Rng(1));
  params.b_E = hostTensor('float32', [6], new Float32Array(6).fill(0.3));
  const graph = new Graph();
  const feeds: Record<string, HostTensor> = { x: hostTensor('float32', [ROWS, 4], new Rng(2).normal(ROWS * 4, 0, 1)), y: hostTensor('float32', [ROWS, 4], new Float32Array(ROWS * 4)) };
  const x = graph.input('x', [ROWS, 4], 'float32');
  const y = graph.input('y', [ROWS, 4], 'float32');
  const paramInputs = Object.fromEntries(
    Object.entries(params).map(([name, tensor]) => {
      feeds[name] = tensor;
      return [name, graph.input(name, tensor.shape, tensor.dtype)];
    }),
  );
  const stateInputs = Object.fromEntries(
    Object.entries(molt.initialState()).map(([name, tensor]) => {
      feeds[`state.${name}`] = tensor;
      return [name, graph.input(`state.${name}`, tensor.shape, tensor.dtype)];
    }),
  );
  const forward = molt.forward(graph, { inputs: { input: x }, targets: { target: y } }, paramInputs, stateInputs);
  const inferred = molt.inferOutputs!(graph, { input: x }, paramInputs, stateInputs, topK === undefined ? undefined : { topK });
  const [forwardOut, forwardGates, out, gates] = evaluateGraph(graph, [forward.outputs.target, forward.featureActs, inferred.outputs.target, inferred.featureActs], feeds);
  return { molt, forwardOut, forwardGates, out, gates };
}

function activePerRow(gates: HostTensor): number[] {
  const data = gates.data as Float32Array;
  return Array.from({ length: ROWS }, (_, row) => data.slice(row * 6, row * 6 + 6).filter((value) => value > 0).length);
}

describe("a MOLT's per-sample inference", () => {
  it("gives the TopK forward pass's output, and keeps topK transforms over all rank groups together", () => {
    const { forwardOut, out, gates } = run({ gate: 'topk' });
    expect([...out.data]).toEqual([...forwardOut.data]);
    expect(activePerRow(gates).every((count) => count <= 2)).toBe(true);
    expect(Math.max(...activePerRow(run({ gate: 'topk' }, 4).gates))).toBe(4);
  });

  it('declares its rank groups as one module, each with the parameters an active transform uses', () => {
    const { molt } = run({ gate: 'batchtopk' });
    expect(molt.featureGroups!()).toEqual([
      { label: 'target', size: 2, streamsWritten: 1, activeParameters: parametersPerActiveTransform(2, 4, 4) },
      { label: 'target', size: 4, streamsWritten: 1, activeParameters: parametersPerActiveTransform(1, 4, 4) },
    ]);
    expect(molt.forwardCouplesSamples).toBe(true);
  });
});
