import { ConfigError, evaluateGraph, Graph, hostTensor, initialTrainingParams, Rng } from '@nnd/core';
import { describe, expect, it } from 'vitest';
import { componentMatrices, createSpd, uniformKSubsetRouting } from './spd-decomposition.js';
import { SpdModelError } from './spd-model-error.js';
import { polygonTms, tmsTarget } from './tms.js';

const target = tmsTarget(polygonTms(5));

describe('createSpd', () => {
  it('names a module that is not a matrix of the model, and the matrices it has', () => {
    expect(() => createSpd(target, { modules: [{ name: 'linear3', C: 4 }] })).toThrow(SpdModelError);
    expect(() => createSpd(target, { modules: [{ name: 'linear3', C: 4 }] })).toThrow(/'linear3' is not a weight matrix of tms_5-2; its matrices are linear1, linear2/);
  });

  it('refuses C < 1, a module listed twice and an annealing that ends before it starts', () => {
    expect(() => createSpd(target, { modules: [{ name: 'linear1', C: 0 }] })).toThrow(ConfigError);
    expect(() => createSpd(target, { modules: [{ name: 'linear1', C: 0 }] })).toThrow(/'modules.0.C' is 0; allowed: an integer >= 1/);
    expect(() =>
      createSpd(target, {
        modules: [
          { name: 'linear1', C: 2 },
          { name: 'linear1', C: 3 },
        ],
      }),
    ).toThrow(/listed twice/);
    expect(() => createSpd(target, { modules: [{ name: 'linear1', C: 2 }], p_anneal_final_p: 1, p_anneal_start_frac: 0.5, p_anneal_end_frac: 0.25 })).toThrow(/before p_anneal_start_frac/);
  });

  it("draws V ~ N(0, 1/d_in) and U ~ N(0, 1/C) as spd's init_param_, CI biases at 0", () => {
    const wide = tmsTarget({ W: hostTensor('float32', [400, 2], new Float32Array(800)), b: hostTensor('float32', [400], new Float32Array(400)) });
    const params = createSpd(wide, { modules: [{ name: 'linear1', C: 100 }] }).initialParams(new Rng(1));
    const variance = (data: ArrayLike<number>) => Array.from(data).reduce((sum, value) => sum + value * value, 0) / data.length;
    expect(params['linear1.V'].shape).toEqual([400, 100]);
    expect(params['linear1.U'].shape).toEqual([100, 2]);
    expect(variance(params['linear1.V'].data as Float32Array) * 400).toBeCloseTo(1, 1);
    expect(variance(params['linear1.U'].data as Float32Array) * 100).toBeCloseTo(1, 0);
    expect(params['linear1.ci.W0'].shape).toEqual([100, 1, 16]);
    expect(Array.from(params['linear1.ci.b1'].data as Float32Array).every((value) => value === 0)).toBe(true);
  });

  it("ties a target module's V and U to its source's U and V transposed (its own part starting at 0), with separate CI functions", () => {
    const modules = [
      { name: 'linear1', C: 3 },
      { name: 'linear2', C: 3 },
    ];
    const spd = createSpd(target, { modules, tied_weights: [['linear1', 'linear2']], faithfulness_warmup_steps: 2 });
    const params = initialTrainingParams(spd, new Rng(0));
    expect(Object.keys(params).filter((name) => /\.(V|U)$/.test(name))).toEqual(['linear1.V', 'linear1.U', 'linear2.V', 'linear2.U']);
    expect(Array.from(params['linear2.V'].data as Float32Array).every((value) => value === 0)).toBe(true);
    expect(Object.keys(spd.parameterShapes()).sort()).toEqual(Object.keys(params).sort());
    expect(params['linear2.ci.W0'].shape).toEqual([3, 1, 16]);
    expect(spd.gradientGroups!()).toEqual([]);
    const graph = new Graph();
    const tensors = Object.fromEntries(Object.entries(params).map(([name, tensor]) => [name, graph.constant(tensor)]));
    const [V2, U2] = evaluateGraph(graph, Object.values(componentMatrices(spd, tensors, 'linear2')), {});
    expect(V2.shape).toEqual([2, 3]);
    expect(U2.shape).toEqual([3, 5]);
    for (let c = 0; c < 3; c++) {
      for (let i = 0; i < 2; i++) expect(V2.data[i * 3 + c]).toBe(params['linear1.U'].data[c * 2 + i]);
      for (let o = 0; o < 5; o++) expect(U2.data[c * 5 + o]).toBe(params['linear1.V'].data[o * 3 + c]);
    }
  });

  it('refuses tied modules that are not decomposed, have different C, or chain', () => {
    const modules = [
      { name: 'linear1', C: 3 },
      { name: 'linear2', C: 3 },
    ];
    expect(() => createSpd(target, { modules: [modules[0]], tied_weights: [['linear1', 'linear2']] })).toThrow(/tied_weights names 'linear2', which is not in 'modules'/);
    expect(() => createSpd(target, { modules: [modules[0], { name: 'linear2', C: 4 }], tied_weights: [['linear1', 'linear2']] })).toThrow(/tied modules need the same C/);
    expect(() => createSpd(target, { modules, tied_weights: [['linear1', 'linear1']] })).toThrow(/to itself/);
    expect(() =>
      createSpd(target, {
        modules,
        tied_weights: [
          ['linear1', 'linear2'],
          ['linear2', 'linear1'],
        ],
      }),
    ).toThrow(/as a source and as a target/);
  });

  it('asks the trainer for one r per mask and module, a delta mask per position, and the routing draws', () => {
    const spd = createSpd(target, {
      modules: [
        { name: 'linear1', C: 3 },
        { name: 'linear2', C: 4 },
      ],
      stochastic_recon_subset_coeff: 1,
      stochastic_recon_layerwise_coeff: 0,
    });
    expect(spd.randomInputs!(8)).toEqual({
      'stochastic.0.linear1.r': [8, 3],
      'stochastic.0.linear1.delta': [8],
      'stochastic.0.linear2.r': [8, 4],
      'stochastic.0.linear2.delta': [8],
      'subset.0.linear1.r': [8, 3],
      'subset.0.linear1.delta': [8],
      'subset.0.linear1.order': [8],
      'subset.0.linear2.r': [8, 4],
      'subset.0.linear2.delta': [8],
      'subset.0.linear2.order': [8],
      'subset.0.k': [8],
    });
  });
});

describe('uniform_k_subset routing from uniform draws', () => {
  it('routes k = floor(u n) + 1 modules per position: those first in the random order', () => {
    const graph = new Graph();
    const order = [
      [0.9, 0.1, 0.5, 0.3],
      [0.2, 0.8, 0.4, 0.6],
      [0.5, 0.3, 0.1, 0.9],
    ];
    const u = [0.0, 0.34, 0.67, 0.99];
    const routes = uniformKSubsetRouting(
      order.map((values) => graph.constant(hostTensor('float32', [4], values))),
      graph.constant(hostTensor('float32', [4], u)),
    );
    const values = evaluateGraph(graph, routes, {}).map((tensor) => Array.from(tensor.data as Uint8Array, Boolean));
    for (let position = 0; position < 4; position++) {
      const k = Math.floor(u[position] * 3) + 1;
      const ranked = [0, 1, 2].sort((a, b) => order[a][position] - order[b][position]);
      expect([0, 1, 2].filter((module) => values[module][position])).toEqual(ranked.slice(0, k).sort());
    }
  });
});
