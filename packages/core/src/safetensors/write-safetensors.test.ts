import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, it, expect } from 'vitest';
import { SafetensorsError } from '../errors/safetensors-error.js';
import { readSafetensors } from './read-safetensors.js';
import { serializeSafetensors } from './serialize-safetensors.js';
import { fromTypedArray } from './tensor.js';
import { writeSafetensors } from './write-safetensors.js';

let directory: string;
beforeAll(async () => {
  directory = await mkdtemp(join(tmpdir(), 'nnd-safetensors-write-'));
});
afterAll(async () => {
  await rm(directory, { recursive: true, force: true });
});

const tensors = {
  b: fromTypedArray('I32', [2], new Int32Array([1, -1])),
  a: fromTypedArray('F64', [1], new Float64Array([0.5])),
};

describe('writeSafetensors', () => {
  it('writes exactly the serialized bytes and leaves no temporary file', async () => {
    const path = join(directory, 'model.safetensors');
    await writeSafetensors(path, tensors, { format: 'pt' });
    expect(new Uint8Array(await readFile(path))).toEqual(serializeSafetensors(tensors, { format: 'pt' }));
    expect(await readdir(directory)).toEqual(['model.safetensors']);
  });

  it('replaces an existing file', async () => {
    const path = join(directory, 'replace.safetensors');
    await writeFile(path, 'old contents');
    await writeSafetensors(path, new Map(Object.entries(tensors)));
    expect([...readSafetensors(await readFile(path)).tensors.keys()]).toEqual(['a', 'b']);
  });

  it('leaves the existing file untouched when the input is invalid', async () => {
    const path = join(directory, 'keep.safetensors');
    await writeFile(path, 'old contents');
    const invalid = { w: { dtype: 'F32' as const, shape: [2], data: new Uint8Array(3) } };
    await expect(writeSafetensors(path, invalid)).rejects.toThrow(SafetensorsError);
    expect(await readFile(path, 'utf8')).toBe('old contents');
    expect((await readdir(directory)).filter((name) => name.endsWith('.tmp'))).toEqual([]);
  });

  it('reports an unwritable destination as a SafetensorsError', async () => {
    const path = join(directory, 'no-such-directory', 'model.safetensors');
    await expect(writeSafetensors(path, tensors)).rejects.toThrow(/cannot write safetensors file ".*model.safetensors" \(via temporary file .*\): ENOENT/);
  });
});
