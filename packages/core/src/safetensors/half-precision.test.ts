import { describe, it, expect } from 'vitest';
import { bfloat16BitsToFloat32Bits, float16BitsToFloat32Bits, float32ToBFloat16Bits, float32ToFloat16Bits } from './half-precision.js';

const bitsView = new Uint32Array(1);
const floatView = new Float32Array(bitsView.buffer);

function floatFromBits(bits: number): number {
  bitsView[0] = bits;
  return floatView[0];
}

const decodeFloat16 = (half: number): number => floatFromBits(float16BitsToFloat32Bits(half));
const decodeBFloat16 = (half: number): number => floatFromBits(bfloat16BitsToFloat32Bits(half));

/** Bit patterns that do not survive decode then encode; one expect per pattern would dominate the run time. */
function roundTripFailures(decode: (bits: number) => number, encode: (value: number) => number): number[] {
  const failures: number[] = [];
  for (let bits = 0; bits < 0x10000; bits += 1) {
    const value = decode(bits);
    const survived = Number.isNaN(value) ? Number.isNaN(decode(encode(value))) : encode(value) === bits;
    if (!survived) failures.push(bits);
  }
  return failures;
}

describe('float16', () => {
  it.each([
    [1, 0x3c00],
    [-2.5, 0xc100],
    [65504, 0x7bff],
    [65519, 0x7bff],
    [65520, 0x7c00],
    [0.1, 0x2e66],
    [2 ** -14, 0x0400],
    [2 ** -24, 0x0001],
    [1023 * 2 ** -24, 0x03ff],
    [2 ** -25, 0x0000],
    [1.5 * 2 ** -25, 0x0001],
    [3 * 2 ** -25, 0x0002],
    [1 + 2 ** -11, 0x3c00],
    [1 + 3 * 2 ** -11, 0x3c02],
    [0, 0x0000],
    [-0, 0x8000],
    [Infinity, 0x7c00],
    [-Infinity, 0xfc00],
    [1e10, 0x7c00],
    [-1e-10, 0x8000],
  ])('encodes %d as %i', (value, bits) => {
    expect(float32ToFloat16Bits(value)).toBe(bits);
  });

  it('encodes NaN as a NaN and decodes NaN patterns to NaN', () => {
    const bits = float32ToFloat16Bits(NaN);
    expect(bits & 0x7c00).toBe(0x7c00);
    expect(bits & 0x3ff).not.toBe(0);
    expect(decodeFloat16(0x7e00)).toBeNaN();
    expect(decodeFloat16(0xfc01)).toBeNaN();
  });

  it('decodes known bit patterns', () => {
    expect(decodeFloat16(0x3c00)).toBe(1);
    expect(decodeFloat16(0xc100)).toBe(-2.5);
    expect(decodeFloat16(0x7bff)).toBe(65504);
    expect(decodeFloat16(0x0001)).toBe(2 ** -24);
    expect(decodeFloat16(0x03ff)).toBe(1023 * 2 ** -24);
    expect(Object.is(decodeFloat16(0x8000), -0)).toBe(true);
    expect(decodeFloat16(0xfc00)).toBe(-Infinity);
  });

  it('round-trips every bit pattern exactly, NaN staying NaN', () => {
    expect(roundTripFailures(decodeFloat16, float32ToFloat16Bits)).toEqual([]);
  });

  it('rounds random float32 values to the nearest half, ties to even', () => {
    let state = 12345;
    for (let sample = 0; sample < 100_000; sample += 1) {
      state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
      // Exponents around the float16 range, so subnormals, normals and overflow are all sampled.
      const value = floatFromBits(((state & 0x80000000) | ((((state >>> 23) % 48) + 95) << 23) | (state & 0x7fffff)) >>> 0);
      const half = float32ToFloat16Bits(value);
      if ((half & 0x7fff) === 0x7c00) {
        // Halfway between 65504 and the next step (65536) is where rounding reaches Infinity.
        expect(Math.abs(value)).toBeGreaterThanOrEqual(65520);
        continue;
      }
      const error = Math.abs(decodeFloat16(half) - value);
      for (const neighbour of [half - 1, half + 1]) {
        if ((neighbour & 0x7fff) > 0x7c00 || neighbour < 0 || ((neighbour ^ half) & 0x8000) !== 0) continue;
        const neighbourError = Math.abs(decodeFloat16(neighbour) - value);
        if (!Number.isFinite(neighbourError)) continue;
        if (error > neighbourError || (error === neighbourError && (half & 1) === 1)) {
          expect.fail(`${value} encoded as ${half.toString(16)}, but ${neighbour.toString(16)} is nearer or even`);
        }
      }
    }
  });
});

describe('bfloat16', () => {
  it.each([
    [1, 0x3f80],
    [-2.5, 0xc020],
    [65504, 0x4780],
    [0.1, 0x3dcd],
    [2 ** -133, 0x0001],
    [2 ** -149, 0x0000],
    [floatFromBits(0x3f808000), 0x3f80],
    [floatFromBits(0x3f818000), 0x3f82],
    [floatFromBits(0x7f7fffff), 0x7f80],
    [-0, 0x8000],
    [Infinity, 0x7f80],
    [-Infinity, 0xff80],
  ])('encodes %d as %i', (value, bits) => {
    expect(float32ToBFloat16Bits(value)).toBe(bits);
  });

  it('keeps NaN a NaN', () => {
    expect(float32ToBFloat16Bits(NaN) & 0x7fc0).toBe(0x7fc0);
    expect(float32ToBFloat16Bits(floatFromBits(0x7f800001)) & 0x7f).not.toBe(0);
    expect(decodeBFloat16(0x7fc0)).toBeNaN();
  });

  it('round-trips every bit pattern exactly, NaN staying NaN', () => {
    expect(roundTripFailures(decodeBFloat16, float32ToBFloat16Bits)).toEqual([]);
  });
});
