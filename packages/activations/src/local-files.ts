import { NndError } from '@nnd/core';
import { readdir, stat } from 'node:fs/promises';
import { extname, join, resolve } from 'node:path';
import { DatasetError } from './dataset-error.js';

/**
 * The files under `path` (itself when it is a file) whose extension is one of
 * `extensions`, sorted by path so every run reads them in the same order.
 */
export async function findLocalFiles(path: string, extensions: readonly string[], kind: string): Promise<string[]> {
  const absolute = resolve(path);
  const info = await stat(absolute).catch((cause: unknown) => {
    throw new DatasetError(`No ${kind} file or directory at ${JSON.stringify(absolute)}: ${(cause as Error).message}.`, { cause });
  });
  if (info.isFile()) return [absolute];
  const entries = await readdir(absolute, { recursive: true, withFileTypes: true }).catch((cause: unknown) => {
    throw new DatasetError(`Cannot list ${kind} files in ${JSON.stringify(absolute)}: ${(cause as Error).message}.`, { cause });
  });
  const files = entries
    .filter((entry) => entry.isFile() && extensions.includes(extname(entry.name).toLowerCase()))
    .map((entry) => join(entry.parentPath, entry.name))
    .sort();
  if (files.length === 0) {
    throw new DatasetError(`Directory ${JSON.stringify(absolute)} holds no ${extensions.join(' or ')} files (searched recursively) to read as ${kind}.`);
  }
  return files;
}

/** Re-throws file-system failures while reading `file` as DatasetErrors that name it; nnd's own errors pass unchanged. */
export async function* readingFile<T>(file: string, items: AsyncIterable<T>): AsyncIterable<T> {
  try {
    yield* items;
  } catch (cause) {
    if (NndError.isInstance(cause)) throw cause;
    throw new DatasetError(`Cannot read ${JSON.stringify(file)}: ${(cause as Error).message}.`, { cause });
  }
}
