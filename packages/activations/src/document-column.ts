import { DatasetError } from './dataset-error.js';
import type { DatasetDocument } from './dataset-document.js';

/** Columns searched for documents, in order, as the reference ActivationsStore does. */
export const DOCUMENT_COLUMNS = ['tokens', 'input_ids', 'text'] as const;

/**
 * The column that holds the documents: `requested` when given (it must
 * exist), else the first of `tokens`, `input_ids`, `text` present.
 */
export function detectDocumentColumn(columns: readonly string[], source: string, requested?: string): string {
  if (requested !== undefined) {
    if (columns.includes(requested)) return requested;
    throw new DatasetError(`${source} has no column '${requested}'; its columns are ${formatColumns(columns)}. Pass one of them as the column option.`);
  }
  const found = DOCUMENT_COLUMNS.find((column) => columns.includes(column));
  if (found !== undefined) return found;
  throw new DatasetError(
    `${source} has none of the columns ${DOCUMENT_COLUMNS.map((column) => `'${column}'`).join(', ')} ` +
      `(searched in that order); its columns are ${formatColumns(columns)}. ` +
      `Pass the column that holds the text or token ids as the column option.`,
  );
}

function formatColumns(columns: readonly string[]): string {
  return columns.length === 0 ? '(none)' : columns.map((column) => `'${column}'`).join(', ');
}

/**
 * Turns one value of the document column into a document: a string is text,
 * an array of non-negative integers (numbers or bigints, as Parquet int64
 * lists decode) is token ids.
 */
export function documentFromValue(value: unknown, column: string, where: string): DatasetDocument {
  if (typeof value === 'string') return { text: value };
  if (Array.isArray(value) || ArrayBuffer.isView(value)) {
    const values = value as ArrayLike<unknown>;
    const tokens = new Array<number>(values.length);
    for (let index = 0; index < values.length; index++) {
      const id = Number(values[index]);
      if (!Number.isSafeInteger(id) || id < 0) {
        throw new DatasetError(`${where}: column '${column}' holds ${String(values[index])} at index ${index}; token ids must be non-negative integers.`);
      }
      tokens[index] = id;
    }
    return { tokens };
  }
  throw new DatasetError(`${where}: column '${column}' holds ${value === null ? 'null' : typeof value}; expected text (a string) or token ids (an array of integers).`);
}
