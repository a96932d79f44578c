import { createOnnxBackend } from '@nnd/backend-onnx';
import { add, DECOMPOSITION_SPECIFICATION_VERSION, hostTensor, initialTrainingParams, matmul, mul, reduceMean, Rng, sub, type Decomposition, type HostTensor } from '@nnd/core';
import { afterAll, describe, expect, it } from 'vitest';
import { trainDecomposition } from './train-decomposition.js';

const backend = createOnnxBackend();
afterAll(() => backend.dispose());

const IN = 4;
const OUT = 2;
const BATCH = 16;

/**
 * A linear map whose initialisation has a second, deterministic stage that
 * counts its calls (as SPD's faithfulness warm-up), and whose output carries
 * noise from the trainer's per-step random draws, so that a run whose Rng
 * went elsewhere trains differently.
 */
function preparedMap(calls: { count: number }): Decomposition {
  return {
    specificationVersion: DECOMPOSITION_SPECIFICATION_VERSION,
    architecture: 'prepared-map-test',
    config: {},
    reads: [{ hook: 'input', width: IN }],
    writes: [{ hook: 'target', width: OUT }],
    initialParams: (rng) => ({ W: hostTensor('float32', [IN, OUT], rng.uniform(IN * OUT, -0.1, 0.1)) }),
    prepareInitialParams(drawn) {
      calls.count += 1;
      return {
        W: hostTensor(
          'float32',
          [IN, OUT],
          Array.from(drawn.W.data as Float32Array, (value) => 10 * value),
        ),
      };
    },
    randomInputs: (rows) => ({ noise: [rows, OUT] }),
    initialState: () => ({}),
    forward(_graph, { inputs, targets }, params, _state, options) {
      const output = add(matmul(inputs.input, params.W), mul(options!.random!.noise, 0.1));
      const error = sub(output, targets.target);
      return { outputs: { target: output }, featureActs: output, losses: { l2_loss: reduceMean(mul(error, error)) }, metrics: {}, nextState: {} };
    },
  };
}

function source() {
  const rng = new Rng(5);
  return {
    async nextBatch() {
      const input = Float32Array.from(rng.normal(BATCH * IN, 0, 1));
      const target = new Float32Array(BATCH * OUT);
      for (let row = 0; row < BATCH; row++) for (let column = 0; column < OUT; column++) target[row * OUT + column] = input[row * IN + column] - input[row * IN + column + 2];
      return { input, target };
    },
  };
}

const config = { num_tokens: BATCH * 6, batch_size: BATCH, lr: 1e-2, seed: 7, log_freq: 1000 };
const run = (decomposition: Decomposition, initial?: Record<string, HostTensor>) =>
  trainDecomposition(decomposition, source(), config, { backend, handleSignals: false, ...(initial === undefined ? {} : { initialTensors: [{ params: initial }] }) });

describe('prepareInitialParams', () => {
  it('prepares the drawn parameters once in a plain run', async () => {
    const calls = { count: 0 };
    await run(preparedMap(calls));
    expect(calls.count).toBe(1);
  });

  it('never prepares given parameters again: a run from initialTrainingParams trains as the plain run with the same seed, random draws included', async () => {
    const plain = await run(preparedMap({ count: 0 }));
    const calls = { count: 0 };
    const decomposition = preparedMap(calls);
    const start = initialTrainingParams(decomposition, new Rng(config.seed));
    expect(calls.count).toBe(1);
    const given = await run(decomposition, start);
    expect(calls.count).toBe(1);
    expect(given.params.W.data).toEqual(plain.params.W.data);
    // The unprepared draw is another start, which the trainer leaves as given.
    const unprepared = await run(decomposition, decomposition.initialParams(new Rng(config.seed)));
    expect(calls.count).toBe(1);
    expect(unprepared.params.W.data).not.toEqual(plain.params.W.data);
  });
});
