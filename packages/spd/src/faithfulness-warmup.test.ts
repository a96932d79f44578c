import { createOnnxBackend } from '@nnd/backend-onnx';
import { initialTrainingParams, Rng, type HostTensor } from '@nnd/core';
import { trainDecomposition } from '@nnd/train';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { faithfulnessWarmup } from './faithfulness-warmup.js';
import { componentNames, createSpd } from './spd-decomposition.js';
import { polygonTms, sparseFeatureSource, tmsTarget } from './tms.js';

// Counts the warm-ups while running the real one.
vi.mock('./faithfulness-warmup.js', async (original) => {
  const real = await original<typeof import('./faithfulness-warmup.js')>();
  return { faithfulnessWarmup: vi.fn(real.faithfulnessWarmup) };
});
const warmups = vi.mocked(faithfulnessWarmup);

const backend = createOnnxBackend();
afterAll(() => backend.dispose());

const target = tmsTarget(polygonTms(5));
const settings = {
  modules: [
    { name: 'linear1', C: 6 },
    { name: 'linear2', C: 6 },
  ],
  faithfulness_warmup_steps: 50,
  faithfulness_warmup_lr: 0.01,
};
const trainConfig = { num_tokens: 4 * 64, batch_size: 64, lr: 1e-3, seed: 3, log_freq: 1000 };
const train = (initial?: Record<string, HostTensor>) =>
  trainDecomposition(createSpd(target, settings), sparseFeatureSource(5, 64, 0.05, 1), trainConfig, {
    backend,
    handleSignals: false,
    ...(initial === undefined ? {} : { initialTensors: [{ params: initial }] }),
  });

/** sum ||W - VU||^2 over the modules, on the host. */
function faithfulness(params: Record<string, HostTensor>): number {
  const weights = target.weights();
  let sum = 0;
  for (const name of ['linear1', 'linear2']) {
    const W = weights[target.weightOf(name)];
    const { V, U } = componentNames(name);
    const [dIn, dOut] = W.shape;
    const C = params[V].shape[1];
    for (let i = 0; i < dIn; i++) {
      for (let o = 0; o < dOut; o++) {
        let product = 0;
        for (let c = 0; c < C; c++) product += Number(params[V].data[i * C + c]) * Number(params[U].data[c * dOut + o]);
        sum += (Number(W.data[i * dOut + o]) - product) ** 2;
      }
    }
  }
  return sum;
}

describe('the faithfulness warm-up', () => {
  it("is prepareInitialParams, not part of initialParams' draw, and brings VU towards W without touching the draw", () => {
    const spd = createSpd(target, settings);
    warmups.mockClear();
    const drawn = spd.initialParams(new Rng(3));
    expect(warmups).not.toHaveBeenCalled();
    const before = Array.from(drawn['linear1.V'].data as Float32Array);
    const warmed = spd.prepareInitialParams!(drawn);
    expect(warmups).toHaveBeenCalledTimes(1);
    expect(faithfulness(warmed)).toBeLessThan(0.2 * faithfulness(drawn));
    expect(Array.from(drawn['linear1.V'].data as Float32Array)).toEqual(before);
    // The CI functions keep their draw.
    expect(warmed['linear1.ci.W0'].data).toEqual(drawn['linear1.ci.W0'].data);
  });

  it('runs once in a plain run, and not again in a run started from initialTrainingParams, which trains to the same parameters', async () => {
    warmups.mockClear();
    const plain = await train();
    expect(warmups).toHaveBeenCalledTimes(1);

    warmups.mockClear();
    const start = initialTrainingParams(createSpd(target, settings), new Rng(trainConfig.seed));
    const given = await train(start);
    expect(warmups).toHaveBeenCalledTimes(1);
    // Same start and the same stochastic masks (the trainer's Rng draws what the plain run's drew).
    for (const name of Object.keys(plain.params)) expect(given.params[name].data, name).toEqual(plain.params[name].data);
  });
});
