import type { HookBatchSource } from './activation-source.js';
import { CachedActivationsStore, type CachedActivationsStoreOptions } from './cached-activations-store.js';
import { MultiHookActivationsStore, type StorePosition, type StoreSettings } from './multi-hook-activations-store.js';
import type { StoreFootprint } from './store-footprint.js';

export interface ActivationsStoreOptions extends StoreSettings {
  /** The hook whose activations are served (`hook_point`), e.g. `blocks.2.hook_resid_pre`. */
  readonly hookPoint: string;
}

/**
 * The reference's ActivationsStore: packs the dataset into model batches,
 * runs the model only up to the block `hookPoint` needs, keeps
 * `batchesInBuffer` model batches of activations, shuffles them with the
 * seeded RNG and serves `batchSize` rows per `nextBatch()`, refilling when
 * the buffer is used up (the next buffer is harvested while this one is
 * served). For several hooks from one model run, see MultiHookActivationsStore.
 */
export class ActivationsStore implements HookBatchSource {
  readonly hook: string;
  readonly activationSize: number;
  readonly batchSize: number;
  private readonly store: MultiHookActivationsStore;

  constructor(options: ActivationsStoreOptions) {
    this.store = new MultiHookActivationsStore({ ...options, hookPoints: [options.hookPoint] });
    this.hook = options.hookPoint;
    this.activationSize = this.store.activationSize(options.hookPoint);
    this.batchSize = options.batchSize;
  }

  /** Shuffled batches from an activation cache written by harvestToCache (`hook` picks one hook of a cache of several). */
  static fromCache(directory: string, options: CachedActivationsStoreOptions & { readonly hook?: string }): Promise<CachedActivationsStore> {
    return CachedActivationsStore.open(directory, options);
  }

  /** Bytes of one activation buffer (two exist while the next one fills). */
  get bufferBytes(): number {
    return this.store.bufferBytes;
  }

  /** The most the store holds, by part. */
  get footprint(): StoreFootprint {
    return this.store.footprint;
  }

  /** Whether the next buffer is already being filled. */
  get prefetching(): boolean {
    return this.store.prefetching;
  }

  async nextBatch(): Promise<Float32Array> {
    return (await this.store.nextBatches())[this.hook];
  }

  /** Continues at batch `batchIndex`, from its recorded `position()` when given (one buffer harvested again) or by serving and dropping batches. */
  seek(batchIndex: number, position?: unknown): Promise<void> {
    return this.store.seek(batchIndex, position);
  }

  /** `position()`, for checkpoints: the trainer records it and passes it back to `seek` on resume. */
  resumePosition(): StorePosition {
    return this.position();
  }

  /** Batches served, the dataset position and RNG state of the current buffer, and rows served from it; pass as `resume`, or to `seek`. */
  position(): StorePosition {
    return this.store.position();
  }
}
