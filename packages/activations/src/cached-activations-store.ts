import { ConfigError, Rng } from '@nnd/core';
import { resolve } from 'node:path';
import { ActivationCacheError } from './activation-cache-error.js';
import { readCacheManifest, readShard, type ActivationCacheManifest, type CacheShard } from './activation-cache.js';
import type { HookBatchSource } from './activation-source.js';
import { fitStoreFootprint } from './store-footprint.js';
import { formatBytes, ShuffleBuffer, type BufferPosition, type RowChunkProducer } from './shuffle-buffer.js';

/**
 * Where the cache reader continues: shard `shard` of pass `epoch` (in the
 * pass's shuffled shard order, or in harvest order when the store replays
 * model batches), and within it model batch `batch` (replay only).
 */
export interface CachePosition {
  readonly epoch: number;
  readonly shard: number;
  readonly batch?: number;
}

export type CachedStorePosition = BufferPosition<CachePosition>;

export interface CachedActivationsStoreOptions {
  /** Rows per served batch. */
  readonly batchSize: number;
  /** Seeds the shard order of each pass and the shuffle within each buffer. */
  readonly seed: number;
  /** Shards read and shuffled together (default 4); memory is two buffers of this many shards. Ignored with batchesInBuffer. */
  readonly shardsInBuffer?: number;
  /**
   * Replay the live store instead: model batches in harvest order,
   * `batchesInBuffer` of them shuffled together (the store's
   * `num_batches_in_buffer`), so that with the same seed the batches equal
   * those of an ActivationsStore/MultiHookActivationsStore over the same
   * model and data, as long as the run reads no buffer past the cache's
   * end. Memory is two buffers of this many model batches and one shard.
   */
  readonly batchesInBuffer?: number;
  /**
   * With batchesInBuffer: the limit the live store had (its `maxBytes`), so
   * that the replay puts as many model batches in a buffer as it did. The
   * shard being replayed comes on top (see footprintBytes).
   */
  readonly maxBytes?: number;
  /** Check each shard's sha256 before using it (default true). */
  readonly verify?: boolean;
  /** Default console.log. */
  readonly log?: (message: string) => void;
  /** A position from `position()` to continue from. */
  readonly resume?: CachedStorePosition;
}

export interface CachedMultiHookStoreOptions extends CachedActivationsStoreOptions {
  /** The cache's hooks to serve (default all); the other hooks' bytes are never read. */
  readonly hookPoints?: readonly string[];
}

/**
 * Shuffled batches from an on-disk activation cache of one hook or several,
 * with bounded memory: shards are read one at a time (core's lazy
 * safetensors reader, sha256 checked first), shuffled together with one
 * permutation for all hooks (row i of every hook stays the same token), and
 * the next buffer is read while the current one is served.
 *
 * By default `shardsInBuffer` whole shards make a buffer, the shard order is
 * reshuffled on each pass and a buffer never spans two passes, so a run
 * needing more rows than the cache holds sees each row once per pass. With
 * `batchesInBuffer` it replays the live store's buffers instead (see there).
 */
export class CachedMultiHookActivationsStore {
  readonly hookPoints: readonly string[];
  readonly batchSize: number;
  private readonly sizes = new Map<string, number>();
  private readonly buffer: ShuffleBuffer<CachePosition>;
  /** Bytes of the shard a replaying store holds while it hands out its model batches (0 otherwise). */
  readonly shardBytes: number;

  private constructor(
    readonly directory: string,
    readonly manifest: ActivationCacheManifest,
    options: CachedMultiHookStoreOptions,
  ) {
    const cached = manifest.hooks.map(({ hook }) => hook);
    this.hookPoints = options.hookPoints === undefined ? cached : [...options.hookPoints];
    for (const hook of this.hookPoints) {
      const entry = manifest.hooks.find((candidate) => candidate.hook === hook);
      if (entry === undefined) {
        throw new ConfigError(
          `The activation cache ${JSON.stringify(directory)} holds ${cached.join(', ')}; it has no hook '${hook}'. Harvest a cache of the hooks the run needs (nnd cache with the run's config).`,
        );
      }
      this.sizes.set(hook, entry.activationSize);
    }
    if (this.hookPoints.length === 0) throw new ConfigError('hookPoints is empty; name at least one hook of the cache, or leave it out for all.');
    this.batchSize = options.batchSize;
    const log = options.log ?? console.log;
    if (!Number.isSafeInteger(options.seed)) throw new ConfigError(`seed must be an integer, got ${options.seed}.`);
    const replay = options.batchesInBuffer !== undefined;
    const floatsPerRow = this.hookPoints.reduce((total, hook) => total + this.sizes.get(hook)!, 0);
    const largestShard = Math.max(...manifest.shards.map((shard) => shard.rows));
    this.shardBytes = replay ? largestShard * floatsPerRow * Float32Array.BYTES_PER_ELEMENT : 0;
    log(
      `Activation cache ${directory}: ${manifest.shards.length} shards, ${manifest.rows} rows of ${this.hookPoints.join(', ')} from ${manifest.model} ` +
        `(${manifest.dtype})${manifest.complete ? '' : `, incomplete: ${manifest.targetRows} rows were asked for`}` +
        `${replay ? `; model batches in harvest order, as the live store, with one shard (${formatBytes(this.shardBytes)}) held while its batches are served` : ''}.`,
    );
    const batchesInBuffer = replay
      ? fitStoreFootprint(
          { rowsPerModelBatch: manifest.modelBatchSize * manifest.sequenceLength, floatsPerRow, batchSize: options.batchSize, excludesTokens: manifest.excludedTokenIds.length > 0 },
          options.batchesInBuffer!,
          options.maxBytes,
          this.hookPoints.length,
          log,
        ).batchesInBuffer
      : 0;
    const verify = options.verify ?? true;
    const start = options.resume?.buffer.source;
    this.buffer = new ShuffleBuffer({
      producer: replay ? harvestOrderProducer(directory, manifest, this.hookPoints, verify, start) : shardProducer(directory, manifest, this.hookPoints, options.seed, verify, start),
      hooks: this.hookPoints.map((name) => ({ name, size: this.sizes.get(name)! })),
      chunksPerBuffer: replay ? batchesInBuffer : Math.min(options.shardsInBuffer ?? 4, manifest.shards.length),
      maxRowsPerChunk: replay ? manifest.modelBatchSize * manifest.sequenceLength : largestShard,
      batchSize: options.batchSize,
      rng: new Rng(options.resume?.buffer.rng ?? options.seed),
      resume: options.resume,
      label: `CachedActivationsStore(${directory})`,
      log,
    });
  }

  static async open(directory: string, options: CachedMultiHookStoreOptions): Promise<CachedMultiHookActivationsStore> {
    const absolute = resolve(directory);
    const manifest = await readCacheManifest(absolute);
    if (manifest.shards.length === 0 || manifest.rows === 0) {
      throw new ActivationCacheError(`The activation cache ${JSON.stringify(absolute)} holds no shards yet; run harvestToCache to fill it.`);
    }
    return new CachedMultiHookActivationsStore(absolute, manifest, options);
  }

  activationSize(hook: string): number {
    const size = this.sizes.get(hook);
    if (size === undefined) throw new ConfigError(`This store serves ${this.hookPoints.join(', ')}; it has no hook '${hook}'.`);
    return size;
  }

  /** Bytes of one buffer; two exist while the next one is read. */
  get bufferBytes(): number {
    return this.buffer.bufferBytes;
  }

  /** The most the store holds at once: two buffers, and the shard being replayed. */
  get footprintBytes(): number {
    return 2 * this.buffer.bufferBytes + this.shardBytes;
  }

  /** The next batch of every served hook, the same rows for each. */
  nextBatches(): Promise<Record<string, Float32Array>> {
    return this.buffer.nextBatches();
  }

  /** The same as `nextBatches()`: a trainer's source of batches keyed by hook. */
  nextBatch(): Promise<Record<string, Float32Array>> {
    return this.nextBatches();
  }

  position(): CachedStorePosition {
    return this.buffer.position();
  }
}

/** One hook of a cache as a single-hook source (the whole cache when it holds one hook). */
export class CachedActivationsStore implements HookBatchSource {
  readonly hook: string;
  readonly activationSize: number;
  readonly batchSize: number;

  private constructor(private readonly store: CachedMultiHookActivationsStore) {
    [this.hook] = store.hookPoints;
    this.activationSize = store.activationSize(this.hook);
    this.batchSize = store.batchSize;
  }

  /** `hook` picks one hook of a cache of several; a one-hook cache needs none. */
  static async open(directory: string, options: CachedActivationsStoreOptions & { readonly hook?: string }): Promise<CachedActivationsStore> {
    const absolute = resolve(directory);
    if (options.hook === undefined) {
      const manifest = await readCacheManifest(absolute);
      if (manifest.hooks.length > 1) {
        throw new ConfigError(
          `The activation cache ${JSON.stringify(absolute)} holds ${manifest.hooks.length} hooks (${manifest.hooks.map(({ hook }) => hook).join(', ')}); ` +
            'pass hook to read one of them, or open it with MultiHookActivationsStore.fromCache to read them together.',
        );
      }
    }
    const store = await CachedMultiHookActivationsStore.open(absolute, { ...options, hookPoints: options.hook === undefined ? undefined : [options.hook] });
    return new CachedActivationsStore(store);
  }

  get directory(): string {
    return this.store.directory;
  }

  get manifest(): ActivationCacheManifest {
    return this.store.manifest;
  }

  get bufferBytes(): number {
    return this.store.bufferBytes;
  }

  async nextBatch(): Promise<Float32Array> {
    return (await this.store.nextBatches())[this.hook];
  }

  position(): CachedStorePosition {
    return this.store.position();
  }
}

/** Each pass visits every shard once, in an order drawn from the seed and the pass number alone, so a position needs no RNG state. */
function shardOrder(seed: number, epoch: number, count: number): Uint32Array {
  return new Rng((seed + epoch * 2654435761) % Number.MAX_SAFE_INTEGER).permutation(count);
}

function exhausted(directory: string): ActivationCacheError {
  return new ActivationCacheError(`The activation cache ${JSON.stringify(directory)} has no rows.`);
}

function shardProducer(
  directory: string,
  manifest: ActivationCacheManifest,
  hooks: readonly string[],
  seed: number,
  verify: boolean,
  start: CachePosition | undefined,
): RowChunkProducer<CachePosition> {
  let epoch = start?.epoch ?? 0;
  let next = start?.shard ?? 0;
  let order = shardOrder(seed, epoch, manifest.shards.length);
  return {
    position: () => ({ epoch, shard: next }),
    async next() {
      if (next >= order.length) {
        epoch++;
        next = 0;
        order = shardOrder(seed, epoch, manifest.shards.length);
      }
      const shard = manifest.shards[order[next]];
      const { activations } = await readShard(directory, manifest, shard, verify, hooks);
      next++;
      return { rows: shard.rows, activations, endsBuffer: next === order.length };
    },
    exhaustedError: () => exhausted(directory),
  };
}

/** The model batches of a shard: as recorded, or, in caches from before they were, full batches of modelBatchSize x sequenceLength rows. */
export function modelBatchRows(manifest: ActivationCacheManifest, shard: CacheShard): readonly number[] {
  if (shard.batchRows !== undefined) return shard.batchRows;
  const full = manifest.modelBatchSize * manifest.sequenceLength;
  const rows: number[] = [];
  for (let left = shard.rows; left > 0; left -= full) rows.push(Math.min(full, left));
  return rows;
}

/** Model batches in harvest order, one chunk each, as the live store's harvester yields them; one shard is held while its batches are served. */
function harvestOrderProducer(directory: string, manifest: ActivationCacheManifest, hooks: readonly string[], verify: boolean, start: CachePosition | undefined): RowChunkProducer<CachePosition> {
  let epoch = start?.epoch ?? 0;
  let shardIndex = start?.shard ?? 0;
  let batch = start?.batch ?? 0;
  let loaded: { index: number; activations: Readonly<Record<string, Float32Array>>; offsets: number[] } | undefined;
  return {
    position: () => ({ epoch, shard: shardIndex, batch }),
    async next() {
      if (loaded?.index !== shardIndex) {
        loaded = undefined;
        const shard = manifest.shards[shardIndex];
        const { activations } = await readShard(directory, manifest, shard, verify, hooks);
        const offsets = [0];
        for (const rows of modelBatchRows(manifest, shard)) offsets.push(offsets[offsets.length - 1] + rows);
        loaded = { index: shardIndex, activations, offsets };
      }
      const { offsets } = loaded;
      const [from, to] = [offsets[batch], offsets[batch + 1]];
      const activations: Record<string, Float32Array> = {};
      for (const hook of hooks) {
        const size = manifest.hooks.find((entry) => entry.hook === hook)!.activationSize;
        activations[hook] = loaded.activations[hook].subarray(from * size, to * size);
      }
      batch++;
      let endsBuffer = false;
      if (batch === offsets.length - 1) {
        batch = 0;
        shardIndex++;
        if (shardIndex === manifest.shards.length) {
          // A pass ends the buffer, so the next pass starts a buffer of its own.
          shardIndex = 0;
          epoch++;
          endsBuffer = true;
        }
      }
      return { rows: to - from, activations, endsBuffer };
    },
    exhaustedError: () => exhausted(directory),
  };
}
