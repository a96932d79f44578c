import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { removeStaleTemporaries, renameDurably, temporaryPathFor, writeFileDurably } from './durable-files.js';

// Records every path whose handle is fsynced, so the tests can see the file and its directory flushed.
const synced = vi.hoisted(() => [] as string[]);
vi.mock('node:fs/promises', async (importOriginal) => {
  const actual = await importOriginal<typeof import('node:fs/promises')>();
  const open: typeof actual.open = async (path, ...rest) => {
    const handle = await actual.open(path, ...rest);
    const sync = handle.sync.bind(handle);
    handle.sync = async () => {
      synced.push(String(path));
      return sync();
    };
    return handle;
  };
  return { ...actual, open };
});

let directory: string;
beforeAll(async () => {
  directory = await mkdtemp(join(tmpdir(), 'nnd-durable-files-'));
});
afterAll(async () => {
  await rm(directory, { recursive: true, force: true });
});
beforeEach(() => {
  synced.length = 0;
});

async function fresh(name: string): Promise<string> {
  const folder = join(directory, name);
  await mkdir(folder);
  return folder;
}

describe('temporaryPathFor', () => {
  it('names a hidden, unique file beside the target', () => {
    const first = temporaryPathFor('/data/cache/manifest.json');
    expect(dirname(first)).toBe('/data/cache');
    expect(basename(first)).toMatch(/^\.manifest\.json\.[0-9a-f]{12}\.tmp$/);
    expect(temporaryPathFor('/data/cache/manifest.json')).not.toBe(first);
  });
});

describe('removeStaleTemporaries', () => {
  it('deletes temporary files named as temporaryPathFor names them, and nothing else, recursively when asked', async () => {
    const folder = await fresh('stale');
    await mkdir(join(folder, 'sae'));
    const top = temporaryPathFor(join(folder, 'summary.json'));
    const nested = temporaryPathFor(join(folder, 'sae', 'sae_weights.safetensors'));
    const kept = ['summary.json', '.hidden', 'notes.tmp', '.x.1234.tmp', '.x.0123456789ab.tmp.bak'];
    for (const name of kept) await writeFile(join(folder, name), 'kept');
    for (const path of [top, nested]) await writeFile(path, 'half a file');

    expect(await removeStaleTemporaries(folder)).toEqual([top]);
    expect(await readdir(join(folder, 'sae'))).toEqual([basename(nested)]);
    expect(await removeStaleTemporaries(folder, { recursive: true })).toEqual([nested]);
    expect((await readdir(folder)).sort()).toEqual([...kept, 'sae'].sort());
    expect(await readdir(join(folder, 'sae'))).toEqual([]);
    expect(await removeStaleTemporaries(join(folder, 'missing'))).toEqual([]);
  });
});

describe('writeFileDurably', () => {
  it('writes a string, fsyncs the temporary file and the directory, and leaves no temporary file', async () => {
    const folder = await fresh('string');
    const path = join(folder, 'config.json');
    await writeFileDurably(path, '{"a": 1}\n');
    expect(await readFile(path, 'utf8')).toBe('{"a": 1}\n');
    expect(await readdir(folder)).toEqual(['config.json']);
    expect(synced).toHaveLength(2);
    expect(basename(synced[0])).toMatch(/^\.config\.json\.[0-9a-f]{12}\.tmp$/);
    expect(synced[1]).toBe(folder);
  });

  it('writes bytes, and several parts one after another', async () => {
    const folder = await fresh('parts');
    await writeFileDurably(join(folder, 'one.bin'), new Uint8Array([1, 2, 3]));
    expect([...(await readFile(join(folder, 'one.bin')))]).toEqual([1, 2, 3]);
    function* parts() {
      yield new Uint8Array([4, 5]);
      yield 'AB';
      yield new Uint8Array([]);
      yield new Uint8Array([6]);
    }
    await writeFileDurably(join(folder, 'parts.bin'), parts());
    expect([...(await readFile(join(folder, 'parts.bin')))]).toEqual([4, 5, 65, 66, 6]);
  });

  it('replaces an existing file', async () => {
    const folder = await fresh('replace');
    const path = join(folder, 'state.json');
    await writeFile(path, 'old contents');
    await writeFileDurably(path, 'new contents');
    expect(await readFile(path, 'utf8')).toBe('new contents');
    expect(await readdir(folder)).toEqual(['state.json']);
  });

  it('writes through the temporary path it is given', async () => {
    const folder = await fresh('named');
    const temporaryPath = join(folder, '.chosen.tmp');
    await writeFileDurably(join(folder, 'file.txt'), 'x', { temporaryPath });
    expect(synced[0]).toBe(temporaryPath);
    expect(await readdir(folder)).toEqual(['file.txt']);
  });

  it('throws the file system error unchanged when the directory is missing', async () => {
    const path = join(directory, 'no-such-directory', 'file.txt');
    const error = await writeFileDurably(path, 'x').catch((caught: unknown) => caught);
    expect((error as NodeJS.ErrnoException).code).toBe('ENOENT');
  });

  it('leaves the old file untouched and removes the temporary file when writing fails part way', async () => {
    const folder = await fresh('failure');
    const path = join(folder, 'keep.txt');
    await writeFile(path, 'old contents');
    const failure = new Error('the producer failed');
    function* parts() {
      yield 'new ';
      throw failure;
    }
    await expect(writeFileDurably(path, parts())).rejects.toBe(failure);
    expect(await readFile(path, 'utf8')).toBe('old contents');
    expect(await readdir(folder)).toEqual(['keep.txt']);
  });
});

describe('renameDurably', () => {
  it('fsyncs a file, renames it over an existing one, and fsyncs the target directory', async () => {
    const folder = await fresh('rename-file');
    const target = join(folder, 'target.txt');
    await writeFile(join(folder, 'source.txt'), 'new');
    await writeFile(target, 'old');
    await renameDurably(join(folder, 'source.txt'), target);
    expect(await readFile(target, 'utf8')).toBe('new');
    expect(await readdir(folder)).toEqual(['target.txt']);
    expect(synced).toEqual([join(folder, 'source.txt'), folder]);
  });

  it('renames a directory with its contents, fsyncing it and its new parent', async () => {
    const folder = await fresh('rename-directory');
    const source = join(folder, '.step_3.tmp');
    await mkdir(source);
    await writeFile(join(source, 'a.json'), '{}');
    await mkdir(join(folder, 'out'));
    const target = join(folder, 'out', 'step_3');
    await renameDurably(source, target);
    expect(await readdir(folder)).toEqual(['out']);
    expect(await readFile(join(target, 'a.json'), 'utf8')).toBe('{}');
    expect(synced).toEqual([source, join(folder, 'out')]);
  });

  it('throws the file system error unchanged when the source is missing', async () => {
    const folder = await fresh('rename-missing');
    const error = await renameDurably(join(folder, 'absent'), join(folder, 'target')).catch((caught: unknown) => caught);
    expect((error as NodeJS.ErrnoException).code).toBe('ENOENT');
  });
});
