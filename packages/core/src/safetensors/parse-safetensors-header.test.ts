import { describe, it, expect } from 'vitest';
import { SafetensorsError } from '../errors/safetensors-error.js';
import { parseSafetensorsHeader } from './parse-safetensors-header.js';
import { readSafetensors } from './read-safetensors.js';

/** Builds a file from a header (object or raw JSON text) and a zero-filled byte buffer. */
function buildFile(header: unknown, bufferLength: number, declaredHeaderLength?: bigint): Uint8Array {
  const json = new TextEncoder().encode(typeof header === 'string' ? header : JSON.stringify(header));
  const paddedLength = Math.ceil(json.length / 8) * 8;
  const bytes = new Uint8Array(8 + paddedLength + bufferLength);
  bytes.fill(0x20, 8, 8 + paddedLength);
  bytes.set(json, 8);
  new DataView(bytes.buffer).setBigUint64(0, declaredHeaderLength ?? BigInt(paddedLength), true);
  return bytes;
}

const twoTensors = {
  a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] },
  b: { dtype: 'U8', shape: [3], data_offsets: [8, 11] },
};

function withEntry(name: 'a' | 'b', change: Record<string, unknown>): Record<string, unknown> {
  return { ...twoTensors, [name]: { ...twoTensors[name], ...change } };
}

function expectRejected(bytes: Uint8Array, fragment: RegExp | string): SafetensorsError {
  let caught: unknown;
  try {
    readSafetensors(bytes, { source: '/models/broken.safetensors' });
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(SafetensorsError);
  expect((caught as Error).message).toMatch(fragment);
  expect((caught as Error).message).toContain('/models/broken.safetensors');
  return caught as SafetensorsError;
}

describe('parseSafetensorsHeader', () => {
  it('parses a valid header into tensors in byte order, and metadata', () => {
    const bytes = buildFile({ b: twoTensors.b, a: twoTensors.a, __metadata__: { k: 'v' } }, 11);
    const dataStart = bytes.length - 11;
    // Only the prefix and header are passed, as the lazy file reader does.
    const header = parseSafetensorsHeader(bytes.subarray(0, dataStart), bytes.length);
    expect(header.dataStart).toBe(dataStart);
    expect([...header.tensors.keys()]).toEqual(['a', 'b']);
    expect(header.tensors.get('b')).toEqual({ dtype: 'U8', shape: [3], dataOffsets: [8, 11] });
    expect(header.metadata).toEqual({ k: 'v' });
  });

  it('accepts zero-length tensors and an empty file body', () => {
    const header = { z: { dtype: 'F32', shape: [0, 3], data_offsets: [0, 0] }, a: twoTensors.a, b: twoTensors.b };
    expect([...readSafetensors(buildFile(header, 11)).tensors.keys()]).toEqual(['z', 'a', 'b']);
    expect(readSafetensors(buildFile({}, 0)).tensors.size).toBe(0);
  });

  it('rejects a file shorter than 8 bytes as truncated', () => {
    expectRejected(new Uint8Array(5), /truncated: it is 5 bytes, shorter than the 8-byte header length prefix/);
  });

  it('rejects a header length larger than the file', () => {
    expectRejected(buildFile(twoTensors, 11, 4096n), /header length 4096 .* is larger than the \d+ bytes that follow/);
  });

  it('rejects a header length above 100 MB before allocating anything', () => {
    expectRejected(buildFile(twoTensors, 11, 100_000_001n), /exceeds the 100000000-byte limit/);
    // Even when the caller claims the file is big enough, the prefix alone is enough to refuse.
    const prefix = buildFile({}, 0, 2n ** 64n - 1n).subarray(0, 8);
    expect(() => parseSafetensorsHeader(prefix, Number.MAX_SAFE_INTEGER)).toThrow(/exceeds the 100000000-byte limit/);
  });

  it('rejects header bytes that were not supplied', () => {
    const bytes = buildFile(twoTensors, 11);
    expect(() => parseSafetensorsHeader(bytes.subarray(0, 20), bytes.length)).toThrow(/only 20 header bytes were supplied/);
  });

  it('rejects invalid JSON', () => {
    expectRejected(buildFile('{"a": {"dtype": "F32",', 0), /is not valid UTF-8 JSON/);
  });

  it('rejects invalid UTF-8 in the header', () => {
    const bytes = buildFile('{"\u00e9":1}', 0);
    bytes[10] = 0xff;
    expectRejected(bytes, /is not valid UTF-8 JSON/);
  });

  it('rejects a header that is not an object', () => {
    expectRejected(buildFile('[1, 2]', 0), /is an array, not a JSON object/);
    expectRejected(buildFile('null', 0), /is null, not a JSON object/);
    expectRejected(buildFile('"text"', 0), /is "text", not a JSON object/);
  });

  it('rejects a tensor entry that is not an object', () => {
    expectRejected(buildFile({ ...twoTensors, c: [1, 2] }, 11), /tensor "c": header entry is \[1,2\], not an object/);
  });

  it('rejects an unknown dtype', () => {
    expectRejected(buildFile(withEntry('a', { dtype: 'F8_E4M3' }), 11), /tensor "a": unknown dtype "F8_E4M3"/);
  });

  it.each([
    ['missing', undefined],
    ['not an array', 2],
    ['negative', [-2]],
    ['fractional', [1.5]],
    ['unsafe', [2 ** 53]],
    ['non-numeric', ['2']],
  ])('rejects a shape that is %s', (_, shape) => {
    expectRejected(buildFile(withEntry('a', { shape }), 11), /tensor "a": shape .* is not an array of non-negative safe integers/);
  });

  it('rejects a shape whose byte size does not match the data_offsets range', () => {
    expectRejected(buildFile(withEntry('a', { shape: [3] }), 11), /tensor "a": shape \[3\] with dtype F32 needs 12 bytes but data_offsets \[0, 8\] span 8/);
    expectRejected(buildFile(withEntry('a', { shape: [2 ** 30, 2 ** 30, 2 ** 30] }), 11), /needs more than 2\^53 bytes/);
  });

  it('rejects malformed data_offsets', () => {
    expectRejected(buildFile(withEntry('a', { data_offsets: [0] }), 11), /data_offsets \[0\] is not a pair/);
    expectRejected(buildFile(withEntry('a', { data_offsets: [0, -8] }), 11), /is not a pair/);
  });

  it('rejects data_offsets past the end of the byte buffer', () => {
    expectRejected(buildFile(withEntry('b', { data_offsets: [80, 83] }), 11), /tensor "b": data_offsets \[80, 83\] \(file bytes \d+\.\.\d+\) extend past the end of the 11-byte byte buffer/);
  });

  it('rejects data_offsets whose begin exceeds their end', () => {
    expectRejected(buildFile(withEntry('b', { data_offsets: [11, 8] }), 11), /begin 11 is after end 8/);
  });

  it('rejects overlapping tensors', () => {
    const header = { ...withEntry('b', { shape: [7], data_offsets: [4, 11] }) };
    expectRejected(buildFile(header, 11), /tensor "b" data_offsets \[4, 11\] overlap tensor "a" which ends at 8/);
  });

  it('rejects a gap between tensors', () => {
    expectRejected(buildFile(withEntry('b', { data_offsets: [9, 12] }), 12), /gap in the byte buffer from 8 to 9/);
  });

  it('rejects a gap before the first tensor', () => {
    expectRejected(buildFile({ a: { dtype: 'U8', shape: [1], data_offsets: [1, 2] } }, 2), /gap in the byte buffer from 0 to 1/);
  });

  it('rejects trailing bytes after the last tensor', () => {
    expectRejected(buildFile(twoTensors, 16), /5 trailing bytes after the last tensor/);
  });

  it('rejects a truncated file whose byte buffer ends before the last tensor', () => {
    const bytes = buildFile(twoTensors, 11);
    expectRejected(bytes.subarray(0, bytes.length - 2), /tensor "b": .* extend past the end of the 9-byte byte buffer; the file is truncated/);
  });

  it.each([
    ['an array', ['x']],
    ['a string', 'x'],
    ['a map with a number value', { epoch: 3 }],
    ['a map with a nested object', { nested: { a: 'b' } }],
  ])('rejects __metadata__ that is %s', (_, metadata) => {
    expectRejected(buildFile({ ...twoTensors, __metadata__: metadata }, 11), /"__metadata__" .*it must map strings to strings/);
  });

  it('keeps a "__proto__" metadata key as data', () => {
    const { metadata } = readSafetensors(buildFile('{"__metadata__":{"__proto__":"x"}}', 0));
    expect(Object.keys(metadata)).toEqual(['__proto__']);
    expect(Object.getPrototypeOf(metadata)).toBe(Object.prototype);
  });
});
