import { ConfigError } from '@nnd/core';
import type { ActivationHarvester } from './activation-harvester.js';
import { CachedMultiHookActivationsStore, type CachedMultiHookStoreOptions } from './cached-activations-store.js';
import type { HookBatchSource } from './activation-source.js';
import type { DocumentSource } from './dataset-document.js';
import { DatasetError } from './dataset-error.js';
import { createHarvester, type HarvestSettings } from './harvest-settings.js';
import { formatBytes, type BufferPosition, type RowChunkProducer } from './shuffle-buffer.js';
import { ShuffledStore } from './shuffled-store.js';
import { fitStoreFootprint, type StoreFootprint } from './store-footprint.js';
import { parseStorePosition } from './store-position.js';
import type { DatasetPosition } from './token-packer.js';

/** Where a store stands: JSON that `resume` accepts to continue with the same batches. */
export type StorePosition = BufferPosition<DatasetPosition>;

export interface StoreSettings extends HarvestSettings {
  /** Rows per served batch (`batch_size`). */
  readonly batchSize: number;
  /** Model batches gathered and shuffled together (`num_batches_in_buffer`). */
  readonly batchesInBuffer: number;
  /** Seeds the shuffle; the same seed, data and model give the same batches. */
  readonly seed: number;
  /** A position from `position()` to continue from. */
  readonly resume?: StorePosition;
  /**
   * The most bytes the store may hold (see `footprint`): it puts up to
   * `batchesInBuffer` model batches in a buffer, fewer when they do not fit
   * (and says so), and refuses to start when not even one does. Default: no limit.
   */
  readonly maxBytes?: number;
}

export interface MultiHookActivationsStoreOptions extends StoreSettings {
  /** Hooks harvested from one model run, e.g. one SAE per layer. */
  readonly hookPoints: readonly string[];
}

/** The footprint of the store a harvester feeds, with as many model batches per buffer as `maxBytes` allows. */
function fitFootprint(options: MultiHookActivationsStoreOptions, harvester: ActivationHarvester): StoreFootprint {
  const shape = {
    rowsPerModelBatch: harvester.maxRows,
    floatsPerRow: harvester.sizes.reduce((total, size) => total + size, 0),
    batchSize: options.batchSize,
    excludesTokens: harvester.excludedTokenIds.length > 0,
  };
  return fitStoreFootprint(shape, options.batchesInBuffer, options.maxBytes, harvester.hooks.length, options.log ?? console.log);
}

/** A harvester as the buffer's producer: one model batch per chunk. */
function harvestProducer(harvester: ActivationHarvester, dataset: DocumentSource): RowChunkProducer<DatasetPosition> {
  return {
    next: () => harvester.next(),
    position: () => harvester.position(),
    exhaustedError: () => {
      const { epoch, document } = harvester.position();
      return new DatasetError(`Dataset ${dataset.description} ran out at document ${document} (pass ${epoch + 1}); pass repeatDataset: true to go through it again, or use a larger dataset.`);
    },
  };
}

/**
 * The reference's ActivationsStore for several hooks at once: one model
 * run fills all hooks' buffers, shuffled by one permutation, so batch i of
 * every hook holds the same token positions. Serve them together with
 * `nextBatches()`, or give each SAE its own `forHook(name)` source.
 */
export class MultiHookActivationsStore extends ShuffledStore<DatasetPosition> {
  private readonly sources = new Map<string, QueuedHookSource>();
  private readonly maxQueued: number;
  /** The most the store holds, by part, as its log line states it. */
  readonly footprint!: StoreFootprint;

  constructor(private readonly options: MultiHookActivationsStoreOptions) {
    super(options.batchSize, options.seed, `ActivationsStore(${options.model.name}, ${options.dataset.description})`, options.log ?? console.log);
    this.openBuffer(options.resume);
    const { buffers, harvest, batch, total } = this.footprint;
    this.log(
      `${this.label} holds at most ${formatBytes(total)}: ` +
        `two buffers ${formatBytes(buffers)}, the model batches in flight ${formatBytes(harvest)}, the batch being served ${formatBytes(batch)}` +
        `${options.maxBytes === undefined ? '' : ` (limit ${formatBytes(options.maxBytes)})`}.`,
    );
    this.maxQueued = Math.max(1, Math.floor(this.buffer.capacity / options.batchSize));
  }

  /** A harvester that continues from `resume` (or starts at the dataset's beginning), one model batch a chunk. */
  protected override bufferParts(resume: StorePosition | undefined) {
    const { options } = this;
    const harvester = createHarvester(options, options.hookPoints, resume?.buffer.source);
    harvester.hooks.forEach((hook, index) => this.sizes.set(hook, harvester.sizes[index]));
    // The footprint is fitted once, when the store opens; a seek reopens the buffer at the same size.
    (this as { footprint: StoreFootprint }).footprint ??= fitFootprint(options, harvester);
    return {
      producer: harvestProducer(harvester, options.dataset),
      hooks: harvester.hooks.map((name, index) => ({ name, size: harvester.sizes[index] })),
      chunksPerBuffer: this.footprint.batchesInBuffer,
      maxRowsPerChunk: harvester.maxRows,
    };
  }

  protected override parsePosition(value: unknown, where: string): StorePosition {
    return parseStorePosition(value, where);
  }

  protected override describeSource({ epoch, document, token }: DatasetPosition): string {
    return `document ${document} (pass ${epoch + 1}), token ${token}`;
  }

  protected override checkSeekable(): void {
    if (this.sources.size > 0) throw new ConfigError(`${this.label}: seek before taking forHook sources; their queues would mix positions.`);
  }

  /** Shuffled batches of several hooks, row-aligned, from an activation cache written by harvestToCache with hookPoints. */
  static fromCache(directory: string, options: CachedMultiHookStoreOptions): Promise<CachedMultiHookActivationsStore> {
    return CachedMultiHookActivationsStore.open(directory, options);
  }

  /**
   * A source of one hook's batches. Sources share the harvest: a batch
   * fetched for one is queued for the others, so consume them in lockstep
   * (one batch from each per training step); a source left more than one
   * buffer behind makes the others throw rather than hold memory without bound.
   */
  forHook(hook: string): HookBatchSource {
    let source = this.sources.get(hook);
    if (source === undefined) {
      source = new QueuedHookSource((target) => this.pull(target), hook, this.activationSize(hook), this.batchSize);
      this.sources.set(hook, source);
    }
    return source;
  }

  /** Serves a forHook source from its queue, harvesting for all sources when it is empty. */
  private async pull(source: QueuedHookSource): Promise<Float32Array> {
    while (source.queue.length === 0) {
      const lagging = [...this.sources.values()].find((other) => other.queue.length >= this.maxQueued);
      if (lagging !== undefined) {
        throw new ConfigError(
          `forHook('${lagging.hook}') is ${lagging.queue.length} batches behind the other hooks' sources; take one batch from every forHook source per step, or use nextBatches().`,
        );
      }
      const batches = await this.nextBatches();
      for (const other of this.sources.values()) other.queue.push(batches[other.hook]);
    }
    return source.queue.shift()!;
  }
}

class QueuedHookSource implements HookBatchSource {
  readonly queue: Float32Array[] = [];

  constructor(
    private readonly pull: (source: QueuedHookSource) => Promise<Float32Array>,
    readonly hook: string,
    readonly activationSize: number,
    readonly batchSize: number,
  ) {}

  nextBatch(): Promise<Float32Array> {
    return this.pull(this);
  }
}
