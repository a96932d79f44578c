import { add, evaluateGraph, Graph, grad, hostTensor, Rng, type HostTensor, type Tensor, type TensorMap } from '@nnd/core';
import { describe, expect, it } from 'vitest';
import { defaultRankCounts, parseMoltConfig } from './molt-config.js';
import { createMolt, parametersPerActiveTransform, type Molt } from './molt.js';

const D = 4;

function molt(overrides: Record<string, unknown> = {}): Molt {
  return createMolt(parseMoltConfig({ d_in: D, d_out: D, rank_counts: { 2: 1, 1: 2 }, top_k: 2, uv_init: 'scaled_normal', ...overrides }));
}

function to64(tensor: HostTensor): HostTensor {
  return hostTensor('float64', tensor.shape, Float64Array.from(tensor.data as Float32Array));
}

/** Builds the forward pass on float64 inputs and evaluates the named outputs with the reference interpreter. */
function run(
  decomposition: Molt,
  x: number[][],
  y: number[][],
  params: Record<string, HostTensor>,
  outputs: (forward: ReturnType<Molt['forward']>, inputs: TensorMap) => Record<string, Tensor>,
  state = decomposition.initialState(),
): Record<string, number[]> {
  const graph = new Graph();
  const rows = x.length;
  const xs = graph.input('x', [rows, D], 'float64');
  const ys = graph.input('y', [rows, D], 'float64');
  const paramInputs: TensorMap = {};
  for (const [name, tensor] of Object.entries(params)) paramInputs[name] = graph.input(name, tensor.shape, 'float64');
  const stateInputs: TensorMap = {};
  for (const [name, tensor] of Object.entries(state)) stateInputs[name] = graph.input(`state.${name}`, tensor.shape, tensor.dtype);
  const forward = decomposition.forward(graph, { inputs: { input: xs }, targets: { target: ys } }, paramInputs, stateInputs);
  const named = outputs(forward, paramInputs);
  const feeds: Record<string, HostTensor> = {
    x: hostTensor('float64', [rows, D], x.flat()),
    y: hostTensor('float64', [rows, D], y.flat()),
  };
  for (const [name, tensor] of Object.entries(params)) feeds[name] = to64(tensor);
  for (const [name, tensor] of Object.entries(state)) feeds[`state.${name}`] = tensor;
  const names = Object.keys(named);
  const results = evaluateGraph(
    graph,
    names.map((name) => named[name]),
    feeds,
  );
  return Object.fromEntries(names.map((name, i) => [name, Array.from(results[i].data as Float64Array, Number)]));
}

/** x @ V[t] @ U[t] for one transform, by hand. */
function transformOf(params: Record<string, HostTensor>, rank: number, t: number, x: number[]): number[] {
  const v = params[`V.${rank}`].data as Float32Array;
  const u = params[`U.${rank}`].data as Float32Array;
  const hidden = Array.from({ length: rank }, (_, j) => x.reduce((sum, value, i) => sum + value * v[t * D * rank + i * rank + j], 0));
  return Array.from({ length: D }, (_, o) => hidden.reduce((sum, value, j) => sum + value * u[t * rank * D + j * D + o], 0));
}

function preactivation(params: Record<string, HostTensor>, x: number[], t: number, transforms: number): number {
  const w = params.W_E.data as Float32Array;
  return x.reduce((sum, value, i) => sum + value * w[i * transforms + t], 0) + (params.b_E.data as Float32Array)[t];
}

const X = [
  [1, -0.5, 2, 0.3],
  [-1.2, 0.4, 0.1, 0.9],
];
const Y = [
  [0.5, 0, -1, 2],
  [1, 1, 0, -0.5],
];

describe('MOLT forward', () => {
  it('topk: output = sum over the k kept gates of relu(pre) * x V U, plus b_D; L0 per rank group', () => {
    const decomposition = molt({ top_k: 2, gate_bias_init: 0.5 });
    const params = decomposition.initialParams(new Rng(1));
    params.b_D = hostTensor('float32', [D], [0.1, -0.2, 0.3, 0]);
    const result = run(decomposition, X, Y, params, (forward) => ({
      out: forward.outputs.target,
      gates: forward.featureActs,
      l0: forward.metrics.l0_norm,
      l0r2: forward.metrics['l0_norm/rank_2'],
      l0r1: forward.metrics['l0_norm/rank_1'],
      l2: forward.losses.l2_loss,
    }));
    // Rank 2 first (one transform, index 0), then the two rank-1 transforms.
    const slots = [
      [2, 0],
      [1, 0],
      [1, 1],
    ];
    let r2 = 0;
    let squares = 0;
    X.forEach((x, row) => {
      const pre = slots.map((_, t) => Math.max(0, preactivation(params, x, t, 3)));
      const kept = [...pre.keys()].sort((a, b) => pre[b] - pre[a] || a - b).slice(0, 2);
      const expected = [0.1, -0.2, 0.3, 0];
      for (const t of kept) {
        const [rank, index] = slots[t];
        transformOf(params, rank, index, x).forEach((value, o) => (expected[o] += pre[t] * value));
        if (pre[t] > 0 && rank === 2) r2 += 1;
      }
      for (let o = 0; o < D; o++) {
        expect(result.out[row * D + o]).toBeCloseTo(expected[o], 5);
        squares += (expected[o] - Y[row][o]) ** 2;
      }
      for (let t = 0; t < 3; t++) expect(result.gates[row * 3 + t]).toBeCloseTo(kept.includes(t) ? pre[t] : 0, 6);
    });
    expect(result.l0[0]).toBeCloseTo(2, 12);
    expect(result.l0r2[0]).toBeCloseTo(r2 / 2, 12);
    expect(result.l0r2[0] + result.l0r1[0]).toBeCloseTo(2, 12);
    expect(result.l2[0]).toBeCloseTo(squares / (2 * D), 5);
  });

  it('batchtopk keeps k * rows gates over the whole batch, so rows may differ in L0', () => {
    const decomposition = molt({ gate: 'batchtopk', top_k: 1, gate_bias_init: 1 });
    const params = decomposition.initialParams(new Rng(2));
    const result = run(decomposition, X, Y, params, (forward) => ({ gates: forward.featureActs }));
    const all = X.flatMap((x) => [0, 1, 2].map((t) => Math.max(0, preactivation(params, x, t, 3))));
    const threshold = [...all].sort((a, b) => b - a)[1];
    all.forEach((value, index) => expect(result.gates[index]).toBeCloseTo(value >= threshold ? value : 0, 6));
  });

  it('transformNorms is the exact Frobenius norm of every V_t U_t (Gram matrices, not the product)', () => {
    const decomposition = molt();
    const params = decomposition.initialParams(new Rng(3));
    const result = run(decomposition, X, Y, params, (_forward, inputs) => ({ norms: decomposition.transformNorms(inputs) }));
    const slots = [
      [2, 0],
      [1, 0],
      [1, 1],
    ];
    slots.forEach(([rank, index], t) => {
      // Columns of the d x d product V U are the images of the unit vectors.
      let squares = 0;
      for (let i = 0; i < D; i++) {
        const unit = Array.from({ length: D }, (_, j) => (i === j ? 1 : 0));
        for (const value of transformOf(params, rank, index, unit)) squares += value ** 2;
      }
      expect(result.norms[t]).toBeCloseTo(Math.sqrt(squares), 6);
    });
  });

  it('jumprelu: tanh sparsity = lambda mean_rows sum_t tanh(c phi_t ||U_t V_t||_F), and l1 = lambda mean sum phi ||UV||', () => {
    const base = { gate: 'jumprelu', lambda: 0.3, tanh_c: 2, threshold_init: 0.05, gate_bias_init: 0.2 };
    for (const penalty of ['tanh', 'l1'] as const) {
      const decomposition = molt({ ...base, sparsity_penalty: penalty });
      const params = decomposition.initialParams(new Rng(4));
      const result = run(decomposition, X, Y, params, (forward, inputs) => ({
        sparsity: forward.losses.sparsity_loss,
        gates: forward.featureActs,
        norms: decomposition.transformNorms(inputs),
      }));
      let total = 0;
      X.forEach((x, row) => {
        for (let t = 0; t < 3; t++) {
          const pre = preactivation(params, x, t, 3);
          const phi = pre > 0.05 ? pre : 0;
          expect(result.gates[row * 3 + t]).toBeCloseTo(phi, 6);
          const scaled = phi * result.norms[t];
          total += penalty === 'tanh' ? Math.tanh(2 * scaled) : scaled;
        }
      });
      expect(result.sparsity[0]).toBeCloseTo((0.3 * total) / 2, 6);
    }
  });

  it('lambda warms up linearly from the steps counter kept in state, and the counter advances by one per forward', () => {
    const decomposition = molt({ gate: 'jumprelu', lambda: 0.5, lambda_warmup_steps: 4 });
    const params = decomposition.initialParams(new Rng(5));
    const seen = [0, 1, 3, 9].map((step) => {
      const state = { ...decomposition.initialState(), steps: hostTensor('float32', [], [step]) };
      const result = run(decomposition, X, Y, params, (forward) => ({ lambda: forward.metrics.lambda, next: forward.nextState.steps }), state);
      expect(result.next[0]).toBe(step + 1);
      return result.lambda[0];
    });
    expect(seen).toEqual([0.125, 0.25, 0.5, 0.5]);
  });

  it('the sigmoid surrogate gives gradient to a closed gate near its threshold; the rectangle estimator does not', () => {
    const gradientOfClosedGate = (surrogate: string) => {
      const decomposition = molt({ gate: 'jumprelu', lambda: 0, jumprelu_surrogate: surrogate, threshold_init: 1, gate_bias_init: 0.97, bandwidth: 0.1 });
      const params = decomposition.initialParams(new Rng(6));
      params.W_E = hostTensor('float32', [D, 3], new Float32Array(D * 3));
      const result = run(decomposition, X, Y, params, (forward, inputs) => {
        const loss = add(forward.losses.l2_loss, forward.losses.sparsity_loss);
        const [bE, gates] = [grad(loss, [inputs.b_E])[0], forward.featureActs];
        return { bE, gates };
      });
      expect(result.gates.every((value) => value === 0)).toBe(true);
      return result.bE;
    };
    expect(gradientOfClosedGate('sigmoid').some((value) => Math.abs(value) > 1e-4)).toBe(true);
    expect(gradientOfClosedGate('rectangle').every((value) => value === 0)).toBe(true);
  });

  it('counts dead transforms as the SAEs do', () => {
    const decomposition = molt({ top_k: 1, n_batches_to_dead: 1 });
    const params = decomposition.initialParams(new Rng(7));
    const state = { ...decomposition.initialState(), num_batches_not_active: hostTensor('float32', [3], [5, 5, 0]) };
    const result = run(decomposition, X, Y, params, (forward) => ({ counter: forward.nextState.num_batches_not_active, gates: forward.featureActs, dead: forward.metrics.num_dead_features }), state);
    const fired = [0, 1, 2].map((t) => result.gates[t] + result.gates[3 + t] > 0);
    const expected = fired.map((on, t) => (on ? 0 : [5, 5, 0][t] + 1));
    expect(result.counter).toEqual(expected);
    expect(result.dead[0]).toBe(expected.filter((count) => count > 1).length);
  });
});

describe('MOLT shapes, initialisation and accounting', () => {
  it("scales Anthropic's ranks below the model width: {512..32} at 768, {64..4} at 128, counts N..16N", () => {
    expect(defaultRankCounts(768, 8)).toEqual({ 512: 8, 256: 16, 128: 32, 64: 64, 32: 128 });
    expect(defaultRankCounts(128, 1)).toEqual({ 64: 1, 32: 2, 16: 4, 8: 8, 4: 16 });
  });

  it('initialises U and V normal with std (d r)^(-1/4) (U at 0 with zero_u), encoder rows of unit norm, gate bias -1 for JumpReLU and 0 for TopK', () => {
    const decomposition = createMolt(parseMoltConfig({ d_in: 64, d_out: 64, rank_counts: { 16: 8 }, top_k: 4 }));
    const params = decomposition.initialParams(new Rng(8));
    const zeroU = createMolt(parseMoltConfig({ d_in: 64, d_out: 64, rank_counts: { 16: 8 }, top_k: 4, uv_init: 'zero_u' })).initialParams(new Rng(8));
    expect(Array.from(zeroU['U.16'].data as Float32Array).every((value) => value === 0)).toBe(true);
    expect(Array.from(zeroU['V.16'].data as Float32Array)).toEqual(Array.from(params['V.16'].data as Float32Array));
    const std = (data: Float32Array) => Math.sqrt(data.reduce((sum, value) => sum + value * value, 0) / data.length);
    expect(std(params['V.16'].data as Float32Array)).toBeCloseTo((64 * 16) ** -0.25, 2);
    expect(std(params['U.16'].data as Float32Array)).toBeCloseTo((64 * 16) ** -0.25, 2);
    const w = params.W_E.data as Float32Array;
    for (let t = 0; t < 8; t++) {
      let squares = 0;
      for (let i = 0; i < 64; i++) squares += w[i * 8 + t] ** 2;
      expect(Math.sqrt(squares)).toBeCloseTo(1, 5);
    }
    // Gate bias 0 under TopK; -1 under JumpReLU, where it keeps gates from all opening at once.
    expect(Array.from(params.b_E.data as Float32Array)).toEqual(new Array(8).fill(0));
    const jumpRelu = createMolt(parseMoltConfig({ d_in: 64, d_out: 64, rank_counts: { 16: 8 }, gate: 'jumprelu' }));
    expect(Array.from(jumpRelu.initialParams(new Rng(8)).b_E.data as Float32Array)).toEqual(new Array(8).fill(-1));
  });

  it('reports the parameters per active transform (2 r d + d) and the active parameters per token', () => {
    expect(parametersPerActiveTransform(32, 768, 768)).toBe(2 * 32 * 768 + 768);
    const decomposition = molt({ top_k: 2, gate_bias_init: 5 });
    const params = decomposition.initialParams(new Rng(9));
    const result = run(decomposition, X, Y, params, (forward) => ({
      active: forward.metrics.active_parameters,
      r2: forward.metrics['l0_norm/rank_2'],
      r1: forward.metrics['l0_norm/rank_1'],
    }));
    expect(result.active[0]).toBeCloseTo(result.r2[0] * (2 * 2 * D + D) + result.r1[0] * (2 * 1 * D + D), 10);
  });

  it('rejects configs with the key, the value and what is allowed', () => {
    expect(() => parseMoltConfig({ d_in: 4, d_out: 4, rank_counts: { 8: 1 } })).toThrow(/rank 8 exceeds min\(d_in, d_out\) = 4/);
    expect(() => parseMoltConfig({ d_in: 4, d_out: 4, rank_counts: { 2: 1 }, gate: 'relu' })).toThrow(/gate = "relu" is invalid.*allowed: one of 'topk', 'batchtopk', 'jumprelu'/);
    expect(() => parseMoltConfig({ d_in: 4, d_out: 4, rank_counts: { 2: 1 }, top_k: 4 })).toThrow(/top_k = 4 exceeds the 1 transforms/);
  });
});
