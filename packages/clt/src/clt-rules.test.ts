import { createOnnxBackend } from '@nnd/backend-onnx';
import { evaluateGraph, Graph, hostTensor, Rng, type HostTensor, type Tensor, type TensorMap } from '@nnd/core';
import { afterAll, describe, expect, it } from 'vitest';
import { createClt, type CrossLayerTranscoder } from './cross-layer-transcoder.js';
import { trainSteps } from './test-support.js';

const backend = createOnnxBackend();
afterAll(() => backend.dispose());

function float64(tensor: HostTensor): HostTensor {
  return hostTensor('float64', tensor.shape, Float64Array.from(tensor.data as Float32Array));
}

function values(tensor: HostTensor): number[] {
  return Array.from(tensor.data as Float64Array, Number);
}

/** Runs the forward pass on the float64 reference interpreter and returns the named outputs. */
function runForward(clt: CrossLayerTranscoder, params: Record<string, HostTensor>, state: Record<string, HostTensor>, batch: Record<string, HostTensor>): Record<string, number[]> {
  const graph = new Graph();
  const feeds: Record<string, HostTensor> = {};
  const declare = (name: string, tensor: HostTensor, dtype: 'float64' | 'float32'): Tensor => {
    feeds[name] = dtype === 'float64' ? float64(tensor) : tensor;
    return graph.input(name, tensor.shape, dtype);
  };
  const p: TensorMap = Object.fromEntries(Object.entries(params).map(([name, tensor]) => [name, declare(name, tensor, 'float64')]));
  const s: TensorMap = Object.fromEntries(Object.entries(state).map(([name, tensor]) => [name, declare(`state.${name}`, tensor, 'float32')]));
  const streams: TensorMap = Object.fromEntries(Object.entries(batch).map(([hook, tensor]) => [hook, declare(`batch.${hook}`, tensor, 'float64')]));
  const out = clt.forward(graph, { inputs: streams, targets: streams }, p, s);
  const named: Record<string, Tensor> = { ...out.losses, ...out.metrics, ...Object.fromEntries(Object.entries(out.outputs).map(([hook, tensor]) => [`output.${hook}`, tensor])) };
  const results = evaluateGraph(graph, Object.values(named), feeds);
  return Object.fromEntries(Object.keys(named).map((name, i) => [name, values(results[i])]));
}

function randomParams(clt: CrossLayerTranscoder, rng: Rng, scale = 0.5): Record<string, HostTensor> {
  return Object.fromEntries(Object.entries(clt.initialParams()).map(([name, tensor]) => [name, hostTensor('float32', tensor.shape, rng.normal(tensor.data.length, 0, scale))]));
}

describe('CLT rules on small cases', () => {
  const B = 5;
  const F = 6;
  const D = 3;

  it("keeps every (source, target, feature) decoder vector at unit norm and removes the gradient's radial part", () => {
    const clt = createClt({ encoder_type: 'topk', layers: [0, 1, 2], dict_size: F, input_size: D, output_size: D, top_k: 2 });
    const rng = new Rng(1);
    const params = randomParams(clt, rng, 2);
    const gradients = randomParams(clt, rng, 1);
    const graph = new Graph();
    const feeds: Record<string, HostTensor> = {};
    const p: TensorMap = {};
    const g: TensorMap = {};
    for (const name of Object.keys(params)) {
      p[name] = graph.input(name, params[name].shape, 'float64');
      g[name] = graph.input(`grad.${name}`, params[name].shape, 'float64');
      feeds[name] = float64(params[name]);
      feeds[`grad.${name}`] = float64(gradients[name]);
    }
    const constrained = clt.constrain!(graph, p, g);
    const decoders = ['W_dec_0', 'W_dec_1', 'W_dec_2'];
    const results = evaluateGraph(graph, [...decoders.map((name) => constrained.params[name]), ...decoders.map((name) => constrained.gradients[name]), constrained.params.W_enc_0], feeds);
    for (const [index, name] of decoders.entries()) {
      const weights = values(results[index]);
      const gradient = values(results[index + 3]);
      for (let vector = 0; vector < weights.length / D; vector++) {
        const w = weights.slice(vector * D, vector * D + D);
        const dw = gradient.slice(vector * D, vector * D + D);
        expect(Math.hypot(...w), `${name} vector ${vector}`).toBeCloseTo(1, 12);
        expect(
          w.reduce((sum, value, d) => sum + value * dw[d], 0),
          `${name} vector ${vector} radial gradient`,
        ).toBeCloseTo(0, 12);
      }
    }
    // Encoders are untouched.
    expect(values(results[6])).toEqual(values(float64(params.W_enc_0)));
  });

  it('logs per-layer metrics (by model layer) that add up to the totals', () => {
    const clt = createClt({ encoder_type: 'batchtopk', layers: [2, 5], dict_size: F, input_size: D, output_size: D, top_k: 2, n_batches_to_dead: 0 });
    const rng = new Rng(2);
    const batch = Object.fromEntries([...clt.reads, ...clt.writes].map(({ hook }) => [hook, hostTensor('float32', [B, D], rng.normal(B * D))]));
    const out = runForward(clt, randomParams(clt, rng), clt.initialState(), batch);
    expect(out['l0_norm/layer_2'][0] + out['l0_norm/layer_5'][0]).toBeCloseTo(out.l0_norm[0], 12);
    // BatchTopK keeps k * B per source layer: the mean L0 per layer is k.
    expect(out['l0_norm/layer_2'][0]).toBeCloseTo(2, 12);
    expect((out['l2_loss/layer_2'][0] + out['l2_loss/layer_5'][0]) / 2).toBeCloseTo(out.l2_loss[0], 12);
    expect(out['num_dead_features/layer_2'][0] + out['num_dead_features/layer_5'][0]).toBe(out.num_dead_features[0]);
  });

  it('anthropic: summed MSE, tanh of the concatenated decoder norms, pre-activation loss on dead features, no constraint', () => {
    const layers = [0, 1];
    const n = layers.length;
    const config = {
      encoder_type: 'jumprelu',
      variant: 'anthropic',
      layers,
      dict_size: F,
      input_size: D,
      output_size: D,
      l1_coeff: 0.3,
      tanh_scale: 2,
      pre_act_loss_coeff: 0.7,
      n_batches_to_dead: 2,
    };
    const clt = createClt(config);
    expect(clt.constrain).toBeUndefined();
    expect(createClt({ ...config, variant: undefined }).constrain).toBeDefined();
    const rng = new Rng(3);
    const params = randomParams(clt, rng);
    for (let i = 0; i < n; i++) params[`log_threshold_${i}`] = hostTensor('float32', [F], rng.normal(F, -1.5, 0.3));
    const state = Object.fromEntries(
      layers.map((_, i) => [
        `num_batches_not_active_${i}`,
        hostTensor(
          'float32',
          [F],
          Array.from({ length: F }, (_, f) => (f + i) % 4),
        ),
      ]),
    );
    const xs = layers.map(() => rng.normal(B * D));
    const ys = layers.map(() => rng.normal(B * D));
    const batch: Record<string, HostTensor> = {};
    for (let i = 0; i < n; i++) {
      batch[clt.reads[i].hook] = hostTensor('float32', [B, D], xs[i]);
      batch[clt.writes[i].hook] = hostTensor('float32', [B, D], ys[i]);
    }
    const out = runForward(clt, params, state, batch);

    // The same in plain loops.
    const P = (name: string) => Array.from(params[name].data as Float32Array, Number);
    const pre: number[][][] = [];
    const acts: number[][][] = [];
    for (let i = 0; i < n; i++) {
      const wEnc = P(`W_enc_${i}`);
      const bEnc = P(`b_enc_${i}`);
      const threshold = P(`log_threshold_${i}`).map(Math.exp);
      pre.push(Array.from({ length: B }, (_, b) => Array.from({ length: F }, (_, f) => bEnc[f] + Array.from({ length: D }, (_, d) => xs[i][b * D + d] * wEnc[d * F + f]).reduce((a, c) => a + c, 0))));
      acts.push(pre[i].map((row) => row.map((value, f) => (Math.max(value, 0) > threshold[f] ? Math.max(value, 0) : 0))));
    }
    let l2 = 0;
    for (let j = 0; j < n; j++) {
      for (let b = 0; b < B; b++) {
        for (let d = 0; d < D; d++) {
          let value = P(`b_dec_${j}`)[d];
          for (let i = 0; i <= j; i++) {
            const wDec = P(`W_dec_${i}`);
            for (let f = 0; f < F; f++) value += acts[i][b][f] * wDec[(f * (n - i) + (j - i)) * D + d];
          }
          expect(out[`output.${clt.writes[j].hook}`][b * D + d]).toBeCloseTo(value, 10);
          l2 += (value - ys[j][b * D + d]) ** 2 / B;
        }
      }
    }
    let sparsity = 0;
    let preAct = 0;
    for (let i = 0; i < n; i++) {
      const wDec = P(`W_dec_${i}`);
      const threshold = P(`log_threshold_${i}`).map(Math.exp);
      const counter = Array.from(state[`num_batches_not_active_${i}`].data as Float32Array);
      for (let f = 0; f < F; f++) {
        const norm = Math.sqrt(wDec.slice(f * (n - i) * D, (f + 1) * (n - i) * D).reduce((sum, value) => sum + value * value, 0));
        const fired = acts[i].some((row) => row[f] > 0);
        const dead = (fired ? 0 : counter[f] + 1) >= 2;
        for (let b = 0; b < B; b++) {
          sparsity += Math.tanh(2 * norm * acts[i][b][f]) / B;
          if (dead) preAct += (Math.max(threshold[f] - pre[i][b][f], 0) * norm) / B;
        }
      }
    }
    expect(out.l2_loss[0]).toBeCloseTo(l2, 10);
    expect(out.sparsity_loss[0]).toBeCloseTo(0.3 * sparsity, 10);
    expect(preAct).toBeGreaterThan(0);
    expect(out.pre_act_loss[0]).toBeCloseTo(0.7 * preAct, 10);
  });

  it('TopK and BatchTopK: the sparse decoder, the sparse encoder gradient and the no-dead-features variant train as the dense path does', async () => {
    for (const encoderType of ['topk', 'batchtopk']) {
      const base = { encoder_type: encoderType, layers: [0, 1, 2], dict_size: 32, input_size: 8, output_size: 8, top_k: 3, top_k_aux: 4, n_batches_to_dead: 3 };
      const sparse = createClt(base);
      const dense = createClt({ ...base, sparse_decoder: false });
      const rng = new Rng(4);
      const batches = Array.from({ length: 6 }, () => Object.fromEntries([...sparse.reads, ...sparse.writes].map(({ hook }) => [hook, Float32Array.from(rng.normal(16 * 8))])));
      const initial = { params: sparse.initialParams() };
      const train = { batch_size: 16, lr: 1e-2 };
      const a = await trainSteps(sparse, initial, batches, train, backend);
      const b = await trainSteps(dense, initial, batches, train, backend);
      // Features die midway, so both the variant (early steps) and the auxiliary loss (later) are exercised.
      expect(a.metrics.some((metrics) => metrics.aux_loss > 0)).toBe(true);
      for (const [step, snapshot] of a.snapshots.entries()) {
        for (const name of sparse.parameterNames) {
          const actual = snapshot.params[name].data as Float32Array;
          const expected = b.snapshots[step].params[name].data as Float32Array;
          const scale = Math.max(...Array.from(expected, Math.abs));
          const worst = Math.max(...Array.from(actual, (value, index) => Math.abs(value - expected[index])));
          expect(worst / scale, `${encoderType} step ${step + 1} ${name}`).toBeLessThan(1e-5);
        }
      }
    }
  });
});
