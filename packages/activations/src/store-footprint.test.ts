import { ConfigError, type HostTensor } from '@nnd/core';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { MultiHookActivationsStore, type MultiHookActivationsStoreOptions } from './multi-hook-activations-store.js';
import { fitStoreFootprint, storeFootprint } from './store-footprint.js';
import { FakeModel, byteTokenizer, memorySource, numberedTexts } from './test-fixtures.test-support.js';

// A full collection before each measurement, so that what is measured is what the store still holds, not garbage.
setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;
/** ArrayBuffers of the test runner itself (its messages, the packer's token ids) that come and go: far below one model batch (1.5 MiB), so a store holding one more than it says still fails. */
const NOISE = 64 * 1024;
const heldBytes = () => {
  collectGarbage();
  return process.memoryUsage().arrayBuffers;
};

/** 6 layers of a CLT on a 128-wide model: 12 streams of one model run, as the store gets them for a CLT. */
const HOOKS = Array.from({ length: 6 }, (_, layer) => [`blocks.${layer}.ln2.hook_normalized`, `blocks.${layer}.hook_mlp_out`]).flat();
const WIDTH = 128;

/** A fake model that measures what the store holds at the moment it is asked for the next model batch (a buffer served, the next one filling). */
class MeasuringModel extends FakeModel {
  readonly samples: number[] = [];

  constructor() {
    super(64, byteTokenizer(), WIDTH, HOOKS);
  }

  override async harvest(tokens: HostTensor<'int64'>, hooks: readonly string[]): Promise<Record<string, Float32Array>> {
    const result = await super.harvest(tokens, hooks);
    this.tokens.length = 0;
    this.samples.push(heldBytes());
    return result;
  }
}

function options(model: FakeModel, overrides: Partial<MultiHookActivationsStoreOptions> = {}): MultiHookActivationsStoreOptions {
  // 8 sequences of 32 tokens per model run: 256 rows of 12 x 128 floats (1.5 MiB) per model batch.
  return {
    model,
    dataset: memorySource(numberedTexts(3000, 60)),
    hookPoints: HOOKS,
    sequenceLength: 32,
    modelBatchSize: 8,
    batchesInBuffer: 6,
    batchSize: 128,
    seed: 2,
    repeatDataset: true,
    log: () => undefined,
    ...overrides,
  };
}

describe('the activation store of a run with many streams', () => {
  it('prints its footprint by part, and never holds more than it says while it harvests and serves several buffers', async () => {
    const model = new MeasuringModel();
    const lines: string[] = [];
    const before = heldBytes();
    const store = new MultiHookActivationsStore(options(model, { log: (line) => lines.push(line) }));
    const { footprint } = store;
    const rowBytes = HOOKS.length * WIDTH * 4;
    expect(footprint).toEqual({
      batchesInBuffer: 6,
      buffers: 2 * 6 * 256 * (rowBytes + 4),
      harvest: 2 * 256 * (rowBytes + 8),
      batch: 128 * rowBytes,
      total: footprint.buffers + footprint.harvest + footprint.batch,
    });
    expect(lines.join('\n')).toMatch(/holds at most 21\.8 MiB: two buffers 18\.0 MiB, the model batches in flight 3\.0 MiB, the batch being served 768\.0 KiB\./);
    // Four buffers of 12 batches: the store fills the third and fourth while serving.
    for (let batch = 0; batch < 48; batch++) {
      await store.nextBatches();
      model.samples.push(heldBytes());
    }
    const most = Math.max(...model.samples) - before;
    expect(model.calls).toBeGreaterThanOrEqual(4 * 6);
    expect(most).toBeLessThanOrEqual(footprint.total + NOISE);
    // And the statement is not a loose bound: the store does hold its two buffers.
    expect(most).toBeGreaterThan(footprint.buffers);
  });

  it('puts fewer model batches in a buffer to stay within maxBytes, and refuses a limit that not one model batch fits', async () => {
    const lines: string[] = [];
    const model = new MeasuringModel();
    const before = heldBytes();
    const limited = new MultiHookActivationsStore(options(model, { maxBytes: 10 * 2 ** 20, log: (line) => lines.push(line) }));
    expect(limited.footprint.batchesInBuffer).toBe(2);
    expect(limited.footprint.total).toBeLessThanOrEqual(10 * 2 ** 20);
    expect(lines.join('\n')).toMatch(
      /6 model batches per buffer \(12 streams of 1536 floats in all per token\) would take 21\.8 MiB, over the limit of 10\.0 MiB; using 2 per buffer \(512 tokens shuffled together\)/,
    );
    for (let batch = 0; batch < 16; batch++) {
      await limited.nextBatches();
      model.samples.push(heldBytes());
    }
    expect(Math.max(...model.samples) - before).toBeLessThanOrEqual(limited.footprint.total + NOISE);

    expect(() => new MultiHookActivationsStore(options(new FakeModel(64, byteTokenizer(), WIDTH, HOOKS), { maxBytes: 4 * 2 ** 20 }))).toThrow(ConfigError);
    expect(() => new MultiHookActivationsStore(options(new FakeModel(64, byteTokenizer(), WIDTH, HOOKS), { maxBytes: 4 * 2 ** 20 }))).toThrow(
      /needs at least 6\.8 MiB \(two buffers of one model batch of 256 tokens, 12 streams of 1536 floats in all per token, 3\.0 MiB; .*\), more than its limit of 4\.0 MiB\. Raise the limit, or lower model_batch_size or seq_len/,
    );
  });

  it('counts the copy without special tokens when they are dropped', async () => {
    const model = new MeasuringModel();
    const before = heldBytes();
    const store = new MultiHookActivationsStore(options(model, { excludeSpecialTokens: true }));
    for (let batch = 0; batch < 40; batch++) {
      await store.nextBatches();
      model.samples.push(heldBytes());
    }
    expect(Math.max(...model.samples) - before).toBeLessThanOrEqual(store.footprint.total + NOISE);
    const shape = { rowsPerModelBatch: 100, floatsPerRow: 10, batchSize: 10, excludesTokens: false };
    expect(storeFootprint({ ...shape, excludesTokens: true }, 3).harvest).toBe(1.5 * storeFootprint(shape, 3).harvest);
  });

  it('at GPT-2 small with a CLT on all 12 layers (24 streams of 768 floats a token) fits the default 6 GiB with small model batches, and names the fix for large ones', () => {
    const lines: string[] = [];
    const gib = 2 ** 30;
    const shape = (modelBatchSize: number) => ({ rowsPerModelBatch: modelBatchSize * 128, floatsPerRow: 24 * 768, batchSize: 4096, excludesTokens: false });
    const fitted = fitStoreFootprint(shape(32), 10, 6 * gib, 24, (line) => lines.push(line));
    expect(fitted.batchesInBuffer).toBe(9);
    expect(fitted.total).toBeLessThanOrEqual(6 * gib);
    expect(lines.join('\n')).toMatch(
      /10 model batches per buffer \(24 streams of 18432 floats in all per token\) would take 6\.5 GiB, over the limit of 6\.0 GiB; using 9 per buffer \(36864 tokens shuffled together\)/,
    );
    // The reference's model_batch_size 512: one model batch of 65536 tokens is 4.5 GiB, and the store needs two buffers and the batches in flight.
    expect(() => fitStoreFootprint(shape(512), 10, 6 * gib, 24, () => undefined)).toThrow(
      /needs at least 18\.3 GiB .* more than its limit of 6\.0 GiB\. Raise the limit, or lower model_batch_size or seq_len/,
    );
  });
});
