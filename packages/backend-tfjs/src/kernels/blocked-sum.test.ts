import { Rng } from '@nnd/core';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { createTfjsBackend } from '../index.js';
import { blockedSum } from './blocked-sum.js';

describe('blockedSum on tfjs wasm', () => {
  beforeAll(async () => {
    await createTfjsBackend({ runtime: 'wasm' });
  });

  it('sums a million float32 values far closer than one float32 accumulator', async () => {
    const values = new Rng(5).uniform(1_000_000, 0, 1);
    const exact = values.reduce((total, value) => total + value, 0);
    const x = tf.tensor1d(values);
    const [blocked, direct] = [blockedSum(tf, x, [0], false), tf.sum(x)];
    const relative = async (tensor: tf.Tensor) => Math.abs((await tensor.data())[0] - exact) / exact;
    const [blockedError, directError] = [await relative(blocked), await relative(direct)];
    expect(blockedError).toBeLessThan(1e-6);
    // The measured flaw this works around (if tfjs ever fixes it, blockedSum can go).
    expect(directError).toBeGreaterThan(10 * blockedError);
    tf.dispose([x, blocked, direct]);
  });

  it('reduces leading, middle and all axes, with and without kept dimensions, padding prime counts', async () => {
    // [3, 1031, 2]: 1031 is prime, so the blocks need padding.
    const values = Float32Array.from({ length: 3 * 1031 * 2 }, (_, i) => (i % 7) - 3 + i / 1e4);
    const x = tf.tensor3d(values, [3, 1031, 2]);
    const expected = (axes: number[], keepdims: boolean) => tf.tidy(() => tf.sum(tf.cast(x, 'float32'), axes, keepdims));
    for (const [axes, keepdims] of [
      [[1], false],
      [[1], true],
      [[0, 1], false],
      [[0, 1, 2], true],
    ] as const) {
      const [got, want] = [blockedSum(tf, x, axes, keepdims), expected([...axes], keepdims)];
      expect(got.shape).toEqual(want.shape);
      const [gotValues, wantValues] = [await got.data(), await want.data()];
      wantValues.forEach((value, i) => expect(Math.abs(gotValues[i] - value)).toBeLessThanOrEqual(1e-5 * Math.max(1, Math.abs(value))));
      tf.dispose([got, want]);
    }
    x.dispose();
  });
});
