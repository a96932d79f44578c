import { mkdtemp, open, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, it, expect } from 'vitest';
import { SafetensorsError } from '../errors/safetensors-error.js';
import { openSafetensors } from './open-safetensors.js';
import { readSafetensors } from './read-safetensors.js';
import { serializeSafetensors } from './serialize-safetensors.js';
import { fromTypedArray, toTypedArray } from './tensor.js';
import { writeSafetensors } from './write-safetensors.js';

let directory: string;
beforeAll(async () => {
  directory = await mkdtemp(join(tmpdir(), 'nnd-safetensors-open-'));
});
afterAll(async () => {
  await rm(directory, { recursive: true, force: true });
});

const sample = {
  weight: fromTypedArray('F32', [2, 3], new Float32Array([1, 2, 3, 4, 5, 6])),
  half: fromTypedArray('F16', [2], new Float32Array([0.5, -65504])),
  brain: fromTypedArray('BF16', [2], new Float32Array([3, -0.25])),
  step: fromTypedArray('I64', [], new BigInt64Array([123456789012345n])),
  mask: fromTypedArray('BOOL', [3], new Uint8Array([1, 0, 1])),
  double: fromTypedArray('F64', [1], new Float64Array([Math.E])),
};

describe('openSafetensors', () => {
  it('reads the same header, metadata and values as the in-memory reader', async () => {
    const path = join(directory, 'same.safetensors');
    await writeSafetensors(path, sample, { format: 'pt', source: 'test' });
    const inMemory = readSafetensors(new Uint8Array(await readFile(path)));
    const file = await openSafetensors(path);
    try {
      expect(file.names()).toEqual([...inMemory.tensors.keys()]);
      expect(file.metadata).toEqual(inMemory.metadata);
      for (const [name, expected] of inMemory.tensors) {
        const info = file.info(name);
        expect(info.dtype).toBe(expected.dtype);
        expect(info.shape).toEqual(expected.shape);
        expect(info.dataOffsets[1] - info.dataOffsets[0]).toBe(expected.data.length);
        const read = await file.read(name);
        expect(read.data).toEqual(expected.data);
        expect(toTypedArray(read)).toEqual(toTypedArray(expected));
      }
    } finally {
      await file.close();
    }
  });

  it('reads only the header on open and each tensor from disk on demand', async () => {
    const path = join(directory, 'lazy.safetensors');
    await writeSafetensors(path, { a: fromTypedArray('U8', [2], new Uint8Array([1, 2])) });
    const file = await openSafetensors(path);
    // Changing the bytes on disk after open shows read() went to the file rather than a cached copy.
    const handle = await open(path, 'r+');
    await handle.write(new Uint8Array([7, 8]), 0, 2, file.dataStart);
    await handle.close();
    expect([...(await file.read('a')).data]).toEqual([7, 8]);
    await file.close();
  });

  it('opens a file larger than any buffer Node can allocate', async () => {
    const huge = 3 * 2 ** 30;
    const header = JSON.stringify({
      small: { dtype: 'I32', shape: [1], data_offsets: [0, 4] },
      huge: { dtype: 'U8', shape: [huge], data_offsets: [4, 4 + huge] },
    }).padEnd(128, ' ');
    const prefix = new Uint8Array(8 + header.length + 4);
    new DataView(prefix.buffer).setBigUint64(0, BigInt(header.length), true);
    prefix.set(new TextEncoder().encode(header), 8);
    prefix.set([42, 0, 0, 0], 8 + header.length);
    const path = join(directory, 'sparse.safetensors');
    await writeFile(path, prefix);
    // A sparse extension: the file reports its full size without occupying disk.
    await truncate(path, 8 + header.length + 4 + huge);
    const file = await openSafetensors(path);
    expect(file.info('huge')).toEqual({ dtype: 'U8', shape: [huge], dataOffsets: [4, 4 + huge] });
    expect([...toTypedArray(await file.read('small'))]).toEqual([42]);
    await file.close();
  });

  it('rejects a malformed file with the path in the message', async () => {
    const path = join(directory, 'short.safetensors');
    await writeFile(path, new Uint8Array([1, 2, 3]));
    await expect(openSafetensors(path)).rejects.toThrow(SafetensorsError);
    await expect(openSafetensors(path)).rejects.toThrow(`safetensors file "${path}" is truncated`);
  });

  it('rejects a header length larger than the file without reading it', async () => {
    const path = join(directory, 'long-header.safetensors');
    const bytes = new Uint8Array(16);
    new DataView(bytes.buffer).setBigUint64(0, 99_000_000n, true);
    await writeFile(path, bytes);
    await expect(openSafetensors(path)).rejects.toThrow(/header length 99000000 .* is larger than the 8 bytes/);
  });

  it('reports a missing file as a SafetensorsError', async () => {
    const path = join(directory, 'missing.safetensors');
    await expect(openSafetensors(path)).rejects.toThrow(/cannot open safetensors file ".*missing.safetensors": ENOENT/);
  });

  it('rejects unknown names, reads after close, and files truncated after open', async () => {
    const path = join(directory, 'errors.safetensors');
    await writeFile(path, serializeSafetensors(sample));
    const file = await openSafetensors(path);
    expect(() => file.info('nope')).toThrow(/has no tensor "nope"; call names\(\) to list the 6 tensors/);
    await truncate(path, file.dataStart + 4);
    await expect(file.read('weight')).rejects.toThrow(/is truncated: tensor "weight" occupies file bytes/);
    await file.close();
    await file.close();
    await expect(file.read('mask')).rejects.toThrow(/is closed/);
  });

  it('returns info that callers cannot use to corrupt the reader', async () => {
    const path = join(directory, 'copy.safetensors');
    await writeFile(path, serializeSafetensors(sample));
    const file = await openSafetensors(path);
    file.info('weight').shape.push(99);
    expect(file.info('weight').shape).toEqual([2, 3]);
    await file.close();
  });
});
