import { describe, expect, it } from 'vitest';
import { Rng } from './rng.js';

describe('Rng', () => {
  it('matches the xoshiro128** reference sequence for state [1, 2, 3, 4]', () => {
    const rng = new Rng({ algorithm: 'xoshiro128**', words: [1, 2, 3, 4] });
    const drawn = Array.from({ length: 10 }, () => rng.nextUint32());
    // From the reference implementation's test vectors (rand_xoshiro).
    expect(drawn).toEqual([11520, 0, 5927040, 70819200, 2031721883, 1637235492, 1287239034, 3734860849, 3729100597, 4258142804]);
  });

  it('is deterministic per seed and resumable from its state', () => {
    const a = new Rng(49);
    const b = new Rng(49);
    expect(Array.from(a.uniform(5))).toEqual(Array.from(b.uniform(5)));
    const saved = a.state();
    const continued = Array.from(a.normal(7));
    expect(Array.from(new Rng(saved).normal(7))).toEqual(continued);
    expect(Array.from(new Rng(50).uniform(5))).not.toEqual(Array.from(new Rng(49).uniform(5)));
  });

  it('draws uniform and normal samples with the right moments', () => {
    const rng = new Rng(1);
    const u = rng.uniform(200_000, -1, 3);
    const n = rng.normal(200_001, 2, 0.5);
    const mean = (xs: Float32Array) => xs.reduce((s, x) => s + x, 0) / xs.length;
    const variance = (xs: Float32Array) => {
      const m = mean(xs);
      return xs.reduce((s, x) => s + (x - m) ** 2, 0) / xs.length;
    };
    expect(mean(u)).toBeCloseTo(1, 1);
    expect(variance(u)).toBeCloseTo(16 / 12, 1);
    expect(u.reduce((m, x) => Math.min(m, x), Infinity)).toBeGreaterThanOrEqual(-1);
    expect(u.reduce((m, x) => Math.max(m, x), -Infinity)).toBeLessThanOrEqual(3);
    expect(mean(n)).toBeCloseTo(2, 2);
    expect(Math.sqrt(variance(n))).toBeCloseTo(0.5, 2);
  });

  it("uses PyTorch's kaiming_uniform_ bound sqrt(6 / fan_in) with fan_in = dim 1", () => {
    const weights = new Rng(49).kaimingUniform([64, 1024]);
    const bound = Math.sqrt(6 / 1024);
    const largest = weights.reduce((m, w) => Math.max(m, Math.abs(w)), 0);
    expect(largest).toBeLessThanOrEqual(bound);
    expect(largest).toBeGreaterThan(bound * 0.99);
    expect(weights.length).toBe(64 * 1024);
    expect(() => new Rng(1).kaimingUniform([3])).toThrow(/rank >= 2/);
  });

  it('permutes', () => {
    const perm = Array.from(new Rng(3).permutation(100));
    expect([...perm].sort((a, b) => a - b)).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(perm).not.toEqual(Array.from({ length: 100 }, (_, i) => i));
  });
});

describe('uniformFloat32', () => {
  it('draws the same 32-bit outputs as nextUint32, as 24-bit floats in [0, 1), and leaves the same state', () => {
    const fast = new Rng(11);
    const slow = new Rng(11);
    const values = fast.uniformFloat32(1000);
    for (let i = 0; i < 1000; i++) expect(values[i]).toBe(Math.fround((slow.nextUint32() >>> 8) / 2 ** 24));
    expect(fast.state()).toEqual(slow.state());
    expect(Math.min(...values)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...values)).toBeLessThan(1);
  });
});
