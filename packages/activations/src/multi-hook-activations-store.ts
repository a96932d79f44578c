import { ConfigError, Rng } from '@nnd/core';
import type { ActivationHarvester } from './activation-harvester.js';
import { CachedMultiHookActivationsStore, type CachedMultiHookStoreOptions } from './cached-activations-store.js';
import type { HookBatchSource } from './activation-source.js';
import type { DocumentSource } from './dataset-document.js';
import { DatasetError } from './dataset-error.js';
import { createHarvester, type HarvestSettings } from './harvest-settings.js';
import { ShuffleBuffer, formatBytes, type BufferPosition, type RowChunkProducer } from './shuffle-buffer.js';
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
      return new DatasetError(`Dataset ${dataset.description} ran out at document ${document} (pass ${epoch + 1}); ` + 'pass repeatDataset: true to go through it again, or use a larger dataset.');
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
  private buffer: ShuffleBuffer<DatasetPosition>;
  private readonly sizes = new Map<string, number>();
  private readonly sources = new Map<string, QueuedHookSource>();
  private readonly maxQueued: number;
  /** The most the store holds, by part, as its log line states it. */
  readonly footprint!: StoreFootprint;
  private readonly label: string;

  constructor(private readonly options: MultiHookActivationsStoreOptions) {
    this.label = `ActivationsStore(${options.model.name}, ${options.dataset.description})`;
    const log = options.log ?? console.log;
    this.buffer = this.openBuffer(options.resume, log);
    this.hookPoints = [...this.sizes.keys()];
    this.batchSize = options.batchSize;
    const { buffers, harvest, batch, total } = this.footprint;
    log(
      `${this.label} holds at most ${formatBytes(total)}: ` +
        `two buffers ${formatBytes(buffers)}, the model batches in flight ${formatBytes(harvest)}, the batch being served ${formatBytes(batch)}` +
        `${options.maxBytes === undefined ? '' : ` (limit ${formatBytes(options.maxBytes)})`}.`,
    );
    this.maxQueued = Math.max(1, Math.floor(this.buffer.capacity / options.batchSize));
  }

  /** A harvester and a shuffle buffer that continue from `resume` (or start at the dataset's beginning). */
  private openBuffer(resume: StorePosition | undefined, log: (message: string) => void): ShuffleBuffer<DatasetPosition> {
    const { options } = this;
    const harvester = createHarvester(options, options.hookPoints, resume?.buffer.source);
    harvester.hooks.forEach((hook, index) => this.sizes.set(hook, harvester.sizes[index]));
    // The footprint is fitted once, when the store opens; a seek reopens the buffer at the same size.
    (this as { footprint: StoreFootprint }).footprint ??= fitFootprint(options, harvester);
    return new ShuffleBuffer({
      producer: harvestProducer(harvester, options.dataset),
      hooks: harvester.hooks.map((name, index) => ({ name, size: harvester.sizes[index] })),
      chunksPerBuffer: this.footprint.batchesInBuffer,
      maxRowsPerChunk: harvester.maxRows,
      batchSize: options.batchSize,
      rng: new Rng(resume?.buffer.rng ?? options.seed),
      resume,
      label: this.label,
      log,
    });
  }

  /**
   * Continues at batch `batchIndex`: from `position` (what `position()` gave
   * after that many batches, e.g. from a checkpoint) the store harvests only
   * the buffer that batch lies in, from its recorded dataset position and
   * RNG state, and skips the rows already served from it; the batches are
   * the ones an uninterrupted store serves. Without a position it serves
   * and drops batches up to `batchIndex`, running the model for all of them.
   */
  async seek(batchIndex: number, position?: unknown): Promise<void> {
    if (!Number.isSafeInteger(batchIndex) || batchIndex < 0) throw new ConfigError(`${this.label}: seek needs a batch index >= 0, got ${batchIndex}.`);
    if (this.sources.size > 0) throw new ConfigError(`${this.label}: seek before taking forHook sources; their queues would mix positions.`);
    if (position !== undefined) {
      const resume = parseStorePosition(position, `${this.label}.seek(${batchIndex})`);
      if (resume.batchesServed !== batchIndex) {
        throw new ConfigError(`${this.label}: the recorded position is after ${resume.batchesServed} batches, not ${batchIndex}; pass the position recorded with that batch count.`);
      }
      const { epoch, document, token } = resume.buffer.source;
      (this.options.log ?? console.log)(
        `${this.label}: continuing at batch ${batchIndex} from document ${document} (pass ${epoch + 1}), token ${token}, row ${resume.rowOffset} of that buffer; one buffer is harvested again.`,
      );
      this.buffer = this.openBuffer(resume, () => undefined);
      return;
    }
    const served = this.buffer.position().batchesServed;
    if (served > batchIndex) throw new ConfigError(`${this.label}: ${served} batches were served already, so seek(${batchIndex}) cannot go back without a recorded position.`);
    for (let index = served; index < batchIndex; index++) await this.nextBatches();
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

  /** `position()`, for checkpoints: the trainer records it and passes it back to `seek` on resume. */
  resumePosition(): StorePosition {
    return this.position();
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
          `forHook('${lagging.hook}') is ${lagging.queue.length} batches behind the other hooks' sources; ` + 'take one batch from every forHook source per step, or use nextBatches().',
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
