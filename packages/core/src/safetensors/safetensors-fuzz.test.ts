import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, expect } from 'vitest';
import { SafetensorsError } from '../errors/safetensors-error.js';
import { openSafetensors } from './open-safetensors.js';
import type { SafetensorsFile } from './open-safetensors.js';
import { readSafetensors } from './read-safetensors.js';
import type { SafetensorsContents } from './read-safetensors.js';
import { serializeSafetensors } from './serialize-safetensors.js';
import { fromTypedArray, toTypedArray } from './tensor.js';

/** Small seeded PRNG so every failing case can be replayed from its seed. */
function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let mixed = state;
    mixed = Math.imul(mixed ^ (mixed >>> 15), mixed | 1);
    mixed ^= mixed + Math.imul(mixed ^ (mixed >>> 7), mixed | 61);
    return ((mixed ^ (mixed >>> 14)) >>> 0) / 4294967296;
  };
}

const original = serializeSafetensors(
  {
    'layer.0.weight': fromTypedArray(
      'F32',
      [3, 4],
      Float32Array.from({ length: 12 }, (_, index) => index - 5.5),
    ),
    'layer.0.bias': fromTypedArray('F16', [4], new Float32Array([1, -2.5, 65504, 2 ** -24])),
    embedding: fromTypedArray('BF16', [2, 3], new Float32Array([1, 2, 3, -4, 0.5, -0.125])),
    positions: fromTypedArray('I64', [3], new BigInt64Array([0n, -1n, 2n ** 40n])),
    counts: fromTypedArray('I32', [2, 2], new Int32Array([1, -2, 3, -4])),
    scale: fromTypedArray('F64', [], new Float64Array([Math.PI])),
    mask: fromTypedArray('BOOL', [5], new Uint8Array([1, 0, 1, 1, 0])),
    bytes: fromTypedArray('U8', [3], new Uint8Array([0, 127, 255])),
  },
  { format: 'pt', epoch: '3' },
);
const reference = readSafetensors(original);
const dataStart = original.length - [...reference.tensors.values()].reduce((sum, tensor) => sum + tensor.data.length, 0);

function mutate(random: () => number): { bytes: Uint8Array; positions: number[] } {
  const bytes = original.slice();
  const positions: number[] = [];
  const flips = 1 + Math.floor(random() * 8);
  for (let flip = 0; flip < flips; flip += 1) {
    const position = Math.floor(random() * bytes.length);
    bytes[position] ^= 1 + Math.floor(random() * 255);
    positions.push(position);
  }
  return { bytes, positions };
}

function summary({ tensors, metadata }: SafetensorsContents) {
  return {
    metadata,
    tensors: [...tensors].map(([name, { dtype, shape }]) => ({ name, dtype, shape })),
  };
}

function sortedSummary(contents: SafetensorsContents) {
  const { metadata, tensors } = summary(contents);
  return { metadata, tensors: tensors.sort((left, right) => (left.name < right.name ? -1 : 1)) };
}

interface RawEntry {
  dtype: string;
  shape: number[];
  data_offsets: [number, number];
}

/** What a parse of the mutated bytes must yield, derived independently from the raw JSON. */
function checkAgainstRawHeader(bytes: Uint8Array, parsed: SafetensorsContents): void {
  const headerLength = Number(new DataView(bytes.buffer).getBigUint64(0, true));
  const raw = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLength))) as Record<string, unknown>;
  expect(parsed.metadata).toEqual(raw.__metadata__ ?? {});
  const rawNames = Object.keys(raw).filter((name) => name !== '__metadata__');
  expect([...parsed.tensors.keys()].sort()).toEqual(rawNames.sort());
  for (const [name, tensor] of parsed.tensors) {
    const entry = raw[name] as RawEntry;
    const [begin, end] = entry.data_offsets;
    expect({ dtype: tensor.dtype, shape: tensor.shape }).toEqual({ dtype: entry.dtype, shape: entry.shape });
    expect(tensor.data).toEqual(bytes.subarray(8 + headerLength + begin, 8 + headerLength + end));
    expect(() => toTypedArray(tensor)).not.toThrow();
  }
  // Whatever was accepted must also survive a write and re-read unchanged.
  const reread = readSafetensors(serializeSafetensors(parsed.tensors, parsed.metadata));
  expect(sortedSummary(reread)).toEqual(sortedSummary(parsed));
  for (const [name, tensor] of reread.tensors) expect(tensor.data).toEqual(parsed.tensors.get(name)!.data);
}

function parseOrReject(bytes: Uint8Array): SafetensorsContents | SafetensorsError {
  try {
    return readSafetensors(bytes);
  } catch (error) {
    if (error instanceof SafetensorsError) return error;
    throw new Error(`readSafetensors threw a non-SafetensorsError: ${String(error)}`, { cause: error });
  }
}

describe('safetensors fuzzing', () => {
  it('either rejects random byte flips with SafetensorsError or parses them faithfully', () => {
    const random = mulberry32(0x5afe7e45);
    let accepted = 0;
    let rejected = 0;
    for (let trial = 0; trial < 3000; trial += 1) {
      const { bytes, positions } = mutate(random);
      const outcome = parseOrReject(bytes);
      if (outcome instanceof SafetensorsError) {
        rejected += 1;
        continue;
      }
      accepted += 1;
      if (positions.every((position) => position >= dataStart)) {
        // Only tensor bytes changed: the header view must be identical and the data must be the new bytes.
        expect(summary(outcome)).toEqual(summary(reference));
        for (const [name, tensor] of outcome.tensors) {
          const { byteOffset, length } = reference.tensors.get(name)!.data;
          expect(tensor.data.byteOffset).toBe(byteOffset);
          expect(tensor.data).toEqual(bytes.subarray(byteOffset, byteOffset + length));
        }
      } else {
        // A header flip may still be valid (a renamed tensor, a reordered shape); it must then mean what it says.
        checkAgainstRawHeader(bytes, outcome);
      }
    }
    expect(accepted).toBeGreaterThan(100);
    expect(rejected).toBeGreaterThan(100);
  });

  it('gives the same verdict through the lazy file reader', async () => {
    const directory = await mkdtemp(join(tmpdir(), 'nnd-safetensors-fuzz-'));
    try {
      const random = mulberry32(0xf11e);
      for (let trial = 0; trial < 200; trial += 1) {
        const { bytes } = mutate(random);
        const path = join(directory, `case-${trial}.safetensors`);
        await writeFile(path, bytes);
        const inMemory = parseOrReject(bytes);
        let file: SafetensorsFile;
        try {
          file = await openSafetensors(path);
        } catch (error) {
          expect(error).toBeInstanceOf(SafetensorsError);
          expect(inMemory).toBeInstanceOf(SafetensorsError);
          // Both readers share the validation core, so only the source label differs.
          const expected = (inMemory as SafetensorsError).message.replace('safetensors data', `safetensors file "${path}"`);
          expect((error as Error).message).toBe(expected);
          continue;
        }
        if (inMemory instanceof SafetensorsError) expect.fail(`lazy reader accepted a file the in-memory reader rejected: ${inMemory.message}`);
        try {
          expect(file.names()).toEqual([...inMemory.tensors.keys()]);
          for (const [name, tensor] of inMemory.tensors) expect((await file.read(name)).data).toEqual(tensor.data);
        } finally {
          await file.close();
        }
      }
    } finally {
      await rm(directory, { recursive: true, force: true });
    }
  });
});
