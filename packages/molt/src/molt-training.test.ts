import { createOnnxBackend } from '@nnd/backend-onnx';
import { hostTensor, Rng, type HostTensor } from '@nnd/core';
import { trainDecomposition } from '@nnd/train';
import { afterAll, describe, expect, it } from 'vitest';
import { parseMoltConfig } from './molt-config.js';
import { createMolt } from './molt.js';

const backend = createOnnxBackend();
afterAll(() => backend.dispose());

/** Row-major [rows, inner] @ [inner, columns]. */
function times(a: ArrayLike<number>, b: ArrayLike<number>, rows: number, inner: number, columns: number): Float64Array {
  const out = new Float64Array(rows * columns);
  for (let row = 0; row < rows; row++) {
    for (let k = 0; k < inner; k++) {
      const value = a[row * inner + k];
      for (let column = 0; column < columns; column++) out[row * columns + column] += value * b[k * columns + column];
    }
  }
  return out;
}

function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let dot = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i] * b[i];
    aa += a[i] ** 2;
    bb += b[i] ** 2;
  }
  return dot / Math.sqrt(aa * bb);
}

/** V_t U_t of transform t of the rank group `rank`: the [d_in, d_out] map it applies. */
function mapOf(params: Record<string, HostTensor>, rank: number, t: number, dIn: number, dOut: number): Float64Array {
  const v = (params[`V.${rank}`].data as Float32Array).subarray(t * dIn * rank, (t + 1) * dIn * rank);
  const u = (params[`U.${rank}`].data as Float32Array).subarray(t * rank * dOut, (t + 1) * rank * dOut);
  return times(v, u, dIn, rank, dOut);
}

describe('MOLT training', () => {
  it('one transform of full rank with its gate held open is a linear map, and it recovers a linear target exactly', async () => {
    const d = 4;
    const batch = 64;
    const decomposition = createMolt(parseMoltConfig({ d_in: d, d_out: d, rank_counts: { [d]: 1 }, top_k: 1 }));
    const target = Float32Array.from(new Rng(1).normal(d * d, 0, 0.7));
    const bias = Float32Array.from([0.5, -1, 0.25, 2]);
    const rng = new Rng(2);
    const source = {
      async nextBatch() {
        const input = Float32Array.from(rng.normal(batch * d));
        const output = times(input, target, batch, d, d).map((value, index) => value + bias[index % d]);
        return { input, target: Float32Array.from(output) };
      },
    };
    // W_E = 0 and b_E = 1: the gate is relu(1) = 1 for every input.
    const params = decomposition.initialParams(new Rng(3));
    params.W_E = hostTensor('float32', [d, 1], new Float32Array(d));
    params.b_E = hostTensor('float32', [1], [1]);
    const train = (start: Record<string, HostTensor>, steps: number, lr: number) =>
      trainDecomposition(
        decomposition,
        source,
        { num_tokens: batch * steps, batch_size: batch, lr, log_freq: 100000 },
        {
          backend,
          handleSignals: false,
          initialTensors: [{ params: start }],
        },
      );
    // Adam at a constant learning rate settles into a noise floor of about its step size; a second, slower phase removes it.
    const result = await train((await train(params, 1000, 1e-2)).params, 500, 1e-4);
    expect(result.metrics!.l2_loss).toBeLessThan(1e-9);
    // The gate stayed open and constant, so the learned map times it is the target map.
    const gate = (result.params.b_E.data as Float32Array)[0];
    const encoder = Array.from(result.params.W_E.data as Float32Array);
    expect(Math.max(...encoder.map(Math.abs))).toBeLessThan(1e-3);
    const learned = mapOf(result.params, d, 0, d, d).map((value) => value * gate);
    learned.forEach((value, index) => expect(value).toBeCloseTo(target[index], 3));
    Array.from(result.params.b_D.data as Float32Array).forEach((value, index) => expect(value).toBeCloseTo(bias[index], 3));
  });

  it('on data made of a few linear maps, each selected by the input, a MOLT with that many transforms recovers them (cosine > 0.9)', async () => {
    const d = 6;
    const maps = 3;
    const batch = 256;
    const truth = Array.from({ length: maps }, (_, t) => Float32Array.from(new Rng(10 + t).normal(d * d)));
    const rng = new Rng(4);
    const source = {
      async nextBatch() {
        const input = Float32Array.from(rng.normal(batch * d, 0, 0.5));
        const output = new Float32Array(batch * d);
        for (let row = 0; row < batch; row++) {
          // Coordinate t, pushed far out, selects map t.
          const t = rng.int(maps);
          input[row * d + t] += 4;
          const x = input.subarray(row * d, (row + 1) * d);
          output.set(times(x, truth[t], 1, d, d), row * d);
        }
        return { input, target: output };
      },
    };
    // JumpReLU with the sigmoid surrogate: under TopK with k = 1, a transform that loses every cluster at
    // initialisation never gets a gradient again, so which maps are found would depend on the draw.
    // U drawn as V ('scaled_normal', the default, set here because the test depends on it): with U = 0 ('zero_u') every
    // map starts at 0 and, all gates open at bias 0, the three transforms first learn the same average map; at this
    // budget one map then reached cosine 0.64 only.
    const decomposition = createMolt(parseMoltConfig({ d_in: d, d_out: d, rank_counts: { [d]: maps }, gate: 'jumprelu', lambda: 0.05, gate_bias_init: 0, uv_init: 'scaled_normal' }));
    const result = await trainDecomposition(
      decomposition,
      source,
      { num_tokens: batch * 3000, batch_size: batch, lr: 1e-2, log_freq: 100000, seed: 5 },
      {
        backend,
        handleSignals: false,
      },
    );
    const learned = Array.from({ length: maps }, (_, t) => mapOf(result.params, d, t, d, d));
    const matched = truth.map((map) => {
      const scores = learned.map((candidate) => cosine(candidate, map));
      const best = scores.indexOf(Math.max(...scores));
      return { best, score: scores[best] };
    });
    expect(new Set(matched.map(({ best }) => best)).size).toBe(maps);
    for (const { score } of matched) expect(score).toBeGreaterThan(0.9);
    // One transform per token on average, as the data has.
    expect(result.metrics!.l0_norm).toBeLessThan(1.2);
  });
});
