import { ConfigError } from '@nnd/core';
import { formatBytes } from './shuffle-buffer.js';

/** What a store holds at most, in bytes, by part; `total` is their sum. */
export interface StoreFootprint {
  /** Model batches per buffer: batchesInBuffer, or fewer to stay within maxBytes. */
  readonly batchesInBuffer: number;
  /** Two shuffle buffers, with their shuffled order: one served while the next fills. */
  readonly buffers: number;
  /**
   * Model batches in flight: the one being harvested (the model's outputs,
   * and their copy without special tokens when those are dropped) and the
   * one before it, which the asynchronous hand-over to the buffer can keep
   * reachable until the next is ready (measured, see store-footprint.test.ts).
   */
  readonly harvest: number;
  /** The batch being served, before the caller takes it. */
  readonly batch: number;
  readonly total: number;
}

/**
 * The store's footprint for a number of model batches per buffer. The
 * model's own working memory (its weights and the activations of layers
 * between hooks) is the model's, not counted here.
 */
export function storeFootprint(
  options: { readonly rowsPerModelBatch: number; readonly floatsPerRow: number; readonly batchSize: number; readonly excludesTokens: boolean },
  batchesInBuffer: number,
): StoreFootprint {
  const { rowsPerModelBatch, floatsPerRow, batchSize, excludesTokens } = options;
  const rowBytes = floatsPerRow * Float32Array.BYTES_PER_ELEMENT;
  // Each buffer's rows and their shuffled order (one uint32 per row).
  const buffers = 2 * batchesInBuffer * rowsPerModelBatch * (rowBytes + Uint32Array.BYTES_PER_ELEMENT);
  const copies = excludesTokens ? 3 : 2;
  const harvest = rowsPerModelBatch * copies * (rowBytes + BigInt64Array.BYTES_PER_ELEMENT);
  const batch = batchSize * rowBytes;
  return { batchesInBuffer, buffers, harvest, batch, total: buffers + harvest + batch };
}

/**
 * The footprint with up to `batchesInBuffer` model batches per buffer, fewer
 * when that would exceed `maxBytes` (said in a log line); a ConfigError that
 * names the fix when not even one fits. The cache's replaying reader uses it
 * too, so a run from a cache shuffles the same buffers as without.
 */
export function fitStoreFootprint(
  shape: Parameters<typeof storeFootprint>[0],
  batchesInBuffer: number,
  maxBytes: number | undefined,
  streamCount: number,
  log: (message: string) => void,
): StoreFootprint {
  const wanted = storeFootprint(shape, batchesInBuffer);
  if (maxBytes === undefined || wanted.total <= maxBytes) return wanted;
  if (!(maxBytes > 0)) throw new ConfigError(`maxBytes must be a number of bytes > 0, got ${maxBytes}.`);
  const perBatch = storeFootprint(shape, 1).buffers;
  const fitting = Math.floor((maxBytes - wanted.harvest - wanted.batch) / perBatch);
  const streams = `${streamCount} stream${streamCount === 1 ? '' : 's'} of ${shape.floatsPerRow} floats in all per token`;
  if (fitting < 1) {
    const least = storeFootprint(shape, 1);
    throw new ConfigError(
      `The activation store needs at least ${formatBytes(least.total)} (two buffers of one model batch of ${shape.rowsPerModelBatch} tokens, ${streams}, ` +
        `${formatBytes(least.buffers)}; the model batches in flight ${formatBytes(least.harvest)}; the batch served ${formatBytes(least.batch)}), ` +
        `more than its limit of ${formatBytes(maxBytes)}. Raise the limit, or lower model_batch_size or seq_len (the tokens of one model batch).`,
    );
  }
  log(
    `ActivationsStore: ${batchesInBuffer} model batches per buffer (${streams}) would take ${formatBytes(wanted.total)}, over the limit of ` +
      `${formatBytes(maxBytes)}; using ${fitting} per buffer (${fitting * shape.rowsPerModelBatch} tokens shuffled together).`,
  );
  return storeFootprint(shape, fitting);
}
