import { ConfigError, Rng } from '@nnd/core';
import { resolve } from 'node:path';
import { ActivationCacheError } from './activation-cache-error.js';
import { readCacheManifest, readShard, type ActivationCacheManifest } from './activation-cache.js';
import type { HookBatchSource } from './activation-source.js';
import { ShuffleBuffer, type BufferPosition, type RowChunkProducer } from './shuffle-buffer.js';

/** Where the cache reader continues: shard `shard` of the shuffled shard order of pass `epoch`. */
export interface CachePosition {
  readonly epoch: number;
  readonly shard: number;
}

export type CachedStorePosition = BufferPosition<CachePosition>;

export interface CachedActivationsStoreOptions {
  /** Rows per served batch. */
  readonly batchSize: number;
  /** Seeds the shard order of each pass and the shuffle within each buffer. */
  readonly seed: number;
  /** Shards read and shuffled together (default 4); memory is two buffers of this many shards. */
  readonly shardsInBuffer?: number;
  /** Check each shard's sha256 before using it (default true). */
  readonly verify?: boolean;
  /** Default console.log. */
  readonly log?: (message: string) => void;
  /** A position from `position()` to continue from. */
  readonly resume?: CachedStorePosition;
}

/**
 * Shuffled batches from an on-disk activation cache, with bounded memory:
 * shards are read one at a time (core's lazy safetensors reader, sha256
 * checked first), `shardsInBuffer` of them are shuffled together, and the
 * next buffer is read while the current one is served. The shard order is
 * reshuffled on each pass and a buffer never spans two passes, so a run
 * needing more rows than the cache holds sees each row once per pass.
 */
export class CachedActivationsStore implements HookBatchSource {
  readonly hook: string;
  readonly activationSize: number;
  readonly batchSize: number;
  private readonly buffer: ShuffleBuffer<CachePosition>;

  private constructor(readonly directory: string, readonly manifest: ActivationCacheManifest, options: CachedActivationsStoreOptions) {
    this.hook = manifest.hook;
    this.activationSize = manifest.activationSize;
    this.batchSize = options.batchSize;
    const log = options.log ?? console.log;
    const shardsInBuffer = options.shardsInBuffer ?? 4;
    if (!Number.isSafeInteger(options.seed)) throw new ConfigError(`seed must be an integer, got ${options.seed}.`);
    log(
      `Activation cache ${directory}: ${manifest.shards.length} shards, ${manifest.rows} rows of ${manifest.hook} from ${manifest.model} ` +
        `(${manifest.dtype})${manifest.complete ? '' : `, incomplete: ${manifest.targetRows} rows were asked for`}.`,
    );
    this.buffer = new ShuffleBuffer({
      producer: shardProducer(directory, manifest, options.seed, options.verify ?? true, options.resume?.buffer.source),
      hooks: [{ name: manifest.hook, size: manifest.activationSize }],
      chunksPerBuffer: Math.min(shardsInBuffer, manifest.shards.length),
      maxRowsPerChunk: Math.max(...manifest.shards.map((shard) => shard.rows)),
      batchSize: options.batchSize,
      rng: new Rng(options.resume?.buffer.rng ?? options.seed),
      resume: options.resume,
      label: `CachedActivationsStore(${directory})`,
      log,
    });
  }

  static async open(directory: string, options: CachedActivationsStoreOptions): Promise<CachedActivationsStore> {
    const absolute = resolve(directory);
    const manifest = await readCacheManifest(absolute);
    if (manifest.shards.length === 0 || manifest.rows === 0) {
      throw new ActivationCacheError(`The activation cache ${JSON.stringify(absolute)} holds no shards yet; run harvestToCache to fill it.`);
    }
    return new CachedActivationsStore(absolute, manifest, options);
  }

  get bufferBytes(): number {
    return this.buffer.bufferBytes;
  }

  async nextBatch(): Promise<Float32Array> {
    return (await this.buffer.nextBatches())[this.hook];
  }

  position(): CachedStorePosition {
    return this.buffer.position();
  }
}

/** Each pass visits every shard once, in an order drawn from the seed and the pass number alone, so a position needs no RNG state. */
function shardOrder(seed: number, epoch: number, count: number): Uint32Array {
  return new Rng((seed + epoch * 2654435761) % Number.MAX_SAFE_INTEGER).permutation(count);
}

function shardProducer(
  directory: string, manifest: ActivationCacheManifest, seed: number, verify: boolean, start: CachePosition | undefined,
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
      const { activations } = await readShard(directory, manifest, shard, verify);
      next++;
      return { rows: shard.rows, activations: { [manifest.hook]: activations }, endsBuffer: next === order.length };
    },
    exhaustedError: () => new ActivationCacheError(`The activation cache ${JSON.stringify(directory)} has no rows.`),
  };
}
