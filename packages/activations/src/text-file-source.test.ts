import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DatasetError } from './dataset-error.js';
import { collect } from './test-fixtures.test-support.js';
import { textFileSource } from './text-file-source.js';

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'nnd-text-'));
  await mkdir(join(root, 'corpus', 'nested'), { recursive: true });
  await writeFile(join(root, 'corpus', 'b.txt'), 'Second file.\n\nIts second paragraph\nspans two lines.\n');
  await writeFile(join(root, 'corpus', 'a.txt'), 'First file.\r\n\r\n\r\nAfter blank lines.');
  await writeFile(join(root, 'corpus', 'nested', 'c.txt'), '   \n');
  await writeFile(join(root, 'corpus', 'ignored.md'), 'not text');
  await mkdir(join(root, 'empty'));
});
afterAll(() => rm(root, { recursive: true, force: true }));

describe('textFileSource', () => {
  it('reads one document per file, sorted by path, skipping blank files and other extensions', async () => {
    const source = await textFileSource(join(root, 'corpus'));
    expect(await collect(source)).toEqual([{ text: 'First file.\r\n\r\n\r\nAfter blank lines.' }, { text: 'Second file.\n\nIts second paragraph\nspans two lines.\n' }]);
    expect(source.description).toContain('one document per file');
  });

  it('splits on blank lines in paragraph mode, and skips to a start index', async () => {
    const source = await textFileSource(join(root, 'corpus'), { split: 'paragraph' });
    const all = await collect(source);
    expect(all).toEqual([{ text: 'First file.' }, { text: 'After blank lines.' }, { text: 'Second file.' }, { text: 'Its second paragraph\nspans two lines.' }]);
    expect(await collect(source, 3)).toEqual(all.slice(3));
  });

  it('reads a single file, and names the path when there is nothing to read', async () => {
    expect(await collect(await textFileSource(join(root, 'corpus', 'a.txt'), { split: 'paragraph' }))).toHaveLength(2);
    await expect(textFileSource(join(root, 'empty'))).rejects.toThrow(DatasetError);
    await expect(textFileSource(join(root, 'empty'))).rejects.toThrow(/holds no \.txt files/);
    await expect(textFileSource(join(root, 'absent'))).rejects.toThrow(/No text file or directory at/);
  });
});
