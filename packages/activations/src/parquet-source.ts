import { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects, parquetSchema } from 'hyparquet';
import type { AsyncBuffer, Compressors, FileMetaData } from 'hyparquet';
import { resolve } from 'node:path';
import type { DocumentSource } from './dataset-document.js';
import { DatasetError } from './dataset-error.js';
import { detectDocumentColumn, documentFromValue } from './document-column.js';
import type { RecordSourceOptions } from './jsonl-source.js';
import { findLocalFiles } from './local-files.js';

export interface ParquetSourceOptions extends RecordSourceOptions {
  /**
   * Decompressors for codecs other than Snappy (which hyparquet reads
   * natively), e.g. `compressors` from the `hyparquet-compressors` package
   * for ZSTD, GZIP, Brotli or LZ4 files.
   */
  compressors?: Compressors;
}

/** One Parquet file, local or remote, opened on demand as a random-access buffer. */
export interface ParquetInput {
  /** A path or URL, named in errors. */
  readonly name: string;
  open(): Promise<AsyncBuffer>;
}

/** Documents from a `.parquet` file or every `.parquet` file under a directory (sorted by path). */
export async function parquetSource(path: string, options: ParquetSourceOptions = {}): Promise<DocumentSource> {
  const files = await findLocalFiles(path, ['.parquet'], 'Parquet');
  const inputs = files.map((file) => ({ name: file, open: () => asyncBufferFromFile(file) }));
  return parquetDocuments(inputs, `parquet ${resolve(path)}${options.column === undefined ? '' : ` column ${options.column}`}`, options);
}

/**
 * Documents from Parquet files read one row group at a time: memory holds
 * one row group of one column, whatever the file size. The column is chosen
 * from each file's schema.
 */
export function parquetDocuments(files: readonly ParquetInput[], description: string, options: ParquetSourceOptions = {}): DocumentSource {
  return {
    description,
    async *documents(start = 0) {
      let index = 0;
      for (const input of files) {
        const file = await wrap(input, 'open', () => input.open());
        const metadata: FileMetaData = await wrap(input, 'read the footer of', () => parquetMetadataAsync(file));
        const totalRows = Number(metadata.num_rows);
        // Whole files and row groups before `start` are skipped from the footer's row counts, without decoding.
        if (index + totalRows <= start) {
          index += totalRows;
          continue;
        }
        const columns = parquetSchema(metadata).children.map((child) => child.element.name);
        const column = detectDocumentColumn(columns, input.name, options.column);
        let rowStart = 0;
        for (const [groupIndex, group] of metadata.row_groups.entries()) {
          const groupRows = Number(group.num_rows);
          const rowEnd = rowStart + groupRows;
          if (index + groupRows <= start) {
            index += groupRows;
            rowStart = rowEnd;
            continue;
          }
          const rows = await wrap(input, `read row group ${groupIndex} of`, () => parquetReadObjects({ file, metadata, columns: [column], rowStart, rowEnd, compressors: options.compressors }));
          for (const [offset, row] of rows.entries()) {
            if (index++ < start) continue;
            yield documentFromValue(row[column], column, `${input.name} row ${rowStart + offset}`);
          }
          rowStart = rowEnd;
        }
      }
    },
  };
}

async function wrap<T>(input: ParquetInput, action: string, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (cause) {
    if (DatasetError.isInstance(cause)) throw cause;
    const reason = cause instanceof Error ? cause.message : String(cause);
    const hint = /compress|codec/i.test(reason)
      ? ' The file uses a codec hyparquet does not read natively; pass compressors from the hyparquet-compressors package.'
      : ' Check that it is a complete Parquet file (re-download it if it was cut short).';
    throw new DatasetError(`Cannot ${action} Parquet file ${input.name}: ${reason}.${hint}`, { cause });
  }
}
