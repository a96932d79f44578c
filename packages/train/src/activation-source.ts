import { ConfigError, hostTensor, isDeviceTensor, ShapeError, type ActivationBatch, type ActivationPort, type ActivationSource, type DeviceTensor, type Feed, type StreamBatch } from '@nnd/core';

// The source contract lives in @nnd/core, where @nnd/activations' stores implement it too.
export type { ActivationBatch, ActivationSource, StreamBatch };

/**
 * Takes the next batch and checks it against the streams the run needs: a
 * Float32Array of batch_size x width values becomes a host tensor (no copy);
 * a DeviceTensor must be float32 [batch_size, width]. Extra streams in a
 * keyed batch are ignored, so one source can feed several runs.
 */
export async function readBatch(source: ActivationSource, batchSize: number, streams: readonly ActivationPort[]): Promise<Record<string, Feed>> {
  const batch = await source.nextBatch();
  if (isStreamBatch(batch)) {
    if (streams.length !== 1) {
      throw new ConfigError(
        `train: the source returned one tensor, but the decompositions read and write ${streams.length} streams (${streams.map(({ hook }) => hook).join(', ')}); ` +
          'return an object with one [batch_size, width] tensor per hook.',
      );
    }
    return { [streams[0].hook]: checkStream(batch, batchSize, streams[0]) };
  }
  if (typeof batch !== 'object' || batch === null) {
    // Reached only when a JavaScript caller breaks the declared type.
    throw new ShapeError(`train: source.nextBatch() returned ${Object.prototype.toString.call(batch)}; return a Float32Array, a DeviceTensor, or an object of them keyed by hook.`);
  }
  const feeds: Record<string, Feed> = {};
  for (const stream of streams) {
    const rows = (batch as Readonly<Record<string, StreamBatch>>)[stream.hook];
    if (rows === undefined) {
      throw new ConfigError(
        `train: the source's batch has no '${stream.hook}' (it has ${
          Object.keys(batch)
            .map((hook) => `'${hook}'`)
            .join(', ') || 'nothing'
        }); a decomposition of the run reads or writes it.`,
      );
    }
    feeds[stream.hook] = checkStream(rows, batchSize, stream);
  }
  return feeds;
}

function isStreamBatch(batch: ActivationBatch): batch is StreamBatch {
  return batch instanceof Float32Array || batch instanceof BigInt64Array || (typeof batch === 'object' && batch !== null && isDeviceTensor(batch as DeviceTensor));
}

function checkStream(rows: StreamBatch, batchSize: number, { hook, width, dtype = 'float32' }: ActivationPort): Feed {
  if (dtype === 'int64' || rows instanceof BigInt64Array) {
    // Token ids: an int64 stream takes a BigInt64Array of batch_size x seq ids, and only that.
    if (!(rows instanceof BigInt64Array) || dtype !== 'int64') {
      throw new ShapeError(
        `train: the source returned ${Object.prototype.toString.call(rows)} for '${hook}', which is a ${dtype} stream; ` +
          `return ${dtype === 'int64' ? 'a BigInt64Array of token ids' : 'a Float32Array or a DeviceTensor'} of batch_size x width values.`,
      );
    }
    if (rows.length !== batchSize * width) {
      throw new ShapeError(`train: the source returned ${rows.length} token ids for '${hook}', which is not batch_size (${batchSize}) x width (${width}).`);
    }
    return hostTensor('int64', [batchSize, width], rows);
  }
  if (rows instanceof Float32Array) {
    if (rows.length !== batchSize * width) {
      throw new ShapeError(`train: the source returned ${rows.length} values for '${hook}', which is not batch_size (${batchSize}) x width (${width}).`);
    }
    return hostTensor('float32', [batchSize, width], rows);
  }
  if (typeof rows !== 'object' || rows === null || !isDeviceTensor(rows)) {
    throw new ShapeError(`train: the source returned ${Object.prototype.toString.call(rows)} for '${hook}'; return a Float32Array or a DeviceTensor of shape [batch_size, width].`);
  }
  if (rows.dtype !== 'float32' || rows.shape.length !== 2 || rows.shape[0] !== batchSize || rows.shape[1] !== width) {
    throw new ShapeError(`train: the source returned a ${rows.dtype} [${rows.shape.join(', ')}] batch for '${hook}'; expected float32 [${batchSize}, ${width}].`);
  }
  return rows;
}

/**
 * Moves a source to batch `batchIndex`: `seek` when it has one (with the
 * source's recorded position, if the checkpoint holds one), otherwise by
 * reading and discarding batches.
 */
export async function seekSource(source: ActivationSource, batchIndex: number, position?: unknown): Promise<void> {
  if (source.seek) {
    await source.seek(batchIndex, position);
    return;
  }
  for (let i = 0; i < batchIndex; i++) await source.nextBatch();
}
