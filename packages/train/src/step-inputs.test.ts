import { cast, createReferenceBackend, DECOMPOSITION_SPECIFICATION_VERSION, evaluateGraph, gather, hostTensor, mul, reduceSum, Rng, type Decomposition, type HostTensor } from '@nnd/core';
import { describe, expect, it } from 'vitest';
import { lrScale } from './lr-schedule.js';
import { stateInputName, stateOutputName, STEP_INPUT } from './step-names.js';
import { trainDecomposition } from './train-decomposition.js';
import { buildTrainingStep } from './training-step.js';

const rows = 2;
const seq = 3;
const table = hostTensor('float32', [4, 1], [1, 2, 3, 4]);

/**
 * Reads token ids, looks them up in a frozen table, and reports what the
 * step fed it: the random tensor's sum, the progress, the looked-up sum.
 * loss = 100 a + 100 b, so that both gradients are 100.
 */
function probe(groups = true): Decomposition {
  return {
    specificationVersion: DECOMPOSITION_SPECIFICATION_VERSION,
    architecture: 'probe',
    config: {},
    reads: [{ hook: 'tokens', width: seq, dtype: 'int64' }],
    writes: [],
    initialParams: () => ({ a: hostTensor('float32', [1], [0.5]), b: hostTensor('float32', [1], [0.5]) }),
    initialState: () => ({}),
    frozenInputs: () => ({ table }),
    randomInputs: (batchRows) => ({ r: [batchRows, 1] }),
    gradientGroups: groups ? () => [{ params: ['a'], maxGradNorm: 1 }] : undefined,
    forward(graph, { inputs }, params, _state, options) {
      const looked = gather(options!.frozen!.table, inputs.tokens, 0);
      return {
        outputs: {},
        featureActs: cast(inputs.tokens, 'float32'),
        losses: { loss_a: reduceSum(mul(params.a, 100)), loss_b: reduceSum(mul(params.b, 100)) },
        metrics: { r_sum: reduceSum(options!.random!.r), progress: options!.progress!, looked_sum: reduceSum(looked) },
        nextState: {},
      };
    },
  };
}

const tokens = [
  [0, 1, 2, 3, 3, 3],
  [0, 0, 0, 1, 1, 1],
].map((ids) => BigInt64Array.from(ids, BigInt));
const source = () => {
  let next = 0;
  return { nextBatch: async () => ({ tokens: tokens[next++ % 2] }) };
};

describe('what a step feeds a decomposition beyond its batch', () => {
  it('feeds int64 token ids, the frozen inputs, fresh random tensors from the seeded Rng, and the progress', async () => {
    const logged: Record<string, number>[] = [];
    await trainDecomposition(
      probe(),
      source(),
      { num_tokens: 2 * rows, batch_size: rows, seed: 5 },
      {
        backend: createReferenceBackend(),
        handleSignals: false,
        logger: { log: (metrics) => void logged.push({ ...metrics }) },
      },
    );
    const rng = new Rng(5);
    const draws = [rng.uniformFloat32(rows), rng.uniformFloat32(rows)].map((values) => values.reduce((sum, value) => sum + value, 0));
    expect(logged.map(({ r_sum }) => r_sum)).toEqual(draws.map((sum) => Math.fround(sum)));
    expect(draws[0]).not.toBe(draws[1]);
    expect(logged.map(({ progress }) => progress)).toEqual([0, 0.5]);
    expect(logged.map(({ looked_sum }) => looked_sum)).toEqual([1 + 2 + 3 + 4 + 4 + 4, 1 + 1 + 1 + 2 + 2 + 2]);
  });

  it('clips each gradient group to its own norm and the rest to max_grad_norm', () => {
    const spec = { shape: [1], dtype: 'float32' as const };
    const step = buildTrainingStep(
      [
        {
          decomposition: probe(),
          params: { a: spec, b: spec },
          state: {},
          adam: { lr: 0.1, beta1: 0.9, beta2: 0.999, epsilon: 1e-8 },
          maxGradNorm: 1000,
          frozen: { table: { shape: [4, 1], dtype: 'float32' } },
        },
      ],
      rows,
      [],
      { totalSteps: 1 },
    );
    const feeds: Record<string, HostTensor> = {
      'batch.tokens': hostTensor('int64', [rows, seq], tokens[0]),
      'member0.frozen.table': table,
      'member0.random.r': hostTensor('float32', [rows, 1], [0.25, 0.5]),
      [STEP_INPUT]: hostTensor('float64', [], [1]),
    };
    for (const kind of ['param', 'adam_m', 'adam_v'] as const) {
      for (const name of ['a', 'b']) feeds[stateInputName(0, kind, name)] = hostTensor('float32', [1], [kind === 'param' ? 0.5 : 0]);
    }
    const [mA, mB] = evaluateGraph(step.graph, [step.outputs[stateOutputName(0, 'adam_m', 'a')], step.outputs[stateOutputName(0, 'adam_m', 'b')]], feeds);
    // m = (1 - beta1) g: a's gradient 100 clipped to norm 1, b's within 1000 and unclipped.
    expect(mA.data[0]).toBeCloseTo(0.1 * 1, 5);
    expect(mB.data[0]).toBeCloseTo(0.1 * 100, 3);
  });

  it('warms the learning rate up from 0 and decays it as goodfire-ai/spd does', async () => {
    expect([0, 1, 2, 3].map((step) => lrScale(step, 4, { kind: 'constant', warmupFrac: 0.5, finalFrac: 1 }))).toEqual([0, 0.5, 1, 1]);
    expect([0, 5, 10].map((step) => lrScale(step, 11, { kind: 'cosine', warmupFrac: 0, finalFrac: 0.1 }))).toEqual([1, 0.1 + 0.9 * 0.5 * (1 + Math.cos(Math.PI / 2)), 0.1]);
    expect([0, 5, 10].map((step) => lrScale(step, 11, { kind: 'linear', warmupFrac: 0, finalFrac: 0 }))).toEqual([1, 0.5, 0]);
    // One step inside the warm-up trains at rate 0: the parameters do not move; without it they do.
    const train = (config: Record<string, unknown>) =>
      trainDecomposition(
        probe(false),
        source(),
        { num_tokens: rows, batch_size: rows, ...config },
        {
          backend: createReferenceBackend(),
          handleSignals: false,
        },
      );
    expect((await train({ lr_schedule: 'linear', lr_warmup_frac: 1 })).params.a.data[0]).toBe(0.5);
    expect((await train({})).params.a.data[0]).toBeCloseTo(0.5 - 3e-4, 6);
  });
});
