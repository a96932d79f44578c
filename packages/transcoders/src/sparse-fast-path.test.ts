import { Rng } from '@nnd/core';
import { NO_DEAD_FEATURES } from '@nnd/sae';
import { describe, expect, it } from 'vitest';
import { buildTranscoderForward, evaluate, gradientOutputs, transcoderFeeds } from './test-support.js';
import { createTranscoder } from './transcoder-registry.js';

const BATCH = 6;

function run(config: Record<string, unknown>, variant: string | undefined, rng = new Rng(4)) {
  const transcoder = createTranscoder(config);
  const built = buildTranscoderForward(transcoder, BATCH, { variant });
  const params = transcoder.initialParams(new Rng(1));
  // Non-zero biases and skip, so that their gradients are exercised.
  for (const name of ['b_enc', 'b_dec', 'W_skip']) {
    const tensor = params[name];
    if (tensor !== undefined) (tensor.data as Float32Array).set(rng.normal(tensor.data.length, 0, 0.3));
  }
  const { input_size: dIn, output_size: dOut } = transcoder.config;
  const feeds = transcoderFeeds(rng.normal(BATCH * dIn, 0, 1), rng.normal(BATCH * dOut, 0, 1), transcoder, params);
  return evaluate(
    built.graph,
    {
      loss: built.loss,
      output: built.output.outputs[transcoder.outputHook],
      acts: built.output.featureActs,
      counter: built.output.nextState.num_batches_not_active,
      ...gradientOutputs(built),
    },
    feeds,
  );
}

function expectClose(actual: Record<string, number[]>, expected: Record<string, number[]>): void {
  expect(Object.keys(actual).sort()).toEqual(Object.keys(expected).sort());
  for (const [name, values] of Object.entries(expected)) {
    const scale = Math.max(1e-12, ...values.map(Math.abs));
    const worst = Math.max(0, ...values.map((value, i) => Math.abs(actual[name][i] - value) / scale));
    expect(worst, name).toBeLessThan(1e-10);
  }
}

describe("the TopK and BatchTopK transcoders' sparse fast path", () => {
  const shapes = [
    { input_size: 5, output_size: 3, pre_enc_bias: false, skip: true },
    { input_size: 4, output_size: 4, pre_enc_bias: true, skip: false },
  ];
  for (const architecture of ['topk_transcoder', 'batchtopk_transcoder']) {
    for (const shape of shapes) {
      it(`${architecture} ${JSON.stringify(shape)}: sparse decoder, and the no_dead_features variant with the sparse encoder gradient, equal the dense pass`, () => {
        const config = { architecture, ...shape, dict_size: 12, top_k: 3, top_k_aux: 4, n_batches_to_dead: 5 };
        const dense = run({ ...config, sparse_decoder: false }, undefined);
        expect(dense['grad.b_enc'].some((value) => value !== 0)).toBe(true);
        // No counter can reach 5 from 0 in one batch, so the variant is the same step.
        expectClose(run({ ...config, sparse_decoder: true }, undefined), dense);
        expectClose(run({ ...config, sparse_decoder: true }, NO_DEAD_FEATURES), dense);
      });
    }
  }
});
