import { createOnnxBackend } from '@nnd/backend-onnx';
import { ConfigError, DECOMPOSITION_SPECIFICATION_VERSION, hostTensor, matmul, mul, reduceMean, Rng, sub, type Decomposition, type HostTensor } from '@nnd/core';
import { afterAll, describe, expect, it } from 'vitest';
import { trainDecomposition } from './train-decomposition.js';

const backend = createOnnxBackend();
afterAll(() => backend.dispose());

const IN = 5;
const OUT = 3;
const BATCH = 64;

/** Reads `input` and writes `target` through one matrix: the smallest transcoder. */
function linearMap(): Decomposition<Record<string, never>> {
  return {
    specificationVersion: DECOMPOSITION_SPECIFICATION_VERSION,
    architecture: 'linear-map-test',
    config: {},
    reads: [{ hook: 'input', width: IN }],
    writes: [{ hook: 'target', width: OUT }],
    initialParams: (rng) => ({ W: hostTensor('float32', [IN, OUT], rng.uniform(IN * OUT, -0.1, 0.1)) }),
    initialState: () => ({}),
    forward(_graph, { inputs, targets }, params) {
      const output = matmul(inputs.input, params.W);
      const error = sub(output, targets.target);
      return { outputs: { target: output }, featureActs: output, losses: { l2_loss: reduceMean(mul(error, error)) }, metrics: {}, nextState: {} };
    },
  };
}

/** Batches of (x, x @ A) for a fixed A, keyed by stream. */
function pairedSource(map: Float32Array, extra: Record<string, Float32Array> = {}) {
  const rng = new Rng(11);
  return {
    async nextBatch() {
      const input = Float32Array.from(rng.normal(BATCH * IN, 0, 1));
      const target = new Float32Array(BATCH * OUT);
      for (let row = 0; row < BATCH; row++) {
        for (let column = 0; column < OUT; column++) {
          let sum = 0;
          for (let k = 0; k < IN; k++) sum += input[row * IN + k] * map[k * OUT + column];
          target[row * OUT + column] = sum;
        }
      }
      return { input, target, ...extra };
    },
  };
}

const config = { num_tokens: BATCH * 300, batch_size: BATCH, lr: 3e-2, log_freq: 1000 };

describe('training on batches of several streams', () => {
  it('feeds each decomposition the streams it reads as inputs and the ones it writes as targets, and learns the map between them', async () => {
    const map = Float32Array.from(new Rng(3).normal(IN * OUT, 0, 1));
    // A stream no decomposition uses is ignored.
    const result = await trainDecomposition(linearMap(), pairedSource(map, { unused: new Float32Array(7) }), config, { backend, handleSignals: false });
    const learned = result.params.W.data as Float32Array;
    const worst = Math.max(...Array.from(learned, (value, index) => Math.abs(value - map[index])));
    expect(worst).toBeLessThan(1e-2);
    expect(result.metrics!.l2_loss).toBeLessThan(1e-4);
  });

  it('names the stream a keyed batch lacks, and refuses a lone tensor for two streams', async () => {
    const missing = { nextBatch: async () => ({ input: new Float32Array(BATCH * IN) }) };
    await expect(trainDecomposition(linearMap(), missing, config, { backend, handleSignals: false })).rejects.toThrow(/batch has no 'target'/);
    const lone = { nextBatch: async () => new Float32Array(BATCH * IN) };
    await expect(trainDecomposition(linearMap(), lone, config, { backend, handleSignals: false })).rejects.toThrow(/read and write 2 streams \(input, target\)/);
  });

  it("starts from given parameters: the seed's own draw given back trains identically, other values train differently", async () => {
    const map = Float32Array.from(new Rng(3).normal(IN * OUT, 0, 1));
    const short = { ...config, num_tokens: BATCH * 5, seed: 9 };
    const seeded = await trainDecomposition(linearMap(), pairedSource(map), short, { backend, handleSignals: false });
    const drawn = linearMap().initialParams(new Rng(9));
    const given = await trainDecomposition(linearMap(), pairedSource(map), short, { backend, handleSignals: false, initialTensors: [{ params: drawn }] });
    expect(given.params.W.data).toEqual(seeded.params.W.data);
    // The caller's arrays are not trained in place.
    expect(drawn.W.data).toEqual(linearMap().initialParams(new Rng(9)).W.data);

    const other: Record<string, HostTensor> = { W: hostTensor('float32', [IN, OUT], new Float32Array(IN * OUT)) };
    const fromZero = await trainDecomposition(linearMap(), pairedSource(map), short, { backend, handleSignals: false, initialTensors: [{ params: other }] });
    expect(fromZero.params.W.data).not.toEqual(seeded.params.W.data);

    const wrongShape = { W: hostTensor('float32', [OUT, IN], new Float32Array(IN * OUT)) };
    await expect(trainDecomposition(linearMap(), pairedSource(map), short, { backend, handleSignals: false, initialTensors: [{ params: wrongShape }] })).rejects.toThrow(
      /parameter 'W' is float32 \[3, 5\]; the decomposition needs float32 \[5, 3\]/,
    );
    await expect(trainDecomposition(linearMap(), pairedSource(map), short, { backend, handleSignals: false, initialTensors: [{ params: {} }] })).rejects.toThrow(ConfigError);
  });

  it('refuses a decomposition written against another contract version', async () => {
    const old = { ...linearMap(), specificationVersion: 'nnd-decomposition-v1' } as unknown as Decomposition;
    await expect(trainDecomposition(old, pairedSource(new Float32Array(IN * OUT)), config, { backend, handleSignals: false })).rejects.toThrow(/this version of nnd takes 'nnd-decomposition-v2'/);
  });
});
