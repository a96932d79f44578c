import { evaluateGraph, Graph, hostTensor, Rng, type HostTensor, type TensorMap } from '@nnd/core';
import { describe, expect, it } from 'vitest';
import { parseMoltConfig } from './molt-config.js';
import { createMolt } from './molt.js';

const D_IN = 5;
const D_OUT = 3;

describe('decoderDirections', () => {
  it('is, per transform, the output of its own map on its unit gate direction: (e_t / ||e_t||) V_t U_t, at the written hook', () => {
    const molt = createMolt(
      parseMoltConfig({ d_in: D_IN, d_out: D_OUT, rank_counts: { 3: 1, 2: 2, 1: 1 }, top_k: 2, hook_point: 'blocks.0.ln2.hook_normalized', hook_point_out: 'blocks.0.hook_mlp_out' }),
    );
    const params = molt.initialParams(new Rng(5));
    // Encoder columns of different norms: the direction must not depend on them.
    const encoder = params.W_E.data as Float32Array;
    for (let i = 0; i < encoder.length; i++) encoder[i] *= 1 + (i % molt.transforms);
    const graph = new Graph();
    const inputs: TensorMap = {};
    for (const [name, tensor] of Object.entries(params)) inputs[name] = graph.input(name, tensor.shape, 'float64');
    const directions = molt.decoderDirections!(graph, inputs);
    expect(Object.keys(directions)).toEqual(['blocks.0.hook_mlp_out']);
    const feeds: Record<string, HostTensor> = {};
    for (const [name, tensor] of Object.entries(params)) feeds[name] = hostTensor('float64', tensor.shape, Float64Array.from(tensor.data as Float32Array));
    const [result] = evaluateGraph(graph, [directions['blocks.0.hook_mlp_out']!], feeds);
    expect(result.shape).toEqual([4, D_OUT]);
    const got = result.data as Float64Array;

    // By hand: transforms in W_E's column order, rank 3 first.
    const slots: [number, number][] = [
      [3, 0],
      [2, 0],
      [2, 1],
      [1, 0],
    ];
    slots.forEach(([rank, index], t) => {
      const e = Array.from({ length: D_IN }, (_, i) => encoder[i * 4 + t]);
      const norm = Math.hypot(...e);
      const v = params[`V.${rank}`].data as Float32Array;
      const u = params[`U.${rank}`].data as Float32Array;
      const hidden = Array.from({ length: rank }, (_, j) => e.reduce((sum, value, i) => sum + (value / norm) * v[index * D_IN * rank + i * rank + j], 0));
      for (let o = 0; o < D_OUT; o++) {
        const expected = hidden.reduce((sum, value, j) => sum + value * u[index * rank * D_OUT + j * D_OUT + o], 0);
        expect(got[t * D_OUT + o]).toBeCloseTo(expected, 9);
      }
    });
  });
});
