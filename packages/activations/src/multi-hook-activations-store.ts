import { ConfigError, Rng } from '@nnd/core';
import type { ActivationHarvester } from './activation-harvester.js';
import { CachedMultiHookActivationsStore, type CachedMultiHookStoreOptions } from './cached-activations-store.js';
import type { HookBatchSource } from './activation-source.js';
import type { DocumentSource } from './dataset-document.js';
import { DatasetError } from './dataset-error.js';
import { createHarvester, type HarvestSettings } from './harvest-settings.js';
import { ShuffleBuffer, type BufferPosition, type RowChunkProducer } from './shuffle-buffer.js';
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
}

export interface MultiHookActivationsStoreOptions extends StoreSettings {
  /** Hooks harvested from one model run, e.g. one SAE per layer. */
  readonly hookPoints: readonly string[];
}

/** A harvester as the buffer's producer: one model batch per chunk. */
function harvestProducer(harvester: ActivationHarvester, dataset: DocumentSource): RowChunkProducer<DatasetPosition> {
  return {
    next: () => harvester.next(),
    position: () => harvester.position(),
    exhaustedError: () => {
      const { epoch, document } = harvester.position();
      return new DatasetError(
        `Dataset ${dataset.description} ran out at document ${document} (pass ${epoch + 1}); ` +
          'pass repeatDataset: true to go through it again, or use a larger dataset.',
      );
    },
  };
}

/**
 * The reference's ActivationsStore for several hooks at once: one model
 * run fills all hooks' buffers, shuffled by one permutation, so batch i of
 * every hook holds the same token positions. Serve them together with
 * `nextBatches()`, or give each SAE its own `forHook(name)` source.
 */
export class MultiHookActivationsStore {
  readonly hookPoints: readonly string[];
  readonly batchSize: number;
  private readonly buffer: ShuffleBuffer<DatasetPosition>;
  private readonly sizes = new Map<string, number>();
  private readonly sources = new Map<string, QueuedHookSource>();
  private readonly maxQueued: number;

  constructor(options: MultiHookActivationsStoreOptions) {
    const harvester = createHarvester(options, options.hookPoints, options.resume?.buffer.source);
    this.hookPoints = harvester.hooks;
    this.batchSize = options.batchSize;
    harvester.hooks.forEach((hook, index) => this.sizes.set(hook, harvester.sizes[index]));
    const rng = new Rng(options.resume?.buffer.rng ?? options.seed);
    this.buffer = new ShuffleBuffer({
      producer: harvestProducer(harvester, options.dataset),
      hooks: harvester.hooks.map((name, index) => ({ name, size: harvester.sizes[index] })),
      chunksPerBuffer: options.batchesInBuffer,
      maxRowsPerChunk: harvester.maxRows,
      batchSize: options.batchSize,
      rng,
      resume: options.resume,
      label: `ActivationsStore(${options.model.name}, ${options.dataset.description})`,
      log: options.log ?? console.log,
    });
    this.maxQueued = Math.max(1, Math.floor(this.buffer.capacity / options.batchSize));
  }

  /** Shuffled batches of several hooks, row-aligned, from an activation cache written by harvestToCache with hookPoints. */
  static fromCache(directory: string, options: CachedMultiHookStoreOptions): Promise<CachedMultiHookActivationsStore> {
    return CachedMultiHookActivationsStore.open(directory, options);
  }

  /** Bytes of one activation buffer (two exist while the next one fills). */
  get bufferBytes(): number {
    return this.buffer.bufferBytes;
  }

  activationSize(hook: string): number {
    const size = this.sizes.get(hook);
    if (size === undefined) throw new ConfigError(`This store harvests ${this.hookPoints.join(', ')}; it has no hook '${hook}'.`);
    return size;
  }

  /** The next batch of every hook, the same rows for each. */
  nextBatches(): Promise<Record<string, Float32Array>> {
    return this.buffer.nextBatches();
  }

  /** The same as `nextBatches()`: a trainer's source of batches keyed by hook (a transcoder's input and target, a CLT's layers). */
  nextBatch(): Promise<Record<string, Float32Array>> {
    return this.nextBatches();
  }

  /** Batches served so far and where to rebuild the current buffer; pass it as `resume` to continue. */
  position(): StorePosition {
    return this.buffer.position();
  }

  /** Whether the next buffer is already being filled (harvesting overlaps consumption). */
  get prefetching(): boolean {
    return this.buffer.prefetching;
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
          `forHook('${lagging.hook}') is ${lagging.queue.length} batches behind the other hooks' sources; ` +
            'take one batch from every forHook source per step, or use nextBatches().',
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
