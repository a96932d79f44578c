import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DatasetError } from './dataset-error.js';
import { openDataset } from './open-dataset.js';
import { collect } from './test-fixtures.test-support.js';

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'nnd-open-'));
  await mkdir(join(root, 'texts'));
  await writeFile(join(root, 'texts', 'a.txt'), 'one\n\ntwo');
  await mkdir(join(root, 'records'));
  await writeFile(join(root, 'records', 'part.jsonl'), '{"text": "r"}\n');
  await mkdir(join(root, 'mixed'));
  await writeFile(join(root, 'mixed', 'a.txt'), 'x');
  await writeFile(join(root, 'mixed', 'b.jsonl'), '{"text": "y"}');
  await writeFile(join(root, 'data.csv'), 'text\nz');
});
afterAll(() => rm(root, { recursive: true, force: true }));

describe('openDataset', () => {
  it('picks the reader from the file extension, or from what a directory holds', async () => {
    expect(await collect(await openDataset(join(root, 'texts')))).toEqual([{ text: 'one\n\ntwo' }]);
    expect(await collect(await openDataset(join(root, 'texts'), { textSplit: 'paragraph' }))).toEqual([{ text: 'one' }, { text: 'two' }]);
    expect(await collect(await openDataset(join(root, 'records')))).toEqual([{ text: 'r' }]);
    expect(await collect(await openDataset(join(root, 'records', 'part.jsonl')))).toEqual([{ text: 'r' }]);
  });

  it('says what it accepts for other files and mixed directories', async () => {
    await expect(openDataset(join(root, 'data.csv'))).rejects.toThrow(DatasetError);
    await expect(openDataset(join(root, 'data.csv'))).rejects.toThrow(/expected a \.parquet, \.jsonl or \.txt file/);
    await expect(openDataset(join(root, 'mixed'))).rejects.toThrow(/mixes jsonl and text files|mixes text and jsonl files/);
  });
});
