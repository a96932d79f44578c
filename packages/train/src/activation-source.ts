import { hostTensor, isDeviceTensor, ShapeError, type DeviceTensor, type Feed } from '@nnd/core';

/**
 * Where training batches come from: each call returns the next
 * [batch_size, act_size] float32 batch, row-major, as host data or as a
 * tensor already on the backend's device.
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
  nextBatch(): Promise<Float32Array | DeviceTensor>;
  /** Positions the source so that the next `nextBatch()` returns batch `batchIndex` (0-based). */
  seek?(batchIndex: number): void | Promise<void>;
}

/**
 * Takes the next batch and checks it: a Float32Array of batch_size x act_size
 * values becomes a host tensor (no copy); a DeviceTensor must be float32
 * [batch_size, act_size]. `actSize` is undefined for the first batch, which
 * fixes it for the run.
 */
export async function readBatch(source: ActivationSource, batchSize: number, actSize: number | undefined): Promise<Feed> {
  const batch = await source.nextBatch();
  if (batch instanceof Float32Array) {
    const width = batch.length / batchSize;
    if (!Number.isInteger(width) || width === 0 || (actSize !== undefined && width !== actSize)) {
      throw new ShapeError(`train: the source returned ${batch.length} values, which is not batch_size (${batchSize}) x act_size (${actSize ?? 'any'}).`);
    }
    return hostTensor('float32', [batchSize, width], batch);
  }
  if (typeof batch !== 'object' || batch === null || !isDeviceTensor(batch)) {
    // Reached only when a JavaScript caller breaks the declared type.
    throw new ShapeError(`train: source.nextBatch() returned ${Object.prototype.toString.call(batch)}; return a Float32Array or a DeviceTensor of shape [batch_size, act_size].`);
  }
  if (batch.dtype !== 'float32' || batch.shape.length !== 2 || batch.shape[0] !== batchSize || (actSize !== undefined && batch.shape[1] !== actSize)) {
    throw new ShapeError(`train: the source returned a ${batch.dtype} [${batch.shape.join(', ')}] batch; expected float32 [${batchSize}, ${actSize ?? 'act_size'}].`);
  }
  return batch;
}

/** Moves a source to batch `position`: `seek` when it has one, otherwise by reading and discarding batches. */
export async function seekSource(source: ActivationSource, position: number): Promise<void> {
  if (source.seek) {
    await source.seek(position);
    return;
  }
  for (let i = 0; i < position; i++) await source.nextBatch();
}
