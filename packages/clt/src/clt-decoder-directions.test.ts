import { evaluateGraph, Graph, hostTensor, Rng, type HostTensor, type TensorMap } from '@nnd/core';
import { describe, expect, it } from 'vitest';
import { createClt } from './cross-layer-transcoder.js';

const ROWS = 5;
const D_IN = 4;
const D_OUT = 3;
const F = 6;
const LAYERS = [0, 2, 3];

describe('decoderDirections', () => {
  for (const encoderType of ['vanilla', 'topk', 'jumprelu'] as const) {
    it(`${encoderType}: the output at every written hook is b_dec_j plus featureActs times that hook's directions`, () => {
      const clt = createClt({
        encoder_type: encoderType,
        layers: LAYERS,
        dict_size: F,
        input_size: D_IN,
        output_size: D_OUT,
        ...(encoderType === 'topk' ? { top_k: 2 } : {}),
      });
      const graph = new Graph();
      const initial = clt.initialParams(new Rng(1));
      const params: TensorMap = {};
      for (const [name, tensor] of Object.entries(initial)) params[name] = graph.input(name, tensor.shape, 'float64');
      const state: TensorMap = {};
      for (const [name, tensor] of Object.entries(clt.initialState())) state[name] = graph.input(`state.${name}`, tensor.shape, tensor.dtype);
      const inputs: TensorMap = {};
      const targets: TensorMap = {};
      for (const port of clt.reads) inputs[port.hook] = graph.input(`in.${port.hook}`, [ROWS, D_IN], 'float64');
      for (const port of clt.writes) targets[port.hook] = graph.input(`out.${port.hook}`, [ROWS, D_OUT], 'float64');
      const output = clt.forward(graph, { inputs, targets }, params, state);
      const directions = clt.decoderDirections!(graph, params);
      expect(Object.keys(directions)).toEqual(clt.writes.map((port) => port.hook));

      const rng = new Rng(7);
      const feeds: Record<string, HostTensor> = {};
      for (const [name, tensor] of Object.entries(initial)) feeds[name] = hostTensor('float64', tensor.shape, Float64Array.from(tensor.data as Float32Array));
      for (const [name, tensor] of Object.entries(clt.initialState())) feeds[`state.${name}`] = tensor;
      // Large inputs, so that JumpReLU's initial thresholds (1) let features through.
      for (const port of clt.reads) feeds[`in.${port.hook}`] = hostTensor('float64', [ROWS, D_IN], Float64Array.from(rng.normal(ROWS * D_IN, 0, 4)));
      for (const port of clt.writes) feeds[`out.${port.hook}`] = hostTensor('float64', [ROWS, D_OUT], Float64Array.from(rng.normal(ROWS * D_OUT)));

      const hooks = clt.writes.map((port) => port.hook);
      const results = evaluateGraph(graph, [output.featureActs, ...hooks.map((hook) => output.outputs[hook]!), ...hooks.map((hook) => directions[hook]!)], feeds);
      const acts = results[0].data as Float64Array;
      expect(acts.some((value) => value !== 0)).toBe(true);
      const features = LAYERS.length * F;
      for (const [j, _hook] of hooks.entries()) {
        const out = results[1 + j].data as Float64Array;
        const direction = results[1 + hooks.length + j].data as Float64Array;
        expect(results[1 + hooks.length + j].shape).toEqual([features, D_OUT]);
        const bias = feeds[`b_dec_${j}`].data as Float64Array;
        for (let row = 0; row < ROWS; row++) {
          for (let column = 0; column < D_OUT; column++) {
            let sum = bias[column];
            for (let feature = 0; feature < features; feature++) sum += acts[row * features + feature] * direction[feature * D_OUT + column];
            expect(out[row * D_OUT + column]).toBeCloseTo(sum, 9);
          }
        }
        // Features of later source layers write nothing at hook j.
        for (let feature = (j + 1) * F; feature < features; feature++) {
          for (let column = 0; column < D_OUT; column++) expect(direction[feature * D_OUT + column]).toBe(0);
        }
      }
    });
  }
});
