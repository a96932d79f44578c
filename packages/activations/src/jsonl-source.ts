import { createReadStream } from 'node:fs';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';
import type { DocumentSource } from './dataset-document.js';
import { DatasetError } from './dataset-error.js';
import { detectDocumentColumn, documentFromValue } from './document-column.js';
import { findLocalFiles, readingFile } from './local-files.js';

export interface RecordSourceOptions {
  /** The column holding text or token ids; default the first of `tokens`, `input_ids`, `text` that exists. */
  column?: string;
}

/**
 * Documents from a `.jsonl` file (one JSON object per line) or every
 * `.jsonl` file under a directory, streamed line by line. The column is
 * chosen from the first record of each file.
 */
export async function jsonlSource(path: string, options: RecordSourceOptions = {}): Promise<DocumentSource> {
  const files = await findLocalFiles(path, ['.jsonl'], 'JSON Lines');
  return {
    description: `jsonl ${resolve(path)}${options.column === undefined ? '' : ` column ${options.column}`}`,
    async *documents(start = 0) {
      let index = 0;
      for (const file of files) {
        const lines = createInterface({ input: createReadStream(file, 'utf8'), crlfDelay: Infinity });
        let column: string | undefined;
        let lineNumber = 0;
        for await (const line of readingFile(file, lines)) {
          lineNumber++;
          if (line.trim() === '') continue;
          // Skipped records are not parsed: resuming deep into a large file costs a read, not a parse.
          if (index++ < start && column !== undefined) continue;
          const where = `${file}:${lineNumber}`;
          let record: unknown;
          try {
            record = JSON.parse(line);
          } catch (cause) {
            throw new DatasetError(`${where} is not valid JSON (${(cause as Error).message}); each line of a .jsonl file must be one JSON object.`, { cause });
          }
          if (typeof record !== 'object' || record === null || Array.isArray(record)) {
            throw new DatasetError(`${where} is not a JSON object; each line of a .jsonl file must be one object with a text or tokens field.`);
          }
          column ??= detectDocumentColumn(Object.keys(record), file, options.column);
          if (index <= start) continue;
          if (!Object.hasOwn(record, column)) {
            throw new DatasetError(`${where} has no field '${column}' (the first record of the file has it); its fields are ${Object.keys(record).join(', ')}.`);
          }
          yield documentFromValue((record as Record<string, unknown>)[column], column, where);
        }
      }
    },
  };
}
