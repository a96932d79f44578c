import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';
import type { DatasetDocument, DocumentSource } from './dataset-document.js';
import { findLocalFiles, readingFile } from './local-files.js';

export interface TextFileSourceOptions {
  /**
   * `'file'` (default): each file is one document. `'paragraph'`: each block
   * of lines between blank lines is one document, read as a stream so a
   * large file never has to fit in memory.
   */
  split?: 'file' | 'paragraph';
}

/** Documents from a `.txt` file or every `.txt` file under a directory (sorted by path). */
export async function textFileSource(path: string, options: TextFileSourceOptions = {}): Promise<DocumentSource> {
  const split = options.split ?? 'file';
  const files = await findLocalFiles(path, ['.txt'], 'text');
  return {
    description: `text ${resolve(path)} (${split === 'file' ? 'one document per file' : 'one document per paragraph'})`,
    async *documents(start = 0) {
      let index = 0;
      for (const file of files) {
        const documents = split === 'file' ? wholeFile(file) : paragraphs(file);
        for await (const document of readingFile(file, documents)) {
          if (index++ >= start) yield document;
        }
      }
    },
  };
}

async function* wholeFile(file: string): AsyncIterable<DatasetDocument> {
  const text = await readFile(file, 'utf8');
  if (text.trim() !== '') yield { text };
}

/** Blocks of non-blank lines; the lines of a block keep their newlines between them. */
async function* paragraphs(file: string): AsyncIterable<DatasetDocument> {
  const lines = createInterface({ input: createReadStream(file, 'utf8'), crlfDelay: Infinity });
  let block: string[] = [];
  for await (const line of lines) {
    if (line.trim() === '') {
      if (block.length > 0) yield { text: block.join('\n') };
      block = [];
    } else {
      block.push(line);
    }
  }
  if (block.length > 0) yield { text: block.join('\n') };
}
