import { describeValue, fromTypedArray, openSafetensors, resolveInside, toTypedArray, writeFileDurably, writeSafetensors, type SafetensorsDType, type SafetensorsFile } from '@nnd/core';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { ActivationCacheError } from './activation-cache-error.js';
import type { DatasetPosition } from './token-packer.js';

export const CACHE_FORMAT = 'nnd-activation-cache';
/**
 * The newest format version. Version 1 (one hook: `hook`, `activationSize`,
 * shard tensor `activations`) is still written for caches of one hook, so
 * such caches stay readable by earlier nnd; version 2 (`hooks`, one shard
 * tensor `activations.{hook}` per hook) holds several hooks of one model run.
 */
export const CACHE_FORMAT_VERSION = 2;
const SINGLE_HOOK_VERSION = 1;
export const CACHE_MANIFEST = 'manifest.json';
const ACTIVATIONS_TENSOR = 'activations';
const TOKENS_TENSOR = 'tokens';

/** One hook a cache holds, and its floats per row. */
export interface CacheHook {
  readonly hook: string;
  readonly activationSize: number;
}

/** The shard tensor holding a hook's rows: `activations` in a one-hook cache, `activations.{hook}` in a cache of several. */
export function activationsTensorName(hooks: readonly CacheHook[], hook: string): string {
  return hooks.length === 1 ? ACTIVATIONS_TENSOR : `${ACTIVATIONS_TENSOR}.${hook}`;
}

/** How activations are stored; float16 halves the disk and is widened to float32 when read. */
export type CacheDType = 'float32' | 'float16';

/** What produced the cache: a resumed harvest must match every field, or it would mix different activations. */
export interface ActivationCacheSettings {
  readonly model: string;
  /** The hooks of one model run that each row holds (row i of every hook is the same token). */
  readonly hooks: readonly CacheHook[];
  readonly dtype: CacheDType;
  readonly sequenceLength: number;
  readonly modelBatchSize: number;
  readonly batchesPerShard: number;
  readonly dataset: string;
  readonly prependBos: boolean;
  /** null: whole documents (Infinity does not survive JSON). */
  readonly documentTokenLimit: number | null;
  readonly keepRemainder: boolean;
  readonly repeatDataset: boolean;
  /** Token ids whose positions were dropped (empty unless excludeSpecialTokens). */
  readonly excludedTokenIds: readonly number[];
}

export interface CacheShard {
  /** File name inside the cache directory. */
  readonly file: string;
  readonly rows: number;
  readonly bytes: number;
  /** Hex sha256 of the whole file, checked when the shard is read. */
  readonly sha256: string;
  /** Where the dataset continues after this shard: the next shard's harvest starts here. */
  readonly datasetPosition: DatasetPosition;
  /**
   * Rows of each model batch in the shard, in harvest order, so a reader can
   * rebuild the live store's buffers exactly. Absent in caches written before
   * it was recorded: readers then take model batches of
   * modelBatchSize x sequenceLength rows (exact unless special tokens were excluded).
   */
  readonly batchRows?: readonly number[];
}

/**
 * `manifest.json`: the settings, the counts and the shard list. It is
 * rewritten atomically after each shard, so it never lists a shard that is
 * not completely on disk. In memory the hooks are always `hooks`; on disk a
 * one-hook cache keeps version 1's `hook` and `activationSize`.
 */
export interface ActivationCacheManifest extends ActivationCacheSettings {
  readonly format: typeof CACHE_FORMAT;
  readonly version: number;
  /** Rows the harvest was asked for. */
  targetRows: number;
  /** Rows in all shards. */
  rows: number;
  /** True once `rows` reached `targetRows` or the dataset ended. */
  complete: boolean;
  datasetExhausted: boolean;
  shards: CacheShard[];
}

export const SETTINGS_FIELDS = [
  'model',
  'hooks',
  'dtype',
  'sequenceLength',
  'modelBatchSize',
  'batchesPerShard',
  'dataset',
  'prependBos',
  'documentTokenLimit',
  'keepRemainder',
  'repeatDataset',
  'excludedTokenIds',
] as const satisfies readonly (keyof ActivationCacheSettings)[];

export function shardFileName(index: number): string {
  return `shard-${String(index).padStart(5, '0')}.safetensors`;
}

export async function readCacheManifest(directory: string): Promise<ActivationCacheManifest> {
  const path = join(directory, CACHE_MANIFEST);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (cause) {
    throw new ActivationCacheError(`No activation cache at ${JSON.stringify(directory)}: cannot read ${CACHE_MANIFEST} (${(cause as Error).message}); create one with harvestToCache.`, { cause });
  }
  let stored: StoredManifest;
  try {
    stored = JSON.parse(text) as StoredManifest;
  } catch (cause) {
    throw new ActivationCacheError(`${path} is not valid JSON (${(cause as Error).message}); restore it or delete the directory and harvest again.`, { cause });
  }
  if (stored?.format !== CACHE_FORMAT || !Array.isArray(stored.shards)) {
    throw new ActivationCacheError(`${path} is not an nnd activation cache manifest (expected format '${CACHE_FORMAT}' and a shards list).`);
  }
  if (stored.version !== SINGLE_HOOK_VERSION && stored.version !== CACHE_FORMAT_VERSION) {
    throw new ActivationCacheError(`${path} has cache format version ${describeValue(stored.version)}; this @nnd/activations reads versions ${SINGLE_HOOK_VERSION} and ${CACHE_FORMAT_VERSION}.`);
  }
  const { hook, activationSize, hooks, ...rest } = stored;
  const manifest = { ...rest, hooks: stored.version === SINGLE_HOOK_VERSION ? [{ hook, activationSize }] : hooks } as ActivationCacheManifest;
  checkManifest(directory, path, manifest);
  return manifest;
}

/** The manifest as JSON holds it: version 1 names its one hook at the top level, version 2 lists `hooks`. */
type StoredManifest = Omit<ActivationCacheManifest, 'hooks'> & { hook?: unknown; activationSize?: unknown; hooks?: unknown };

/** A one-hook cache is written as version 1, exactly as before several hooks existed; a cache of several as version 2. */
function storedForm(manifest: ActivationCacheManifest): StoredManifest {
  const { format, version: _version, hooks, model, ...rest } = manifest;
  if (hooks.length === 1) {
    const [{ hook, activationSize }] = hooks;
    const { dtype, ...after } = rest;
    return { format, version: SINGLE_HOOK_VERSION, model, hook, dtype, activationSize, ...after } as StoredManifest;
  }
  return { format, version: CACHE_FORMAT_VERSION, model, hooks, ...rest } as StoredManifest;
}

/** The safetensors dtype a cache's activations are stored in. */
function storedDType(dtype: CacheDType): SafetensorsDType {
  return dtype === 'float16' ? 'F16' : 'F32';
}

/**
 * The manifest is data: its counts must be consistent with each other and
 * with the shard files' recorded sizes (a crafted `rows: 1e12` would size
 * buffers of terabytes), and its shard files must lie inside the cache
 * directory (resolveInside: no absolute path, `..` or symbolic link out).
 */
function checkManifest(directory: string, path: string, manifest: ActivationCacheManifest): void {
  const fail = (problem: string) => new ActivationCacheError(`${path} ${problem}; it was changed by hand or by another program. Delete the directory and harvest again.`);
  const count = (value: unknown, what: string) => {
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) throw fail(`has ${what} ${describeValue(value)}, not a non-negative integer`);
    return value;
  };
  if (manifest.dtype !== 'float32' && manifest.dtype !== 'float16') throw fail(`has dtype ${describeValue(manifest.dtype)}; caches hold 'float32' or 'float16'`);
  if (!Array.isArray(manifest.hooks) || manifest.hooks.length === 0) throw fail(`has hooks ${describeValue(manifest.hooks)}, not a list of { hook, activationSize }`);
  const names = new Set<string>();
  let floatsPerRow = 0;
  for (const [index, entry] of manifest.hooks.entries()) {
    const field = manifest.hooks.length === 1 ? '' : `hooks[${index}].`;
    if (typeof entry !== 'object' || entry === null || typeof entry.hook !== 'string' || entry.hook === '') throw fail(`has ${field}hook ${describeValue(entry?.hook)}, not a hook name`);
    if (names.has(entry.hook)) throw fail(`names hook '${entry.hook}' twice`);
    names.add(entry.hook);
    const size = count(entry.activationSize, `${field}activationSize`);
    if (size === 0) throw fail(`has ${field}activationSize 0`);
    floatsPerRow += size;
  }
  const activationSize = floatsPerRow;
  const rowBytes = floatsPerRow * (manifest.dtype === 'float16' ? 2 : 4) + 8;
  const batchLimit = count(manifest.modelBatchSize, 'modelBatchSize') * count(manifest.sequenceLength, 'sequenceLength');
  let rows = 0;
  for (const [index, shard] of manifest.shards.entries()) {
    const field = `shards[${index}]`;
    if (typeof shard !== 'object' || shard === null) throw fail(`has ${field} ${describeValue(shard)}, not a shard record`);
    resolveInside(directory, shard.file, `${path} ${field}.file`);
    const shardRows = count(shard.rows, `${field}.rows`);
    const bytes = count(shard.bytes, `${field}.bytes`);
    if (shardRows * rowBytes > bytes) {
      throw fail(`says ${field} holds ${shardRows} rows, but its file has ${bytes} bytes, room for at most ${Math.floor(bytes / rowBytes)} rows of ${activationSize} ${manifest.dtype} values`);
    }
    if (shard.batchRows !== undefined) {
      if (!Array.isArray(shard.batchRows)) throw fail(`has ${field}.batchRows ${describeValue(shard.batchRows)}, not a list of row counts`);
      const batches = shard.batchRows.map((value, batch) => count(value, `${field}.batchRows[${batch}]`));
      if (batches.some((value) => value > batchLimit)) throw fail(`has a model batch in ${field}.batchRows larger than modelBatchSize x sequenceLength (${batchLimit})`);
      if (batches.reduce((total, value) => total + value, 0) !== shardRows) throw fail(`has ${field}.batchRows adding up to other than its ${shardRows} rows`);
    }
    if (typeof shard.sha256 !== 'string') throw fail(`has ${field}.sha256 ${describeValue(shard.sha256)}, not a hex digest`);
    rows += shardRows;
  }
  if (count(manifest.rows, 'rows') !== rows) throw fail(`says rows is ${manifest.rows}, but its shards hold ${rows}`);
}

/** Replaces the manifest atomically and durably (core's writeFileDurably: temp file, fsync, rename, fsync of the directory). */
export async function writeCacheManifest(directory: string, manifest: ActivationCacheManifest): Promise<void> {
  const path = join(directory, CACHE_MANIFEST);
  try {
    await writeFileDurably(path, `${JSON.stringify(storedForm(manifest), null, 2)}\n`);
  } catch (cause) {
    throw new ActivationCacheError(`Cannot write ${path}: ${(cause as Error).message}; check that the directory is writable.`, { cause });
  }
}

async function sha256OfFile(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Writes one shard atomically (core's writeSafetensors: temp + fsync + rename) and describes it for the manifest. */
export async function writeShard(
  directory: string,
  index: number,
  contents: ShardContents & { readonly batchRows: readonly number[] },
  settings: ActivationCacheSettings,
  datasetPosition: DatasetPosition,
): Promise<CacheShard> {
  const { tokens, batchRows } = contents;
  const rows = tokens.length;
  const file = shardFileName(index);
  const path = join(directory, file);
  const tensors: Record<string, ReturnType<typeof fromTypedArray>> = {};
  for (const { hook, activationSize } of settings.hooks) {
    tensors[activationsTensorName(settings.hooks, hook)] = fromTypedArray(storedDType(settings.dtype), [rows, activationSize], contents.activations[hook]);
  }
  tensors[TOKENS_TENSOR] = fromTypedArray('I64', [rows], tokens);
  const hooks = settings.hooks.map(({ hook }) => hook);
  await writeSafetensors(path, tensors, { format: CACHE_FORMAT, model: settings.model, ...(hooks.length === 1 ? { hook: hooks[0] } : { hooks: hooks.join(',') }) });
  try {
    const { size } = await stat(path);
    return { file, rows, bytes: size, sha256: await sha256OfFile(path), datasetPosition, batchRows: [...batchRows] };
  } catch (cause) {
    throw new ActivationCacheError(`Cannot read back the shard just written to ${JSON.stringify(path)}: ${(cause as Error).message}.`, { cause });
  }
}

export interface ShardContents {
  /** [rows, activationSize] float32 per hook (float16 shards widened). */
  readonly activations: Readonly<Record<string, Float32Array>>;
  readonly tokens: BigInt64Array;
}

function rebuildHint(directory: string, shard: CacheShard): string {
  return (
    `Delete it (rm ${JSON.stringify(join(directory, shard.file))}) and call harvestToCache again with the same options: ` +
    'it rebuilds missing shards from the dataset position recorded in manifest.json.'
  );
}

/**
 * Reads one shard through core's lazy safetensors reader, after checking its
 * sha256 against the manifest. `hooks` (default all) picks the hooks to
 * load; the others' bytes are never read into memory.
 */
export async function readShard(
  directory: string,
  manifest: ActivationCacheManifest,
  shard: CacheShard,
  verify = true,
  hooks: readonly string[] = manifest.hooks.map(({ hook }) => hook),
): Promise<ShardContents> {
  const path = resolveInside(directory, shard.file, `${join(directory, CACHE_MANIFEST)} shard file`);
  if (verify) {
    let actual: string;
    try {
      actual = await sha256OfFile(path);
    } catch (cause) {
      throw new ActivationCacheError(`Shard ${shard.file} of the activation cache ${JSON.stringify(directory)} cannot be read (${(cause as Error).message}). ${rebuildHint(directory, shard)}`, {
        cause,
      });
    }
    if (actual !== shard.sha256) {
      throw new ActivationCacheError(
        `Shard ${shard.file} of the activation cache ${JSON.stringify(directory)} is corrupted: its sha256 is ${actual}, ` +
          `but manifest.json records ${shard.sha256}. ${rebuildHint(directory, shard)}`,
      );
    }
  }
  let file: SafetensorsFile;
  try {
    file = await openSafetensors(path);
  } catch (cause) {
    throw new ActivationCacheError(`Shard ${shard.file} of ${JSON.stringify(directory)} is not a readable safetensors file: ${(cause as Error).message}. ${rebuildHint(directory, shard)}`, { cause });
  }
  try {
    // Checked from the header, before any data is read: bytes of another dtype would otherwise be taken as float32.
    const expected: Record<string, { dtype: SafetensorsDType; shape: number[] }> = {};
    for (const { hook, activationSize } of manifest.hooks) {
      expected[activationsTensorName(manifest.hooks, hook)] = { dtype: storedDType(manifest.dtype), shape: [shard.rows, activationSize] };
    }
    expected[TOKENS_TENSOR] = { dtype: 'I64', shape: [shard.rows] };
    for (const [name, { dtype, shape }] of Object.entries(expected)) {
      const info = file.info(name);
      if (info.dtype !== dtype || info.shape.length !== shape.length || info.shape.some((size, axis) => size !== shape[axis])) {
        throw new ActivationCacheError(
          `Shard ${shard.file} of ${JSON.stringify(directory)} holds '${name}' as ${info.dtype} [${info.shape.join(', ')}], but the manifest says ${dtype} [${shape.join(', ')}]. ${rebuildHint(directory, shard)}`,
        );
      }
    }
    const activations: Record<string, Float32Array> = {};
    for (const hook of hooks) {
      if (!manifest.hooks.some((entry) => entry.hook === hook)) {
        throw new ActivationCacheError(`The activation cache ${JSON.stringify(directory)} holds ${manifest.hooks.map((entry) => entry.hook).join(', ')}; it has no hook '${hook}'.`);
      }
      activations[hook] = toTypedArray(await file.read(activationsTensorName(manifest.hooks, hook))) as Float32Array;
    }
    const tokens = await file.read(TOKENS_TENSOR);
    return { activations, tokens: toTypedArray(tokens) as BigInt64Array };
  } catch (cause) {
    if (cause instanceof ActivationCacheError) throw cause;
    throw new ActivationCacheError(`Shard ${shard.file} of ${JSON.stringify(directory)} cannot be decoded: ${(cause as Error).message}. ${rebuildHint(directory, shard)}`, { cause });
  } finally {
    await file.close();
  }
}

export interface CacheVerification {
  readonly valid: readonly string[];
  readonly corrupted: readonly { readonly file: string; readonly expected: string; readonly actual: string }[];
  readonly missing: readonly string[];
}

/** Checks every shard's sha256 against the manifest without loading the activations. */
export async function verifyActivationCache(directory: string): Promise<CacheVerification> {
  const manifest = await readCacheManifest(directory);
  const valid: string[] = [];
  const corrupted: { file: string; expected: string; actual: string }[] = [];
  const missing: string[] = [];
  for (const shard of manifest.shards) {
    const actual = await sha256OfFile(join(directory, shard.file)).catch(() => undefined);
    if (actual === undefined) missing.push(shard.file);
    else if (actual === shard.sha256) valid.push(shard.file);
    else corrupted.push({ file: shard.file, expected: shard.sha256, actual });
  }
  return { valid, corrupted, missing };
}
