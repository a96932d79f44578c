import { CachedActivationsStore, type CachedActivationsStoreOptions } from './cached-activations-store.js';
import { MultiHookActivationsStore, type StoreSettings } from './multi-hook-activations-store.js';
import { OneHookStore } from './shuffled-store.js';
import type { StoreFootprint } from './store-footprint.js';
import type { DatasetPosition } from './token-packer.js';

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
export class ActivationsStore extends OneHookStore<DatasetPosition> {
  declare protected readonly store: MultiHookActivationsStore;

  constructor(options: ActivationsStoreOptions) {
    super(new MultiHookActivationsStore({ ...options, hookPoints: [options.hookPoint] }), options.hookPoint);
  }

  /** Shuffled batches from an activation cache written by harvestToCache (`hook` picks one hook of a cache of several). */
  static fromCache(directory: string, options: CachedActivationsStoreOptions & { readonly hook?: string }): Promise<CachedActivationsStore> {
    return CachedActivationsStore.open(directory, options);
  }

  /** The most the store holds, by part. */
  get footprint(): StoreFootprint {
    return this.store.footprint;
  }
}
