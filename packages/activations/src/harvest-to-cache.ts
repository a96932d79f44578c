import { ConfigError } from '@nnd/core';
import { access, mkdir, readdir, stat, unlink } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { ActivationCacheError } from './activation-cache-error.js';
import {
  CACHE_FORMAT,
  CACHE_FORMAT_VERSION,
  CACHE_MANIFEST,
  SETTINGS_FIELDS,
  readCacheManifest,
  writeCacheManifest,
  writeShard,
  type ActivationCacheManifest,
  type ActivationCacheSettings,
  type CacheDType,
  type CacheShard,
} from './activation-cache.js';
import type { ActivationHarvester } from './activation-harvester.js';
import { createHarvester, type HarvestSettings } from './harvest-settings.js';
import { formatBytes } from './shuffle-buffer.js';
import { DATASET_START, type DatasetPosition } from './token-packer.js';

export interface HarvestToCacheOptions extends HarvestSettings {
  /** The cache directory; created if missing, resumed if it holds a manifest. */
  readonly directory: string;
  /** The hook to harvest; or give `hookPoints`. */
  readonly hookPoint?: string;
  /** Several hooks from one model run (a transcoder's input and target, a CLT's layers), stored row-aligned in each shard. */
  readonly hookPoints?: readonly string[];
  /** Activations (rows) to harvest in all; a resumed harvest may raise it to add more. */
  readonly totalRows: number;
  /** Model batches per shard file (default 16). */
  readonly batchesPerShard?: number;
  /** Storage dtype (default float32). */
  readonly dtype?: CacheDType;
  /** Stops the harvest between model batches; the shards written so far stay valid and a later call resumes after them. */
  readonly signal?: AbortSignal;
  /** Called after each shard is on disk and in the manifest. */
  readonly onShard?: (shard: CacheShard, manifest: ActivationCacheManifest) => void;
}

export interface HarvestToCacheResult {
  readonly directory: string;
  /** False when the signal stopped it early; call harvestToCache again to continue. */
  readonly complete: boolean;
  readonly rows: number;
  readonly shards: number;
  readonly datasetExhausted: boolean;
}

/**
 * Harvests activations at one hook, or at several hooks of one model run,
 * into nnd's cache format: a directory of safetensors shards (`activations`
 * [rows, d] float32 or float16, or one `activations.{hook}` per hook, and
 * `tokens` [rows] int64) and `manifest.json`. Each shard is written atomically (temp
 * file + rename), then the manifest is rewritten to list it, so a harvest
 * killed at any point leaves a valid cache; calling again with the same
 * options resumes at the next shard, and rebuilds any listed shard that was
 * deleted (e.g. after a sha256 mismatch).
 */
export async function harvestToCache(options: HarvestToCacheOptions): Promise<HarvestToCacheResult> {
  const directory = resolve(options.directory);
  const log = options.log ?? console.log;
  if (!Number.isSafeInteger(options.totalRows) || options.totalRows < 1) {
    throw new ConfigError(`totalRows must be a positive integer, got ${options.totalRows}.`);
  }
  const batchesPerShard = options.batchesPerShard ?? 16;
  if (!Number.isSafeInteger(batchesPerShard) || batchesPerShard < 1) {
    throw new ConfigError(`batchesPerShard must be a positive integer, got ${batchesPerShard}.`);
  }
  const dtype = options.dtype ?? 'float32';
  if (dtype !== 'float32' && dtype !== 'float16') throw new ConfigError(`dtype must be 'float32' or 'float16', got '${String(dtype)}'.`);
  await mkdir(directory, { recursive: true }).catch((cause: unknown) => {
    throw new ActivationCacheError(`Cannot create the cache directory ${JSON.stringify(directory)}: ${(cause as Error).message}.`, { cause });
  });
  await removeTemporaryFiles(directory);

  const hooks = hooksOf(options);
  const existing = await access(join(directory, CACHE_MANIFEST)).then(
    () => readCacheManifest(directory),
    () => undefined,
  );
  const harvester = createHarvester(options, hooks, lastPosition(existing));
  const settings: ActivationCacheSettings = {
    model: options.model.name,
    hooks: harvester.hooks.map((hook, index) => ({ hook, activationSize: harvester.sizes[index] })),
    dtype,
    sequenceLength: harvester.sequenceLength,
    modelBatchSize: options.modelBatchSize,
    batchesPerShard,
    dataset: options.dataset.description,
    prependBos: options.prependBos ?? true,
    documentTokenLimit: Number.isFinite(options.documentTokenLimit ?? options.model.contextLength) ? (options.documentTokenLimit ?? options.model.contextLength) : null,
    keepRemainder: options.keepRemainder ?? false,
    repeatDataset: options.repeatDataset ?? false,
    excludedTokenIds: harvester.excludedTokenIds,
  };
  let manifest: ActivationCacheManifest;
  if (existing === undefined) {
    manifest = {
      format: CACHE_FORMAT,
      version: CACHE_FORMAT_VERSION,
      ...settings,
      targetRows: options.totalRows,
      rows: 0,
      complete: false,
      datasetExhausted: false,
      shards: [],
    };
  } else {
    checkSettings(directory, existing, settings);
    manifest = existing;
    manifest.targetRows = options.totalRows;
    await rebuildMissingShards(directory, manifest, options, log);
    log(`harvestToCache: resuming ${directory} after ${manifest.shards.length} shards (${manifest.rows} of ${options.totalRows} rows).`);
  }
  manifest.complete = manifest.rows >= manifest.targetRows || manifest.datasetExhausted;
  await writeCacheManifest(directory, manifest);
  const shardRows = batchesPerShard * harvester.maxRows;
  const floatsPerRow = settings.hooks.reduce((total, { activationSize }) => total + activationSize, 0);
  log(
    `harvestToCache: ${hooks.join(', ')} of ${settings.model} into ${directory}, shards of up to ${shardRows} rows ` +
      `(${formatBytes(shardRows * floatsPerRow * Float32Array.BYTES_PER_ELEMENT)} of float32 in memory while one is gathered).`,
  );

  while (!manifest.complete) {
    const shard = await harvestShard(harvester, batchesPerShard, manifest.targetRows - manifest.rows, options.signal);
    if (shard.rows > 0) {
      const record = await writeShard(directory, manifest.shards.length, shard, settings, harvester.position());
      manifest.shards.push(record);
      manifest.rows += record.rows;
    }
    if (shard.aborted) break;
    manifest.datasetExhausted = shard.exhausted;
    manifest.complete = manifest.rows >= manifest.targetRows || shard.exhausted;
    await writeCacheManifest(directory, manifest);
    if (shard.rows > 0) options.onShard?.(manifest.shards[manifest.shards.length - 1], manifest);
    if (shard.exhausted) log(`harvestToCache: dataset ${options.dataset.description} ended after ${manifest.rows} rows, before the ${manifest.targetRows} asked for.`);
  }
  return { directory, complete: manifest.complete, rows: manifest.rows, shards: manifest.shards.length, datasetExhausted: manifest.datasetExhausted };
}

/** Temporary files of writes that a crash cut short: nothing lists them, and their names are never reused. */
async function removeTemporaryFiles(directory: string): Promise<void> {
  const names = await readdir(directory).catch(() => [] as string[]);
  const temporary = names.filter((name) => /^\.(shard-\d+\.safetensors|manifest\.json)\.[0-9a-f]+\.tmp$/.test(name));
  await Promise.all(temporary.map((name) => unlink(join(directory, name)).catch(() => undefined)));
}

function hooksOf(options: HarvestToCacheOptions): readonly string[] {
  const { hookPoint, hookPoints } = options;
  if ((hookPoint === undefined) === (hookPoints === undefined)) {
    throw new ConfigError(`harvestToCache takes hookPoint (one hook) or hookPoints (several), not ${hookPoint === undefined ? 'neither' : 'both'}.`);
  }
  return hookPoints ?? [hookPoint!];
}

function lastPosition(manifest: ActivationCacheManifest | undefined): DatasetPosition {
  return manifest?.shards[manifest.shards.length - 1]?.datasetPosition ?? DATASET_START;
}

function checkSettings(directory: string, existing: ActivationCacheManifest, settings: ActivationCacheSettings): void {
  const differences = SETTINGS_FIELDS.filter((field) => JSON.stringify(existing[field]) !== JSON.stringify(settings[field])).map(
    (field) => `${field} is ${JSON.stringify(existing[field])} in the cache but ${JSON.stringify(settings[field])} now`,
  );
  if (differences.length > 0) {
    throw new ActivationCacheError(
      `The activation cache ${JSON.stringify(directory)} was harvested with other settings: ${differences.join('; ')}. ` +
        'Resume with the same settings, or harvest into a new directory (or delete this one).',
    );
  }
}

interface HarvestedShard {
  readonly rows: number;
  /** Per hook, [rows, size]. */
  readonly activations: Record<string, Float32Array>;
  readonly tokens: BigInt64Array;
  /** Rows of each model batch, in order. */
  readonly batchRows: number[];
  readonly exhausted: boolean;
  readonly aborted: boolean;
}

/** Up to `batchesPerShard` model batches of every hook, cut at `rowLimit` rows; an abort drops the partial shard. */
async function harvestShard(harvester: ActivationHarvester, batchesPerShard: number, rowLimit: number, signal: AbortSignal | undefined): Promise<HarvestedShard> {
  const capacity = Math.min(rowLimit, batchesPerShard * harvester.maxRows);
  const storage = harvester.hooks.map((hook, index) => ({ hook, size: harvester.sizes[index], values: new Float32Array(capacity * harvester.sizes[index]) }));
  const tokens = new BigInt64Array(capacity);
  const batchRows: number[] = [];
  let rows = 0;
  const result = (exhausted: boolean): HarvestedShard => ({
    rows,
    activations: Object.fromEntries(storage.map(({ hook, size, values }) => [hook, values.subarray(0, rows * size)])),
    tokens: tokens.subarray(0, rows),
    batchRows,
    exhausted,
    aborted: false,
  });
  for (let batchIndex = 0; batchIndex < batchesPerShard && rows < capacity; batchIndex++) {
    if (signal?.aborted) return { ...result(false), rows: 0, batchRows: [], aborted: true };
    const batch = await harvester.next();
    if (batch === undefined) return result(true);
    const take = Math.min(batch.rows, capacity - rows);
    for (const { hook, size, values } of storage) values.set(batch.activations[hook].subarray(0, take * size), rows * size);
    tokens.set(batch.tokens.subarray(0, take), rows);
    batchRows.push(take);
    rows += take;
  }
  return result(false);
}

/** Re-harvests listed shards whose file is gone or has the wrong size, from the position the previous shard recorded. */
async function rebuildMissingShards(directory: string, manifest: ActivationCacheManifest, options: HarvestToCacheOptions, log: (message: string) => void): Promise<void> {
  for (const [index, shard] of manifest.shards.entries()) {
    const size = await stat(join(directory, shard.file)).then(
      (info) => info.size,
      () => undefined,
    );
    if (size === shard.bytes) continue;
    log(`harvestToCache: shard ${shard.file} is ${size === undefined ? 'missing' : `${size} bytes instead of ${shard.bytes}`}; rebuilding it.`);
    const start = index === 0 ? DATASET_START : manifest.shards[index - 1].datasetPosition;
    const harvester = createHarvester(
      { ...options, log: () => undefined },
      manifest.hooks.map(({ hook }) => hook),
      start,
    );
    const rebuilt = await harvestShard(harvester, manifest.batchesPerShard, shard.rows, undefined);
    const position = harvester.position();
    if (rebuilt.rows !== shard.rows || JSON.stringify(position) !== JSON.stringify(shard.datasetPosition)) {
      throw new ActivationCacheError(
        `Rebuilding ${shard.file} in ${JSON.stringify(directory)} gave ${rebuilt.rows} rows ending at ${JSON.stringify(position)}, but the manifest ` +
          `records ${shard.rows} rows ending at ${JSON.stringify(shard.datasetPosition)}: the dataset or model changed since the harvest. Harvest into a new directory.`,
      );
    }
    manifest.shards[index] = await writeShard(directory, index, rebuilt, manifest, shard.datasetPosition);
    await writeCacheManifest(directory, manifest);
  }
}
