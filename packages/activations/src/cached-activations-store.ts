import { ConfigError, Rng } from '@nnd/core';
import { resolve } from 'node:path';
import { ActivationCacheError } from './activation-cache-error.js';
import { readCacheManifest, readShard, type ActivationCacheManifest, type CacheShard } from './activation-cache.js';
import { OneHookStore, ShuffledStore } from './shuffled-store.js';
import { fitStoreFootprint } from './store-footprint.js';
import { parseCachedStorePosition } from './store-position.js';
import { formatBytes, type BufferPosition, type RowChunkProducer } from './shuffle-buffer.js';

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
export class CachedMultiHookActivationsStore extends ShuffledStore<CachePosition> {
  /** Bytes of the shard a replaying store holds while it hands out its model batches (0 otherwise). */
  readonly shardBytes: number;
  private readonly replay: boolean;
  private readonly chunksPerBuffer: number;
  private readonly largestShard: number;

  private constructor(
    readonly directory: string,
    readonly manifest: ActivationCacheManifest,
    private readonly options: CachedMultiHookStoreOptions,
  ) {
    super(options.batchSize, options.seed, `CachedActivationsStore(${directory})`, options.log ?? console.log);
    const cached = manifest.hooks.map(({ hook }) => hook);
    for (const hook of options.hookPoints ?? cached) {
      const entry = manifest.hooks.find((candidate) => candidate.hook === hook);
      if (entry === undefined) {
        throw new ConfigError(
          `The activation cache ${JSON.stringify(directory)} holds ${cached.join(', ')}; it has no hook '${hook}'. Harvest a cache of the hooks the run needs (nnd cache with the run's config).`,
        );
      }
      this.sizes.set(hook, entry.activationSize);
    }
    if (this.sizes.size === 0) throw new ConfigError('hookPoints is empty; name at least one hook of the cache, or leave it out for all.');
    if (!Number.isSafeInteger(options.seed)) throw new ConfigError(`seed must be an integer, got ${options.seed}.`);
    this.replay = options.batchesInBuffer !== undefined;
    const floatsPerRow = [...this.sizes.values()].reduce((total, size) => total + size, 0);
    this.largestShard = Math.max(...manifest.shards.map((shard) => shard.rows));
    this.shardBytes = this.replay ? this.largestShard * floatsPerRow * Float32Array.BYTES_PER_ELEMENT : 0;
    this.log(
      `Activation cache ${directory}: ${manifest.shards.length} shards, ${manifest.rows} rows of ${this.hookPoints.join(', ')} from ${manifest.model} ` +
        `(${manifest.dtype})${manifest.complete ? '' : `, incomplete: ${manifest.targetRows} rows were asked for`}` +
        `${this.replay ? `; model batches in harvest order, as the live store, with one shard (${formatBytes(this.shardBytes)}) held while its batches are served` : ''}.`,
    );
    this.chunksPerBuffer = this.replay
      ? fitStoreFootprint(
          { rowsPerModelBatch: manifest.modelBatchSize * manifest.sequenceLength, floatsPerRow, batchSize: options.batchSize, excludesTokens: manifest.excludedTokenIds.length > 0 },
          options.batchesInBuffer!,
          options.maxBytes,
          this.sizes.size,
          this.log,
        ).batchesInBuffer
      : Math.min(options.shardsInBuffer ?? 4, manifest.shards.length);
    this.openBuffer(options.resume);
  }

  static async open(directory: string, options: CachedMultiHookStoreOptions): Promise<CachedMultiHookActivationsStore> {
    const absolute = resolve(directory);
    const manifest = await readCacheManifest(absolute);
    if (manifest.shards.length === 0 || manifest.rows === 0) {
      throw new ActivationCacheError(`The activation cache ${JSON.stringify(absolute)} holds no shards yet; run harvestToCache to fill it.`);
    }
    return new CachedMultiHookActivationsStore(absolute, manifest, options);
  }

  /** Shards from `resume` on (or from the first pass's first): whole shards a chunk, or, replaying, model batches in harvest order. */
  protected override bufferParts(resume: CachedStorePosition | undefined) {
    const { directory, manifest, options, hookPoints } = this;
    const verify = options.verify ?? true;
    const start = resume?.buffer.source;
    return {
      producer: this.replay ? harvestOrderProducer(directory, manifest, hookPoints, verify, start) : shardProducer(directory, manifest, hookPoints, options.seed, verify, start),
      hooks: hookPoints.map((name) => ({ name, size: this.sizes.get(name)! })),
      chunksPerBuffer: this.chunksPerBuffer,
      maxRowsPerChunk: this.replay ? manifest.modelBatchSize * manifest.sequenceLength : this.largestShard,
    };
  }

  protected override parsePosition(value: unknown, where: string): CachedStorePosition {
    const position = parseCachedStorePosition(value, where);
    const { shard, batch } = position.buffer.source;
    const batches = shard < this.manifest.shards.length ? modelBatchRows(this.manifest, this.manifest.shards[shard]).length : 0;
    // Shard order positions may stand at the end of a pass; harvest order ones always name a model batch of a shard.
    if (this.replay ? batch === undefined || batch >= batches : batch !== undefined || shard > this.manifest.shards.length) {
      throw new ConfigError(
        `${where}: the recorded position ${JSON.stringify(position.buffer.source)} is not one of this cache's ${this.replay ? 'model batches' : 'shards'} ` +
          `(${this.manifest.shards.length} shards, read ${this.replay ? 'in harvest order' : 'in shuffled shard order'}); resume with the cache and the batchesInBuffer or shardsInBuffer the run was started with.`,
      );
    }
    return position;
  }

  protected override describeSource({ epoch, shard, batch }: CachePosition): string {
    return this.replay ? `shard ${shard}, model batch ${batch} (pass ${epoch + 1})` : `shard ${shard} of pass ${epoch + 1}'s shuffled order`;
  }

  /** The most the store holds at once: two buffers, and the shard being replayed. */
  get footprintBytes(): number {
    return 2 * this.buffer.bufferBytes + this.shardBytes;
  }
}

/** One hook of a cache as a single-hook source (the whole cache when it holds one hook). */
export class CachedActivationsStore extends OneHookStore<CachePosition> {
  declare protected readonly store: CachedMultiHookActivationsStore;

  private constructor(store: CachedMultiHookActivationsStore) {
    super(store, store.hookPoints[0]);
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
