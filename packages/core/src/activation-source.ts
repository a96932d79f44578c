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
 * in the checkpoint (`batches_consumed` in trainer_state.json), with the
 * source's own `resumePosition()` when it has one (`source_position`). On resume it
 * calls `seek(batchesConsumed, position)` when the source has `seek`, so a
 * store can continue from the recorded position without recomputing what
 * came before; otherwise it reads and discards that many batches, which is
 * correct for any deterministic source but slow for long runs (a language
 * model's activations are recomputed for every batch). A source is resumable
 * when batch n depends only on n (e.g. seeded by position), not on the wall
 * clock or on an unseeded shuffle.
 */
export interface ActivationSource {
  nextBatch(): Promise<ActivationBatch>;
  /**
   * Positions the source so that the next `nextBatch()` returns batch
   * `batchIndex` (0-based). `position` is what `resumePosition()` returned after
   * `batchIndex` batches, read back from a checkpoint (JSON, untrusted: check
   * it); absent when the checkpoint has none.
   */
  seek?(batchIndex: number, position?: unknown): void | Promise<void>;
  /** Where the source stands after the batches served so far, as plain JSON that `seek` takes back. */
  resumePosition?(): unknown;
}
