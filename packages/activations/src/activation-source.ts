/** Batches of activations at one hook, as a trainer consumes them. */
export interface ActivationSource {
  readonly hook: string;
  /** Floats per row. */
  readonly activationSize: number;
  /** Rows per batch. */
  readonly batchSize: number;
  /** The next `batchSize` rows, [batchSize, activationSize] row-major. */
  nextBatch(): Promise<Float32Array>;
}
