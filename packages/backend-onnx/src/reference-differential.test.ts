import { Graph, adamCorrections, adamUpdate, evaluateGraph, hostTensor, type HostTensor } from '@nnd/core';
import { afterAll, describe, expect, it } from 'vitest';
import { createOnnxBackend } from './onnx-backend.js';
import { OP_CASES, SYMBOL_SIZES, buildCase, expectMatches, feedsFor } from './op-cases.test-support.js';

// Every op case on onnxruntime CPU against the reference interpreter, each
// program run with every set of symbol sizes (one compiled session, several batch sizes).
describe('backend-onnx CPU matches the reference interpreter', () => {
  const backend = createOnnxBackend({ device: 'cpu' });
  afterAll(() => backend.dispose());

  it.each(OP_CASES.map((opCase) => [opCase.label, opCase] as const))('%s', async (label, opCase) => {
    const { graph, outputs } = buildCase(opCase);
    const program = await backend.compile(graph, { outputs });
    for (const [index, sizes] of SYMBOL_SIZES.entries()) {
      const feeds = feedsFor(opCase, sizes, 7919 * (index + 1));
      const expected = evaluateGraph(graph, Object.values(outputs), feeds);
      const actual = await program.run(feeds);
      expect(Object.keys(actual).sort()).toEqual(Object.keys(outputs).sort());
      for (const [position, name] of Object.keys(outputs).entries()) {
        expectMatches(await actual[name].toHost(), expected[position], `${label} '${name}' with ${JSON.stringify(sizes)}`, opCase.tolerance);
      }
    }
    await program.dispose();
  });
});

// Core's Adam (float64 bias corrections from the step number, rounded to float32 once) over two steps:
// core's own test checks the reference interpreter against torch.optim.Adam computed by hand.
describe("core's adamUpdate on onnxruntime CPU matches the reference interpreter", () => {
  const backend = createOnnxBackend({ device: 'cpu' });
  afterAll(() => backend.dispose());

  it('over two steps', async () => {
    const hyperparameters = { lr: 1e-3, beta1: 0.9, beta2: 0.999, epsilon: 1e-8 };
    const graph = new Graph();
    const [param, gradient, firstMoment, secondMoment] = ['param', 'gradient', 'first_moment', 'second_moment'].map((name) => graph.input(name, [3]));
    const step = graph.input('step', [], 'float64');
    const result = adamUpdate(param, gradient, firstMoment, secondMoment, adamCorrections(step, hyperparameters), hyperparameters);
    const outputs = { param: result.param, first_moment: result.firstMoment, second_moment: result.secondMoment };
    const program = await backend.compile(graph, { outputs });
    let state: Record<string, HostTensor> = {
      param: hostTensor('float32', [3], [0.5, -1.0, 2.0]),
      first_moment: hostTensor('float32', [3], [0, 0, 0]),
      second_moment: hostTensor('float32', [3], [0, 0, 0]),
    };
    for (const [index, values] of [
      [0.1, -0.2, 0.3],
      [-0.05, 0.4, 0.0],
    ].entries()) {
      const feeds = { ...state, gradient: hostTensor('float32', [3], values), step: hostTensor('float64', [], [index + 1]) };
      const expected = evaluateGraph(graph, Object.values(outputs), feeds);
      const actual = await program.run(feeds);
      const next: Record<string, HostTensor> = {};
      for (const [position, name] of Object.keys(outputs).entries()) {
        next[name] = await actual[name].toHost();
        expectMatches(next[name], expected[position], `Adam step ${index + 1} '${name}'`);
      }
      state = next;
    }
    await program.dispose();
  });
});
