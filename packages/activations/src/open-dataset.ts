import { readdir, stat } from 'node:fs/promises';
import { extname, resolve } from 'node:path';
import { CORPUS_NAMES, corpusNameOf, corpusSource } from './bundled-corpora.js';
import type { DocumentSource } from './dataset-document.js';
import { DatasetError } from './dataset-error.js';
import { hubDatasetSource, type HubDatasetOptions } from './hub-dataset-source.js';
import { jsonlSource } from './jsonl-source.js';
import { parquetSource } from './parquet-source.js';
import { textFileSource, type TextFileSourceOptions } from './text-file-source.js';

export interface OpenDatasetOptions extends HubDatasetOptions {
  /** How `.txt` files become documents (see textFileSource). */
  textSplit?: TextFileSourceOptions['split'];
}

const HUB_DATASET_ID = /^[A-Za-z0-9][\w.-]*\/[A-Za-z0-9][\w.-]*$/;
const READERS = {
  '.parquet': 'parquet',
  '.jsonl': 'jsonl',
  '.txt': 'text',
} as const;

/**
 * A dataset by name, in this order: a bundled corpus (`'sotu'`,
 * `'moby-dick'` or their package names), a local file or directory
 * (`.parquet`, `.jsonl`, `.txt`), or a Hugging Face dataset id
 * (`'NeelNanda/pile-10k'`) streamed from the hub's Parquet files.
 */
export async function openDataset(name: string, options: OpenDatasetOptions = {}): Promise<DocumentSource> {
  const corpus = corpusNameOf(name);
  if (corpus !== undefined) return corpusSource(corpus);
  const path = resolve(name);
  const info = await stat(path).catch(() => undefined);
  if (info !== undefined) {
    const reader = info.isFile() ? READERS[extname(path).toLowerCase() as keyof typeof READERS] : await readerForDirectory(path);
    if (reader === undefined) {
      throw new DatasetError(`Cannot read ${JSON.stringify(path)} as a dataset: expected a .parquet, .jsonl or .txt file, or a directory of them.`);
    }
    if (reader === 'parquet') return parquetSource(path, options);
    if (reader === 'jsonl') return jsonlSource(path, options);
    return textFileSource(path, { split: options.textSplit });
  }
  if (HUB_DATASET_ID.test(name)) {
    return hubDatasetSource(name, options).catch((cause: unknown) => {
      if (!DatasetError.isInstance(cause)) throw cause;
      // Say why a mistyped local path ended up at the hub.
      throw new DatasetError(`'${name}' is not a local path (nothing exists at ${JSON.stringify(path)}), so it was read as a Hugging Face dataset id. ${cause.message}`, { cause });
    });
  }
  throw new DatasetError(
    `Unknown dataset '${name}': it is not a bundled corpus (${CORPUS_NAMES.map((corpus) => `'${corpus}'`).join(', ')}), ` +
      `no file or directory exists at ${JSON.stringify(path)}, and it is not a Hugging Face dataset id of the form 'owner/name'.`,
  );
}

/** The one reader whose files a directory holds (searched recursively). */
async function readerForDirectory(path: string): Promise<(typeof READERS)[keyof typeof READERS] | undefined> {
  const entries = await readdir(path, { recursive: true, withFileTypes: true });
  const found = new Set<(typeof READERS)[keyof typeof READERS]>();
  for (const entry of entries) {
    const reader = READERS[extname(entry.name).toLowerCase() as keyof typeof READERS];
    if (entry.isFile() && reader !== undefined) found.add(reader);
  }
  if (found.size > 1) {
    throw new DatasetError(
      `Directory ${JSON.stringify(path)} mixes ${[...found].join(' and ')} files; point at a directory with one kind, ` + `or open each with parquetSource, jsonlSource or textFileSource.`,
    );
  }
  return [...found][0];
}
