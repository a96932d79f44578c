import { HUB_URL, listFiles } from '@huggingface/hub';
import { asyncBufferFromUrl } from 'hyparquet';
import type { AsyncBuffer } from 'hyparquet';
import type { DocumentSource } from './dataset-document.js';
import { DatasetError } from './dataset-error.js';
import { parquetDocuments, type ParquetInput, type ParquetSourceOptions } from './parquet-source.js';

export interface HubDatasetOptions extends ParquetSourceOptions {
  /** The hub's base URL (default https://huggingface.co); tests point it at a local server. */
  hubUrl?: string;
  /** The network layer, replaceable for proxies and tests. */
  fetch?: typeof fetch;
  /**
   * Branch, tag or commit to read. Default: `main` when it holds Parquet
   * files for the split, else `refs/convert/parquet`, the branch where the
   * hub keeps a Parquet conversion of every public dataset.
   */
  revision?: string;
  /** Dataset configuration (subset), the first folder of each file path; default `default` when present, else the first. */
  config?: string;
  /** Split (default `train`): files under a folder named `train` or `partial-train`, or named `train-*.parquet`. */
  split?: string;
  /** For gated or private datasets; default `$HF_TOKEN`. */
  accessToken?: string;
}

/** The branch the hub's dataset viewer writes its Parquet conversion to. */
export const PARQUET_CONVERSION_REVISION = 'refs/convert/parquet';

interface HubParquetFile {
  readonly path: string;
  readonly size: number;
}

/**
 * Streams a Hugging Face dataset (`NeelNanda/pile-10k`) from the hub's
 * Parquet files: the files are listed with `@huggingface/hub`'s `listFiles`
 * (`GET {hubUrl}/api/datasets/{id}/tree/{revision}`), then read with HTTP
 * range requests to `{hubUrl}/datasets/{id}/resolve/{revision}/{path}`, one
 * row group at a time, so nothing is downloaded whole. Listing happens here,
 * so an unreachable hub fails now, with a DatasetError that says how to
 * provide the files locally.
 */
export async function hubDatasetSource(id: string, options: HubDatasetOptions = {}): Promise<DocumentSource> {
  const hubUrl = (options.hubUrl ?? HUB_URL).replace(/\/+$/, '');
  const split = options.split ?? 'train';
  const accessToken = options.accessToken ?? process.env.HF_TOKEN;
  const revisions = options.revision === undefined ? ['main', PARQUET_CONVERSION_REVISION] : [options.revision];
  const seen: string[] = [];
  for (const revision of revisions) {
    const all = await listParquetFiles(id, revision, hubUrl, options, accessToken);
    const { config, files } = selectFiles(all, split, options.config, revision === PARQUET_CONVERSION_REVISION);
    if (files.length === 0) {
      seen.push(
        `${revision}: ${
          all.length === 0
            ? 'no Parquet files'
            : all
                .slice(0, 6)
                .map((file) => file.path)
                .join(', ') + (all.length > 6 ? ', ...' : '')
        }`,
      );
      continue;
    }
    const inputs = files.map((file) => hubParquetInput(id, revision, file, hubUrl, options, accessToken));
    const where = `${config === undefined ? '' : `${config}/`}${split}`;
    return parquetDocuments(inputs, `hub ${id}@${revision} ${where} (${files.length} Parquet files)${options.column === undefined ? '' : ` column ${options.column}`}`, options);
  }
  throw new DatasetError(
    `Dataset '${id}' on ${hubUrl} has no Parquet files for split '${split}'${options.config === undefined ? '' : ` of config '${options.config}'`} ` +
      `(looked in ${seen.join('; ')}). Pass split and config options that exist. ${offlineHelp(id)}`,
  );
}

async function listParquetFiles(id: string, revision: string, hubUrl: string, options: HubDatasetOptions, accessToken: string | undefined): Promise<HubParquetFile[]> {
  const url = `${hubUrl}/api/datasets/${id}/tree/${encodeURIComponent(revision)}?recursive=true`;
  const files: HubParquetFile[] = [];
  try {
    for await (const entry of listFiles({
      repo: { type: 'dataset', name: id },
      revision: encodeURIComponent(revision),
      recursive: true,
      hubUrl,
      fetch: options.fetch,
      ...(accessToken === undefined ? {} : { accessToken }),
    })) {
      if (entry.type === 'file' && entry.path.endsWith('.parquet')) files.push({ path: entry.path, size: entry.lfs?.size ?? entry.size });
    }
  } catch (cause) {
    const status = (cause as { statusCode?: number }).statusCode;
    if (status === 404 && revision === PARQUET_CONVERSION_REVISION) return [];
    const reason =
      status === 401 || status === 403 || status === 404
        ? `the hub answered ${status} (no such dataset or revision '${revision}', or it is gated or private: set HF_TOKEN)`
        : `the request failed (${describeFailure(cause)})`;
    throw new DatasetError(`Cannot stream dataset '${id}' from the Hugging Face hub: tried to list its Parquet files with GET ${url} and ${reason}. ${offlineHelp(id)}`, { cause });
  }
  return files.sort((a, b) => a.path.localeCompare(b.path));
}

/** Files of one config and split, as the hub lays them out on main and on the conversion branch. */
function selectFiles(files: readonly HubParquetFile[], split: string, requestedConfig: string | undefined, conversion: boolean): { config: string | undefined; files: HubParquetFile[] } {
  let config = requestedConfig;
  let candidates = files;
  if (config === undefined && conversion) {
    // The conversion branch always has {config}/{split}/NNNN.parquet; pick one config so configs never mix.
    const configs = [...new Set(files.map((file) => file.path.split('/')[0]))].sort();
    config = configs.includes('default') ? 'default' : configs[0];
  }
  if (config !== undefined) candidates = candidates.filter((file) => file.path.split('/')[0] === config);
  const matches = candidates.filter((file) => {
    const segments = file.path.split('/');
    const name = segments[segments.length - 1];
    return segments.slice(0, -1).some((segment) => segment === split || segment === `partial-${split}`) || name.startsWith(`${split}-`) || name.startsWith(`${split}.`);
  });
  return { config, files: matches };
}

function hubParquetInput(id: string, revision: string, file: HubParquetFile, hubUrl: string, options: HubDatasetOptions, accessToken: string | undefined): ParquetInput {
  const url = `${hubUrl}/datasets/${id}/resolve/${encodeURIComponent(revision)}/${file.path.split('/').map(encodeURIComponent).join('/')}`;
  return {
    name: url,
    async open(): Promise<AsyncBuffer> {
      const requestInit = accessToken === undefined ? undefined : { headers: { Authorization: `Bearer ${accessToken}` } };
      // The listing gave the size, so no HEAD request is needed before the first range read.
      const buffer = await asyncBufferFromUrl({ url, byteLength: file.size, fetch: options.fetch, requestInit });
      return {
        byteLength: buffer.byteLength,
        async slice(start, end) {
          try {
            return await buffer.slice(start, end);
          } catch (cause) {
            throw new DatasetError(`Reading bytes ${start}-${end ?? buffer.byteLength} of ${url} (dataset '${id}') failed: ${describeFailure(cause)}. ${offlineHelp(id)}`, { cause });
          }
        },
      };
    },
  };
}

function describeFailure(cause: unknown): string {
  if (!(cause instanceof Error)) return String(cause);
  const inner = cause.cause instanceof Error ? `: ${cause.cause.message}` : '';
  return `${cause.message}${inner}`;
}

function offlineHelp(id: string): string {
  return (
    `To use it without network access, download its Parquet files on a machine that has it ` +
    `(\`huggingface-cli download --repo-type dataset ${id} --include "*.parquet" --local-dir <dir>\`, ` +
    `adding \`--revision ${PARQUET_CONVERSION_REVISION}\` for datasets not stored as Parquet), ` +
    `copy <dir> here and pass its path instead of the id: a directory of .parquet files or one .parquet file ` +
    `(openDataset('<dir>') or parquetSource('<dir>')).`
  );
}
