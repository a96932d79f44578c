import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DatasetError } from './dataset-error.js';
import { openDataset } from './open-dataset.js';
import { parquetSource } from './parquet-source.js';
import { collect, writeParquet } from './test-fixtures.test-support.js';

let root: string;
const texts = Array.from({ length: 25 }, (_, index) => `document number ${index}`);
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'nnd-parquet-'));
  await mkdir(join(root, 'shards'));
  // Two files of 10 and 15 rows in row groups of 4, so skipping crosses files and row groups.
  await writeParquet(join(root, 'shards', 'train-00000.parquet'), { meta: texts.slice(0, 10).map((_, i) => `m${i}`), text: texts.slice(0, 10) }, 4);
  await writeParquet(join(root, 'shards', 'train-00001.parquet'), { meta: texts.slice(10).map((_, i) => `m${i}`), text: texts.slice(10) }, 4);
  await writeParquet(join(root, 'tokens.parquet'), {
    text: ['a', 'b'],
    input_ids: [
      [1, 2, 3],
      [40000, 5],
    ],
    tokens: [[7], [8, 9]],
  });
  await writeParquet(join(root, 'no-column.parquet'), { content: ['x'], url: ['y'] });
  await writeFile(join(root, 'truncated.parquet'), new Uint8Array([80, 65, 82, 49, 0, 0, 0]));
});
afterAll(() => rm(root, { recursive: true, force: true }));

describe('parquetSource', () => {
  it('reads the text column of every file in a directory, in path order, one row group at a time', async () => {
    const source = await parquetSource(join(root, 'shards'));
    expect((await collect(source)).map((document) => ('text' in document ? document.text : ''))).toEqual(texts);
  });

  it('skips to a start index across row groups and files', async () => {
    const source = await parquetSource(join(root, 'shards'));
    for (const start of [0, 3, 4, 9, 10, 13, 24, 25, 30]) {
      expect(
        (await collect(source, start)).map((document) => ('text' in document ? document.text : '')),
        `start ${start}`,
      ).toEqual(texts.slice(start));
    }
  });

  it('prefers tokens over input_ids over text, as the reference; int64 lists become numbers', async () => {
    expect(await collect(await parquetSource(join(root, 'tokens.parquet')))).toEqual([{ tokens: [7] }, { tokens: [8, 9] }]);
    expect(await collect(await parquetSource(join(root, 'tokens.parquet'), { column: 'input_ids' }))).toEqual([{ tokens: [1, 2, 3] }, { tokens: [40000, 5] }]);
  });

  it('errors with the file and the columns it has, or the file and what is wrong with it', async () => {
    await expect(collect(await parquetSource(join(root, 'no-column.parquet')))).rejects.toThrow(DatasetError);
    await expect(collect(await parquetSource(join(root, 'no-column.parquet')))).rejects.toThrow(/no-column\.parquet has none of the columns .* its columns are 'content', 'url'/);
    await expect(collect(await parquetSource(join(root, 'truncated.parquet')))).rejects.toThrow(/Cannot read the footer of Parquet file .*truncated\.parquet/);
  });

  it('is what openDataset picks for a .parquet file or a directory of them', async () => {
    expect((await openDataset(join(root, 'shards'))).description).toMatch(/^parquet /);
    expect(await collect(await openDataset(join(root, 'tokens.parquet')))).toHaveLength(2);
  });
});
