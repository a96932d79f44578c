import { Rng } from '@nnd/core';
import { describe, expect, it } from 'vitest';
import { createTranscoder } from './transcoder-registry.js';

function rowNorms(data: Float32Array, rows: number, columns: number): number[] {
  return Array.from({ length: rows }, (_, row) => Math.hypot(...data.subarray(row * columns, (row + 1) * columns)));
}

describe('initial transcoder parameters', () => {
  it('draws W_dec [F, d_out] as its own kaiming-uniform draw after W_enc, then normalises its rows, when the widths differ', () => {
    const transcoder = createTranscoder({ architecture: 'topk_transcoder', input_size: 6, output_size: 4, dict_size: 10, top_k: 2 });
    const params = transcoder.initialParams(new Rng(5));
    const rng = new Rng(5);
    const wEnc = rng.kaimingUniform([6, 10]);
    const wDec = rng.kaimingUniform([10, 4]);
    expect(params.W_enc.shape).toEqual([6, 10]);
    expect(params.W_enc.data).toEqual(wEnc);
    expect(params.W_dec.shape).toEqual([10, 4]);
    const data = params.W_dec.data as Float32Array;
    for (let feature = 0; feature < 10; feature++) {
      const norm = Math.hypot(...wDec.subarray(feature * 4, feature * 4 + 4));
      for (let column = 0; column < 4; column++) expect(data[feature * 4 + column]).toBeCloseTo(wDec[feature * 4 + column] / norm, 6);
    }
    for (const norm of rowNorms(data, 10, 4)) expect(norm).toBeCloseTo(1, 6);
    expect(Array.from(params.b_dec.data as Float32Array)).toEqual([0, 0, 0, 0]);
    expect(Array.from(params.b_enc.data as Float32Array)).toEqual(new Array(10).fill(0));
  });

  it('sets W_dec to W_enc^T, row-normalised, when the widths are equal (the SAE case)', () => {
    const transcoder = createTranscoder({ architecture: 'vanilla_transcoder', input_size: 5, output_size: 5, dict_size: 7 });
    const params = transcoder.initialParams(new Rng(3));
    const wEnc = params.W_enc.data as Float32Array;
    const wDec = params.W_dec.data as Float32Array;
    for (let feature = 0; feature < 7; feature++) {
      const column = Array.from({ length: 5 }, (_, input) => wEnc[input * 7 + feature]);
      const norm = Math.hypot(...column);
      for (let input = 0; input < 5; input++) expect(wDec[feature * 5 + input]).toBeCloseTo(column[input] / norm, 6);
    }
  });

  it('is deterministic in the config seed, and adds a zero W_skip [d_out, d_in] with skip and a zero log_threshold for JumpReLU', () => {
    const config = { architecture: 'jumprelu_transcoder', input_size: 3, output_size: 2, dict_size: 4, skip: true, seed: 11 };
    const a = createTranscoder(config).initialParams();
    const b = createTranscoder(config).initialParams(new Rng(11));
    expect(a.W_enc.data).toEqual(b.W_enc.data);
    expect(a.W_dec.data).toEqual(b.W_dec.data);
    expect(a.W_skip.shape).toEqual([2, 3]);
    expect(Array.from(a.W_skip.data as Float32Array)).toEqual([0, 0, 0, 0, 0, 0]);
    expect(Array.from(a.log_threshold.data as Float32Array)).toEqual([0, 0, 0, 0]);
    expect(Object.keys(a)).toEqual(['b_dec', 'b_enc', 'W_enc', 'W_dec', 'W_skip', 'log_threshold']);
    expect(createTranscoder({ ...config, seed: 12 }).initialParams().W_enc.data).not.toEqual(a.W_enc.data);
  });
});
