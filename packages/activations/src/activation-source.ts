import type { ActivationSource } from '@nnd/core';

/**
 * A source of one hook's batches, as @nnd/activations' single-hook stores
 * serve them: core's ActivationSource (what the trainer consumes) with the
 * hook, its width and the batch size known up front.
 */
export interface HookBatchSource extends ActivationSource {
  readonly hook: string;
  /** Floats per row. */
  readonly activationSize: number;
  /** Rows per batch. */
  readonly batchSize: number;
  /** The next `batchSize` rows, [batchSize, activationSize] row-major. */
  nextBatch(): Promise<Float32Array>;
}
