import type { DeviceTensor } from './backend.js';

/**
 * One stream's rows: [batch_size, width] float32, row-major, on the host or
 * already on the backend's device; a BigInt64Array for an int64 stream
 * (token ids, see ActivationPort.dtype).
 */
export type StreamBatch = Float32Array | BigInt64Array | DeviceTensor;

/**
 * A training batch: one tensor per stream, keyed by hook, with row i of every
 * stream from the same token (a transcoder's input and target, a CLT's
 * layers). A lone tensor stands for the one stream of a run whose
 * decompositions all read and write a single hook (an SAE's).
 */
export type ActivationBatch = StreamBatch | Readonly<Record<string, StreamBatch>>;

/**
 * Where training batches come from, the one interface between the stores of
 * @nnd/activations (or any other source) and the trainer of @nnd/train:
 * each call returns the next batch.
 *
 * Resuming: the trainer counts the batches it consumed and stores the count
 * in the checkpoint (`batches_consumed` in trainer_state.json). On resume it
 * calls `seek(batchesConsumed)` when the source has it; otherwise it reads and
 * discards that many batches, which is correct for any deterministic source
 * but slow for long runs. A source is resumable when batch n depends only on
 * n (e.g. seeded by position), not on the wall clock or on an unseeded
 * shuffle.
 */
export interface ActivationSource {
  nextBatch(): Promise<ActivationBatch>;
  /** Positions the source so that the next `nextBatch()` returns batch `batchIndex` (0-based). */
  seek?(batchIndex: number): void | Promise<void>;
}
