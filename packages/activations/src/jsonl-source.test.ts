import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DatasetError } from './dataset-error.js';
import { jsonlSource } from './jsonl-source.js';
import { collect } from './test-fixtures.test-support.js';

let root: string;
const lines = (records: unknown[]) => records.map((record) => JSON.stringify(record)).join('\n');
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'nnd-jsonl-'));
  await writeFile(join(root, 'text.jsonl'), `${lines([{ text: 'one', meta: 1 }, { text: 'two' }])}\n\n${lines([{ text: 'three' }])}\n`);
  await writeFile(
    join(root, 'tokens.jsonl'),
    lines([
      { text: 'ignored', input_ids: [1, 2, 3] },
      { text: 'x', input_ids: [4] },
    ]),
  );
  await writeFile(join(root, 'content.jsonl'), lines([{ content: 'a', url: 'u' }]));
  await writeFile(join(root, 'broken.jsonl'), `${lines([{ text: 'fine' }])}\n{"text": oops}\n`);
});
afterAll(() => rm(root, { recursive: true, force: true }));

describe('jsonlSource', () => {
  it('reads the text column line by line, skipping blank lines', async () => {
    expect(await collect(await jsonlSource(join(root, 'text.jsonl')))).toEqual([{ text: 'one' }, { text: 'two' }, { text: 'three' }]);
  });

  it('prefers a token column over text and skips to a start index', async () => {
    const source = await jsonlSource(join(root, 'tokens.jsonl'));
    expect(await collect(source)).toEqual([{ tokens: [1, 2, 3] }, { tokens: [4] }]);
    expect(await collect(source, 1)).toEqual([{ tokens: [4] }]);
    expect(await collect(await jsonlSource(join(root, 'text.jsonl')), 2)).toEqual([{ text: 'three' }]);
  });

  it('lists the fields found when no column fits, and takes a chosen column', async () => {
    await expect(collect(await jsonlSource(join(root, 'content.jsonl')))).rejects.toThrow(DatasetError);
    await expect(collect(await jsonlSource(join(root, 'content.jsonl')))).rejects.toThrow(/its columns are 'content', 'url'/);
    expect(await collect(await jsonlSource(join(root, 'content.jsonl'), { column: 'content' }))).toEqual([{ text: 'a' }]);
  });

  it('names the file and line of invalid JSON', async () => {
    await expect(collect(await jsonlSource(join(root, 'broken.jsonl')))).rejects.toThrow(/broken\.jsonl:2 is not valid JSON/);
  });
});
