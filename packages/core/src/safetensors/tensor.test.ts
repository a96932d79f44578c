import { describe, it, expect } from 'vitest';
import { SafetensorsError } from '../errors/safetensors-error.js';
import { readSafetensors } from './read-safetensors.js';
import { serializeSafetensors } from './serialize-safetensors.js';
import { fromTypedArray, toTypedArray } from './tensor.js';

const bytes = (...values: number[]) => new Uint8Array(values);

describe('fromTypedArray / toTypedArray', () => {
  it('round-trips every dtype through a serialized file', () => {
    const originals = {
      f32: fromTypedArray('F32', [2, 2], new Float32Array([1.5, -2.25, 3.4028234663852886e38, -0])),
      f64: fromTypedArray('F64', [3], new Float64Array([Math.PI, -1e300, 5e-324])),
      f16: fromTypedArray('F16', [5], new Float32Array([1, -2.5, 65504, 2 ** -24, Infinity])),
      bf16: fromTypedArray('BF16', [4], new Float32Array([1, -2.5, 2 ** -133, -Infinity])),
      i64: fromTypedArray('I64', [3], new BigInt64Array([-(2n ** 63n), 2n ** 63n - 1n, 42n])),
      i32: fromTypedArray('I32', [3], new Int32Array([-(2 ** 31), 2 ** 31 - 1, 7])),
      u8: fromTypedArray('U8', [1, 3], new Uint8Array([0, 128, 255])),
      bool: fromTypedArray('BOOL', [3], new Uint8Array([1, 0, 1])),
      scalar: fromTypedArray('F32', [], new Float32Array([7])),
      empty: fromTypedArray('I32', [0, 4], new Int32Array(0)),
    };
    const { tensors } = readSafetensors(serializeSafetensors(originals));
    expect([...tensors.keys()].sort()).toEqual(Object.keys(originals).sort());
    for (const [name, original] of Object.entries(originals)) {
      const read = tensors.get(name)!;
      expect(read.dtype).toBe(original.dtype);
      expect(read.shape).toEqual(original.shape);
      expect(toTypedArray(read)).toEqual(toTypedArray(original));
    }
    expect([...toTypedArray(tensors.get('f16')!)]).toEqual([1, -2.5, 65504, 2 ** -24, Infinity]);
    expect([...toTypedArray(tensors.get('bf16')!)]).toEqual([1, -2.5, 2 ** -133, -Infinity]);
    expect(Object.is(toTypedArray(tensors.get('f32')!)[3], -0)).toBe(true);
  });

  it('writes little-endian bytes with the expected half-precision bit patterns', () => {
    expect(fromTypedArray('F16', [3], new Float32Array([1, -2.5, 65504])).data).toEqual(bytes(0x00, 0x3c, 0x00, 0xc1, 0xff, 0x7b));
    expect(fromTypedArray('BF16', [2], new Float32Array([1, -2.5])).data).toEqual(bytes(0x80, 0x3f, 0x20, 0xc0));
    expect(fromTypedArray('F32', [1], new Float32Array([1])).data).toEqual(bytes(0x00, 0x00, 0x80, 0x3f));
    expect(fromTypedArray('I32', [1], new Int32Array([-2])).data).toEqual(bytes(0xfe, 0xff, 0xff, 0xff));
    expect(fromTypedArray('I64', [1], new BigInt64Array([1n])).data).toEqual(bytes(1, 0, 0, 0, 0, 0, 0, 0));
  });

  it('encodes NaN halves as NaN and decodes them back to NaN', () => {
    const f16 = fromTypedArray('F16', [1], new Float32Array([NaN]));
    const bf16 = fromTypedArray('BF16', [1], new Float32Array([NaN]));
    expect(toTypedArray(f16)[0]).toBeNaN();
    expect(toTypedArray(bf16)[0]).toBeNaN();
  });

  it('rounds F32 values given as float64 and stores BOOL as 0/1', () => {
    expect(toTypedArray(fromTypedArray('F32', [1], new Float64Array([0.1])))[0]).toBe(Math.fround(0.1));
    expect(fromTypedArray('BOOL', [3], new Uint8Array([0, 7, 255])).data).toEqual(bytes(0, 1, 1));
  });

  it('decodes unaligned views and returns a copy rather than a view', () => {
    const backing = new Uint8Array([0xaa, 0x00, 0x00, 0x80, 0x3f]);
    const tensor = { dtype: 'F32' as const, shape: [1], data: backing.subarray(1) };
    const values = toTypedArray(tensor);
    expect([...values]).toEqual([1]);
    values[0] = 2;
    expect(backing[4]).toBe(0x3f);
  });

  it('handles Node Buffers, whose slice() returns a view of a shared pool', () => {
    const pooled = Buffer.from([9, 9, 0x00, 0x00, 0x80, 0x3f, 9]);
    expect([...toTypedArray({ dtype: 'F32', shape: [1], data: pooled.subarray(2, 6) })]).toEqual([1]);
    const fromBuffer = fromTypedArray('U8', [2], Buffer.from([4, 5]));
    expect(fromBuffer.data.buffer.byteLength).toBe(2);
    expect([...fromBuffer.data]).toEqual([4, 5]);
  });

  it('rejects an array of the wrong type', () => {
    expect(() => fromTypedArray('I64', [1], new Int32Array([1]))).toThrow(SafetensorsError);
    expect(() => fromTypedArray('I64', [1], new Int32Array([1]))).toThrow(/needs a BigInt64Array, got Int32Array/);
  });

  it('rejects an array whose length does not match the shape', () => {
    expect(() => fromTypedArray('F32', [2, 3], new Float32Array(5))).toThrow(/has 6 elements but the array has 5/);
  });

  it('rejects invalid shapes and dtypes', () => {
    expect(() => fromTypedArray('F32', [-1], new Float32Array(0))).toThrow(/non-negative safe integers/);
    expect(() => fromTypedArray('F8' as 'F32', [1], new Float32Array(1))).toThrow(/unknown dtype "F8"/);
  });

  it('rejects data whose length does not match shape and dtype', () => {
    expect(() => toTypedArray({ dtype: 'F32', shape: [2], data: new Uint8Array(7) })).toThrow(/needs 8 bytes of data but data is 7 bytes/);
  });
});
