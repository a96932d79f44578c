import { describe, it, expect } from 'vitest';
import { readSafetensors } from './read-safetensors.js';
import { serializeSafetensors } from './serialize-safetensors.js';
import { fromTypedArray, toTypedArray } from './tensor.js';

describe('readSafetensors', () => {
  it('parses a file laid out byte for byte as the Python library writes it', () => {
    // Python writes compact JSON with "__metadata__" first, then tensors in data order (widest dtype first),
    // and pads the header with spaces to a multiple of 8: 205 JSON bytes + 3 spaces = 208 = 0xd0.
    const json =
      '{"__metadata__":{"format":"pt"},' +
      '"ids":{"dtype":"I64","shape":[2],"data_offsets":[0,16]},' +
      '"bias":{"dtype":"F32","shape":[2],"data_offsets":[16,24]},' +
      '"mask":{"dtype":"BOOL","shape":[3],"data_offsets":[24,27]}}';
    const file = new Uint8Array([
      ...[0xd0, 0, 0, 0, 0, 0, 0, 0],
      ...new TextEncoder().encode(json),
      ...[0x20, 0x20, 0x20],
      ...[0x01, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff], // ids: 1, -1
      ...[0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0x00, 0xc0], // bias: 1.0, -2.0
      ...[0x01, 0x00, 0x01], // mask: true, false, true
    ]);
    expect(file.length).toBe(8 + 208 + 27);

    const { tensors, metadata } = readSafetensors(file);
    expect(metadata).toEqual({ format: 'pt' });
    expect([...tensors.keys()]).toEqual(['ids', 'bias', 'mask']);
    expect(tensors.get('ids')).toMatchObject({ dtype: 'I64', shape: [2] });
    expect([...toTypedArray(tensors.get('ids')!)]).toEqual([1n, -1n]);
    expect([...toTypedArray(tensors.get('bias')!)]).toEqual([1, -2]);
    expect([...toTypedArray(tensors.get('mask')!)]).toEqual([1, 0, 1]);
  });

  it('returns tensor data as views into the input without copying', () => {
    const file = serializeSafetensors({ x: fromTypedArray('I32', [2], new Int32Array([5, 6])) });
    const x = readSafetensors(file).tensors.get('x')!;
    expect(x.data.buffer).toBe(file.buffer);
    file[file.length - 4] = 9;
    expect([...toTypedArray(x)]).toEqual([5, 9]);
  });

  it('round-trips metadata, including unicode and empty values', () => {
    const metadata = { format: 'pt', note: 'päivää ✓ "quoted"\n', empty: '' };
    const file = serializeSafetensors(new Map([['w', fromTypedArray('F32', [1], new Float32Array([1]))]]), metadata);
    expect(readSafetensors(file).metadata).toEqual(metadata);
    expect(readSafetensors(serializeSafetensors({})).metadata).toEqual({});
  });

  it('names the source in error messages', () => {
    expect(() => readSafetensors(new Uint8Array(3), { source: 'model.safetensors' })).toThrow(/safetensors file "model.safetensors" is truncated/);
  });
});
