import { add, evaluateGraph, Graph, grad, hostTensor, Rng, type HostTensor, type Tensor, type TensorMap } from '@nnd/core';
import { describe, expect, it } from 'vitest';
import { parseMoltConfig } from './molt-config.js';
import { createMolt } from './molt.js';

const D = 5;
const ROWS = 9;

/** Output, losses and the gradients of the summed losses w.r.t. every parameter and the input, in float64. */
function outputsAndGradients(config: Record<string, unknown>, params: Record<string, HostTensor>, x: Float64Array, y: Float64Array): Record<string, Float64Array> {
  const molt = createMolt(parseMoltConfig({ d_in: D, d_out: D, rank_counts: { 3: 2, 2: 3, 1: 4 }, ...config }));
  const graph = new Graph();
  const xs = graph.input('x', [ROWS, D], 'float64');
  const ys = graph.input('y', [ROWS, D], 'float64');
  const inputs: TensorMap = {};
  for (const [name, tensor] of Object.entries(params)) inputs[name] = graph.input(name, tensor.shape, 'float64');
  const state: TensorMap = {};
  for (const [name, tensor] of Object.entries(molt.initialState())) state[name] = graph.input(`state.${name}`, tensor.shape, tensor.dtype);
  const forward = molt.forward(graph, { inputs: { input: xs }, targets: { target: ys } }, inputs, state);
  const loss = Object.values(forward.losses).reduce((total, term) => add(total, term));
  const names = Object.keys(params);
  const gradients = grad(loss, [...names.map((name) => inputs[name]), xs]);
  const outputs: Record<string, Tensor> = { output: forward.outputs.target!, gates: forward.featureActs, loss, 'grad.x': gradients[names.length] };
  names.forEach((name, index) => (outputs[`grad.${name}`] = gradients[index]));
  const feeds: Record<string, HostTensor> = { x: hostTensor('float64', [ROWS, D], x), y: hostTensor('float64', [ROWS, D], y) };
  for (const [name, tensor] of Object.entries(params)) feeds[name] = hostTensor('float64', tensor.shape, Float64Array.from(tensor.data as Float32Array));
  for (const [name, tensor] of Object.entries(molt.initialState())) feeds[`state.${name}`] = tensor;
  const keys = Object.keys(outputs);
  const results = evaluateGraph(
    graph,
    keys.map((key) => outputs[key]),
    feeds,
  );
  return Object.fromEntries(keys.map((key, index) => [key, results[index].data as Float64Array]));
}

describe('the sparse dispatch', () => {
  // A gate bias of -1.2 leaves some rows with fewer than k positive pre-activations, so TopK keeps some zeros and
  // transforms take different numbers of tokens; lambda > 0 adds the norm penalty's gradient.
  for (const gate of ['topk', 'batchtopk'] as const) {
    it(`${gate}: the output and every gradient (parameters and input) equal the dense dispatch's`, () => {
      const base = { gate, top_k: 3, gate_bias_init: -1.2, lambda: 0.05, uv_init: 'scaled_normal' };
      const params = createMolt(parseMoltConfig({ d_in: D, d_out: D, rank_counts: { 3: 2, 2: 3, 1: 4 }, ...base })).initialParams(new Rng(8));
      const rng = new Rng(9);
      const x = Float64Array.from(rng.normal(ROWS * D, 0, 1.5));
      const y = Float64Array.from(rng.normal(ROWS * D));
      const sparse = outputsAndGradients({ ...base, dispatch: 'sparse' }, params, x, y);
      const dense = outputsAndGradients({ ...base, dispatch: 'dense' }, params, x, y);
      const gates = sparse.gates;
      const perRow = Array.from({ length: ROWS }, (_, row) => gates.slice(row * 9, row * 9 + 9).filter((value) => value > 0).length);
      expect(Math.min(...perRow)).toBeLessThan(3);
      expect(Math.max(...perRow)).toBeGreaterThan(0);
      for (const [key, expected] of Object.entries(dense)) {
        expect(sparse[key].length, key).toBe(expected.length);
        const scale = Math.max(1e-12, ...Array.from(expected, Math.abs));
        expect(
          expected.some((value) => value !== 0),
          `${key} is not all zero`,
        ).toBe(true);
        expected.forEach((value, index) => expect(Math.abs(sparse[key][index] - value) / scale, `${key}[${index}]`).toBeLessThan(1e-12));
      }
    });
  }

  it('is the default for topk and batchtopk, dense for jumprelu; sparse with jumprelu is refused', () => {
    const config = { d_in: D, d_out: D, rank_counts: { 2: 2 }, top_k: 1 };
    expect(parseMoltConfig(config).dispatch).toBeUndefined();
    expect(() => parseMoltConfig({ ...config, gate: 'jumprelu', dispatch: 'sparse' })).toThrow(/dispatch = 'sparse' needs a topk or batchtopk gate/);
  });
});
