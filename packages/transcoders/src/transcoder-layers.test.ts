import { describe, expect, it } from 'vitest';
import { buildTranscoderForward, evaluate, f32, transcoderFeeds } from './test-support.js';
import { createTranscoder } from './transcoder-registry.js';

/** (v - mean) / (unbiased std + 1e-5) per row, and the mean and std to map back. */
function standardiseRow(row: number[]): { values: number[]; mean: number; std: number } {
  const mean = row.reduce((sum, value) => sum + value, 0) / row.length;
  const std = Math.sqrt(row.reduce((sum, value) => sum + (value - mean) ** 2, 0) / (row.length - 1));
  return { values: row.map((value) => (value - mean) / (std + 1e-5)), mean, std };
}

/** x [d_in] @ W [d_in, n] + b. */
function affine(x: number[], w: number[], b: number[]): number[] {
  return b.map((bias, column) => x.reduce((sum, value, row) => sum + value * w[row * b.length + column], bias));
}

// d_in 3, d_out 2, F 2: small enough to check by hand.
const W_ENC = [1, 0, 0, 1, 1, -1];
const W_DEC = [0.6, 0.8, 1, 0];
const W_SKIP = [0.5, 0, -1, 0, 2, 0];
const B_ENC = [0.1, -0.2];
const B_DEC = [0.3, -0.4];
const params = {
  b_dec: f32([2], B_DEC),
  b_enc: f32([2], B_ENC),
  W_enc: f32([3, 2], W_ENC),
  W_dec: f32([2, 2], W_DEC),
  W_skip: f32([2, 3], W_SKIP),
};
const X = [
  [1, 2, 0.5],
  [-1, 0.5, 3],
];
const Y = [
  [2, 5],
  [-3, 1],
];

describe('transcoder layers', () => {
  it('encodes relu(x W_enc + b_enc), decodes with b_dec, adds x W_skip^T with skip', () => {
    for (const skip of [false, true]) {
      const transcoder = createTranscoder({ architecture: 'vanilla_transcoder', input_size: 3, output_size: 2, dict_size: 2, skip });
      const built = buildTranscoderForward(transcoder, 2);
      const { W_skip: _unused, ...withoutSkip } = params;
      const out = evaluate(built.graph, { acts: built.output.featureActs, output: built.output.outputs.target }, transcoderFeeds(X.flat(), Y.flat(), transcoder, skip ? params : withoutSkip));
      const acts = X.map((x) => affine(x, W_ENC, B_ENC).map((value) => Math.max(0, value)));
      const output = X.map((x, row) => {
        const decoded = affine(acts[row], W_DEC, B_DEC);
        return skip ? decoded.map((value, column) => value + x.reduce((sum, v, input) => sum + v * W_SKIP[column * 3 + input], 0)) : decoded;
      });
      out.acts.forEach((value, i) => expect(value).toBeCloseTo(acts.flat()[i], 6));
      out.output.forEach((value, i) => expect(value).toBeCloseTo(output.flat()[i], 6));
    }
  });

  it('standardises input and target separately with input_unit_norm: the loss is on the standardised target, the output mapped back with its mean and std', () => {
    const transcoder = createTranscoder({ architecture: 'vanilla_transcoder', input_size: 3, output_size: 2, dict_size: 2, skip: true, input_unit_norm: true });
    const built = buildTranscoderForward(transcoder, 2);
    const out = evaluate(built.graph, { output: built.output.outputs.target, l2: built.output.losses.l2_loss }, transcoderFeeds(X.flat(), Y.flat(), transcoder, params));
    let squares = 0;
    const expected = X.map((row, index) => {
      const x = standardiseRow(row).values;
      const y = standardiseRow(Y[index]);
      const acts = affine(x, W_ENC, B_ENC).map((value) => Math.max(0, value));
      const prediction = affine(acts, W_DEC, B_DEC).map((value, column) => value + x.reduce((sum, v, input) => sum + v * W_SKIP[column * 3 + input], 0));
      prediction.forEach((value, column) => {
        squares += (value - y.values[column]) ** 2;
      });
      return prediction.map((value) => value * y.std + y.mean);
    });
    out.output.forEach((value, i) => expect(value).toBeCloseTo(expected.flat()[i], 6));
    expect(out.l2[0]).toBeCloseTo(squares / 4, 6);
  });

  it('subtracts b_dec before the encoder with pre_enc_bias only when the widths are equal', () => {
    const square = createTranscoder({ architecture: 'vanilla_transcoder', input_size: 2, output_size: 2, dict_size: 2, pre_enc_bias: true });
    const squareParams = { b_dec: f32([2], [1, 2]), b_enc: f32([2], [0, 0]), W_enc: f32([2, 2], [1, 0, 0, 1]), W_dec: f32([2, 2], [1, 0, 0, 1]) };
    const built = buildTranscoderForward(square, 1);
    const acts = evaluate(built.graph, { acts: built.output.featureActs }, transcoderFeeds([3, 5], [0, 0], square, squareParams)).acts;
    expect(acts).toEqual([2, 3]);
    const unused = createTranscoder({ architecture: 'vanilla_transcoder', input_size: 2, output_size: 2, dict_size: 2 });
    const plain = buildTranscoderForward(unused, 1);
    expect(evaluate(plain.graph, { acts: plain.output.featureActs }, transcoderFeeds([3, 5], [0, 0], unused, squareParams)).acts).toEqual([3, 5]);
    // Asked for at unequal widths, it is not applied (b_dec has the output's width).
    const wide = createTranscoder({ architecture: 'vanilla_transcoder', input_size: 2, output_size: 3, dict_size: 2, pre_enc_bias: true });
    const wideParams = { ...squareParams, b_dec: f32([3], [1, 2, 3]), W_dec: f32([2, 3], [1, 0, 0, 0, 1, 0]) };
    const wideBuilt = buildTranscoderForward(wide, 1);
    expect(evaluate(wideBuilt.graph, { acts: wideBuilt.output.featureActs }, transcoderFeeds([3, 5], [0, 0, 0], wide, wideParams)).acts).toEqual([3, 5]);
  });

  it('includes b_enc before the top-k selection of TopK and BatchTopK', () => {
    for (const architecture of ['topk_transcoder', 'batchtopk_transcoder']) {
      const transcoder = createTranscoder({ architecture, input_size: 2, output_size: 1, dict_size: 3, top_k: 1, sparse_decoder: false });
      // x W_enc = [1, 0.5, 0.2]; b_enc lifts feature 1 above feature 0.
      const given = { b_dec: f32([1], [0]), b_enc: f32([3], [0, 1, 0]), W_enc: f32([2, 3], [1, 0.5, 0.2, 0, 0, 0]), W_dec: f32([3, 1], [1, 1, 1]) };
      const built = buildTranscoderForward(transcoder, 1);
      expect(evaluate(built.graph, { acts: built.output.featureActs }, transcoderFeeds([1, 0], [0], transcoder, given)).acts).toEqual([0, 1.5, 0]);
    }
  });

  it('names the JumpReLU sparsity term sparsity_loss: l1_coeff times the mean count of p = relu(pre) above the threshold', () => {
    const transcoder = createTranscoder({ architecture: 'jumprelu_transcoder', input_size: 3, output_size: 2, dict_size: 2, l1_coeff: 0.5 });
    const built = buildTranscoderForward(transcoder, 2);
    expect(Object.keys(built.output.losses).sort()).toEqual(['l2_loss', 'sparsity_loss']);
    // Thresholds exp(0.5) and 1 (parameters are float32, so values agree to ~1e-7).
    const { W_skip: _unused, ...withoutSkip } = params;
    const given = { ...withoutSkip, log_threshold: f32([2], [0.5, 0]) };
    const out = evaluate(
      built.graph,
      { sparsity: built.output.losses.sparsity_loss, l0: built.output.metrics.l0_norm, acts: built.output.featureActs },
      transcoderFeeds(X.flat(), Y.flat(), transcoder, given),
    );
    const thresholds = [Math.exp(0.5), 1];
    const p = X.map((x) => affine(x, W_ENC, B_ENC).map((value) => Math.max(0, value)));
    const count = p.flat().filter((value, i) => value > thresholds[i % 2]).length / 2;
    expect(out.l0[0]).toBe(count);
    expect(out.sparsity[0]).toBeCloseTo(0.5 * count, 6);
    out.acts.forEach((value, i) => expect(value).toBeCloseTo(p.flat()[i] > thresholds[i % 2] ? p.flat()[i] : 0, 6));
  });
});
