import { downloadFile, HUB_URL } from '@huggingface/hub';
import { renameDurably } from '@nnd/core';
import { createWriteStream } from 'node:fs';
import { access, mkdir, rm, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as NodeReadableStream } from 'node:stream/web';
import { ModelNotFoundError } from './model-not-found-error.js';
import { modelLocation } from './model-names.js';
import { SHARD_INDEX, SINGLE_FILE, readShardIndex } from './weight-files.js';

export interface HubOptions {
  /** Where downloaded models live, one folder per id (`<cacheDir>/<owner>/<name>`). Default `$NND_CACHE_DIR` or `~/.cache/nnd/models`. */
  cacheDir?: string;
  /** The hub's base URL (default https://huggingface.co); tests point it at a local server. */
  hubUrl?: string;
  /** The network layer, replaceable for proxies and tests. */
  fetch?: typeof fetch;
  /** Branch, tag or commit (default `main`). */
  revision?: string;
  /** For gated or private repositories; default `$HF_TOKEN`. */
  accessToken?: string;
}

/** Files fetched besides the weights; missing ones are skipped. */
const OPTIONAL_FILES = ['tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'generation_config.json'];
const HUB_ID = /^[A-Za-z0-9][\w.-]*(\/[A-Za-z0-9][\w.-]*)?$/;

export function defaultCacheDirectory(): string {
  return process.env.NND_CACHE_DIR ?? join(homedir(), '.cache', 'nnd', 'models');
}

/** The folder a hub id is cached in: the same layout as `huggingface-cli download --local-dir`. */
export function cachePathFor(id: string, options: HubOptions = {}): string {
  const revision = options.revision ?? 'main';
  const folder = join(options.cacheDir ?? defaultCacheDirectory(), ...id.split('/'));
  return revision === 'main' ? folder : `${folder}@${revision}`;
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

/** Whether a folder holds config.json and complete weights (one file, or an index and every shard it names). */
async function hasModelFiles(directory: string): Promise<boolean> {
  if (!(await exists(join(directory, 'config.json')))) return false;
  if (await exists(join(directory, SINGLE_FILE))) return true;
  if (!(await exists(join(directory, SHARD_INDEX)))) return false;
  const shards = new Set((await readShardIndex(join(directory, SHARD_INDEX))).values());
  for (const shard of shards) if (!(await exists(join(directory, shard)))) return false;
  return true;
}

function offlineHelp(id: string, cachePath: string): string {
  return (
    `To use it without network access, download it on a machine that has it: ` +
    `\`huggingface-cli download ${id} config.json model.safetensors tokenizer.json --local-dir <dir>\` ` +
    `(for sharded checkpoints add model.safetensors.index.json and its shards), copy <dir> here and pass its path ` +
    `to HookedTransformer.fromPretrained, or put the files in ${cachePath}.`
  );
}

/**
 * A local directory holding the model: `nameOrDirectory` itself when it is a
 * directory, else the LM that ships with nnd for `tiny-lm`, else the cache
 * folder of that hub id (TransformerLens' `gpt2-small` is `gpt2`), downloading the files
 * into it first when they are not there yet. Throws ModelNotFoundError when
 * the id cannot be fetched (offline, unknown repository, no safetensors).
 */
export async function resolveModelDirectory(nameOrDirectory: string, options: HubOptions = {}): Promise<string> {
  const asPath = resolve(nameOrDirectory);
  if (
    await stat(asPath).then(
      (info) => info.isDirectory(),
      () => false,
    )
  )
    return asPath;
  const located = modelLocation(nameOrDirectory);
  if (located !== nameOrDirectory) return resolveModelDirectory(located, options);
  if (!HUB_ID.test(nameOrDirectory) || nameOrDirectory.includes('..')) {
    throw new ModelNotFoundError(`'${nameOrDirectory}' is neither a directory (looked at ${asPath}) nor a Hugging Face model id like 'gpt2' or 'EleutherAI/pythia-70m'.`);
  }
  const id = nameOrDirectory;
  const cachePath = cachePathFor(id, options);
  if (await hasModelFiles(cachePath)) return cachePath;
  const hubUrl = options.hubUrl ?? HUB_URL;
  const revision = options.revision ?? 'main';

  const fetchFile = async (path: string, required: boolean): Promise<boolean> => {
    const target = join(cachePath, path);
    if (await exists(target)) return true;
    let blob: Blob | null;
    try {
      blob = await downloadFile({
        repo: id,
        path,
        revision,
        hubUrl,
        fetch: options.fetch,
        accessToken: options.accessToken ?? process.env.HF_TOKEN,
      });
    } catch (cause) {
      const status = (cause as { statusCode?: number }).statusCode;
      const reason =
        status === 401 || status === 403 || status === 404
          ? `the hub answered ${status} for ${path} (no such repository or revision, or it is gated: set HF_TOKEN)`
          : `the download of ${path} failed (${(cause as Error).message}${(cause as Error).cause ? `: ${String(((cause as Error).cause as Error).message ?? (cause as Error).cause)}` : ''})`;
      throw new ModelNotFoundError(`Model '${id}' is not in the local cache (looked in ${cachePath}) and could not be fetched from ${hubUrl}: ${reason}. ${offlineHelp(id, cachePath)}`, { cause });
    }
    if (blob === null) {
      if (!required) return false;
      throw new ModelNotFoundError(`Model '${id}' at ${hubUrl} (revision ${revision}) has no ${path}. ${offlineHelp(id, cachePath)}`);
    }
    await mkdir(dirname(target), { recursive: true });
    // Written under a temporary name and renamed, so an interrupted download never looks complete.
    const partial = `${target}.incomplete`;
    try {
      await pipeline(Readable.fromWeb(blob.stream() as unknown as NodeReadableStream), createWriteStream(partial));
      // Flushed before the rename: after a power loss the name never points at a file that is not all there.
      await renameDurably(partial, target);
    } catch (cause) {
      await rm(partial, { force: true });
      throw new ModelNotFoundError(`Downloading ${path} of '${id}' into ${cachePath} failed: ${(cause as Error).message}. ${offlineHelp(id, cachePath)}`, { cause });
    }
    return true;
  };

  await fetchFile('config.json', true);
  if (!(await fetchFile(SINGLE_FILE, false))) {
    if (!(await fetchFile(SHARD_INDEX, false))) {
      throw new ModelNotFoundError(`Model '${id}' at ${hubUrl} has neither ${SINGLE_FILE} nor ${SHARD_INDEX}; only safetensors checkpoints are read. ${offlineHelp(id, cachePath)}`);
    }
    for (const shard of new Set((await readShardIndex(join(cachePath, SHARD_INDEX))).values())) await fetchFile(shard, true);
  }
  for (const path of OPTIONAL_FILES) await fetchFile(path, false);
  return cachePath;
}
