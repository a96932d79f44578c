import { NndError, Rng } from '@nnd/core';
import { describe, expect, it } from 'vitest';
import { ShuffleBuffer, formatBytes, type RowChunk, type RowChunkProducer } from './shuffle-buffer.js';

/** Chunks of the given sizes whose rows hold their global index, one float each. */
function numberedChunks(sizes: readonly number[], options: { endsBufferAfter?: number } = {}): RowChunkProducer<number> & { requested: number } {
  let next = 0;
  let row = 0;
  const producer = {
    requested: 0,
    position: () => next,
    async next(): Promise<RowChunk | undefined> {
      producer.requested++;
      if (next >= sizes.length) return undefined;
      const rows = sizes[next];
      const values = Float32Array.from({ length: rows }, (_, index) => row + index);
      row += rows;
      next++;
      return { rows, activations: { hook: values }, endsBuffer: options.endsBufferAfter === next - 1 };
    },
    exhaustedError: () => new NndError('no more rows'),
  };
  return producer;
}

function buffer(producer: RowChunkProducer<number>, overrides: { chunksPerBuffer?: number; batchSize?: number } = {}) {
  return new ShuffleBuffer({
    producer,
    hooks: [{ name: 'hook', size: 1 }],
    chunksPerBuffer: overrides.chunksPerBuffer ?? 2,
    maxRowsPerChunk: 10,
    batchSize: overrides.batchSize ?? 4,
    rng: new Rng(0),
    label: 'test',
    log: () => undefined,
  });
}

describe('ShuffleBuffer', () => {
  it("serves each row once, completing a buffer's last batch from the next buffer, then reports the end", async () => {
    // Buffers of 3 + 4 and 5 + 2 rows: 14 rows, three full batches of 4 and 2 rows over.
    const shuffle = buffer(numberedChunks([3, 4, 5, 2]));
    const served: number[] = [];
    for (let batch = 0; batch < 3; batch++) served.push(...(await shuffle.nextBatches()).hook);
    expect(new Set(served).size).toBe(12);
    expect(served.every((row) => row >= 0 && row < 14)).toBe(true);
    // The first 7 rows (first buffer) are all served before any of the last 2 rows could be.
    expect(served.filter((row) => row < 7)).toHaveLength(7);
    await expect(shuffle.nextBatches()).rejects.toThrow('no more rows');
    await expect(shuffle.nextBatches()).rejects.toThrow('no more rows');
  });

  it('closes a buffer early at a chunk marked endsBuffer', async () => {
    const shuffle = buffer(numberedChunks([4, 4, 4], { endsBufferAfter: 0 }), { chunksPerBuffer: 3, batchSize: 4 });
    expect([...(await shuffle.nextBatches()).hook].sort()).toEqual([0, 1, 2, 3]);
    expect([...(await shuffle.nextBatches()).hook].sort()).not.toEqual([0, 1, 2, 3]);
  });

  it('starts filling the next buffer as soon as the first is ready, and records where each buffer began', async () => {
    const producer = numberedChunks([4, 4, 4, 4, 4, 4]);
    const shuffle = buffer(producer);
    expect(shuffle.position()).toMatchObject({ batchesServed: 0, buffer: { source: 0 }, rowOffset: 0 });
    await shuffle.nextBatches();
    await new Promise((resolve) => setImmediate(resolve));
    expect(producer.requested).toBe(4);
    expect(shuffle.position()).toMatchObject({ batchesServed: 1, buffer: { source: 0 }, rowOffset: 4 });
    await shuffle.nextBatches();
    await shuffle.nextBatches();
    expect(shuffle.position()).toMatchObject({ batchesServed: 3, buffer: { source: 2 }, rowOffset: 4 });
  });

  it('serves concurrent calls in order without sharing rows', async () => {
    const shuffle = buffer(numberedChunks([10, 10, 10, 10]), { batchSize: 5 });
    const batches = await Promise.all(Array.from({ length: 8 }, () => shuffle.nextBatches()));
    expect(new Set(batches.flatMap((batch) => [...batch.hook])).size).toBe(40);
  });

  it('formats byte counts', () => {
    expect(formatBytes(768)).toBe('768 B');
    expect(formatBytes(1536)).toBe('1.5 KiB');
    expect(formatBytes(3 * 1024 ** 3)).toBe('3.0 GiB');
  });
});
