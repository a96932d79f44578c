import { ConfigError } from '@nnd/core';
import { describe, expect, it } from 'vitest';
import { ActivationsStore, type ActivationsStoreOptions } from './activations-store.js';
import { DatasetError } from './dataset-error.js';
import { MultiHookActivationsStore } from './multi-hook-activations-store.js';
import { BYTE_BOS, FakeModel, byteTokenizer, memorySource, numberedTexts, rowKeys } from './test-fixtures.test-support.js';

const HOOK = 'blocks.0.hook_resid_pre';
const OTHER_HOOK = 'blocks.1.hook_resid_pre';
const ticks = async (count = 20) => {
  for (let index = 0; index < count; index++) await new Promise((resolve) => setImmediate(resolve));
};

/** 2 x 8 tokens per model run, 4 runs per buffer: 64 rows a buffer, 4 batches of 16. */
function storeOptions(model: FakeModel, overrides: Partial<ActivationsStoreOptions> = {}): ActivationsStoreOptions {
  return {
    model,
    dataset: memorySource(numberedTexts(400)),
    hookPoint: HOOK,
    sequenceLength: 8,
    modelBatchSize: 2,
    batchesInBuffer: 4,
    batchSize: 16,
    seed: 1,
    log: () => undefined,
    ...overrides,
  };
}

/** Every position of the given model runs, as rowKeys names them. */
function positionsOf(model: FakeModel, calls: readonly number[]): string[] {
  return calls.flatMap((call) => Array.from({ length: 16 }, (_, position) => `${model.batchIds[call]}:${position}`));
}

async function serve(store: { nextBatch(): Promise<Float32Array> }, count: number): Promise<Float32Array[]> {
  const batches: Float32Array[] = [];
  for (let index = 0; index < count; index++) batches.push(await store.nextBatch());
  return batches;
}

describe('ActivationsStore', () => {
  it('serves every activation of a buffer exactly once, shuffled, then refills', async () => {
    const model = new FakeModel();
    const store = new ActivationsStore(storeOptions(model));
    expect(store.activationSize).toBe(3);
    const first = (await serve(store, 4)).flatMap((batch) => rowKeys(batch));
    expect(new Set(model.batchIds).size).toBe(model.batchIds.length);
    expect([...first].sort()).toEqual(positionsOf(model, [0, 1, 2, 3]).sort());
    expect(first).not.toEqual(positionsOf(model, [0, 1, 2, 3]));
    const second = (await serve(store, 4)).flatMap((batch) => rowKeys(batch));
    expect([...second].sort()).toEqual(positionsOf(model, [4, 5, 6, 7]).sort());
    // Two buffers served; the third is being harvested already, and no more.
    expect(model.calls).toBeGreaterThanOrEqual(8);
    expect(model.calls).toBeLessThanOrEqual(12);
  });

  it("completes a buffer's last partial batch from the next buffer, so batches are full and no row repeats or goes missing", async () => {
    const model = new FakeModel();
    const store = new ActivationsStore(storeOptions(model, { batchSize: 24 }));
    const batches = await serve(store, 8);
    expect(batches.every((batch) => batch.length === 24 * 3)).toBe(true);
    // 8 x 24 = 192 rows = three buffers of 64.
    expect(batches.flatMap((batch) => rowKeys(batch)).sort()).toEqual(
      positionsOf(
        model,
        Array.from({ length: 12 }, (_, call) => call),
      ).sort(),
    );
  });

  it('is deterministic for a seed, and another seed shuffles differently', async () => {
    const run = async (seed: number) => (await serve(new ActivationsStore(storeOptions(new FakeModel(), { seed })), 6)).map((batch) => Array.from(batch));
    const first = await run(7);
    expect(await run(7)).toEqual(first);
    expect(await run(8)).not.toEqual(first);
  });

  it('requests the next buffer from the model while the current one is still being served', async () => {
    const model = new FakeModel();
    const store = new ActivationsStore(storeOptions(model));
    expect(store.prefetching).toBe(false);
    await store.nextBatch();
    // One of four batches served, and the model is already running for the second buffer.
    await ticks();
    expect(store.prefetching).toBe(true);
    expect(model.calls).toBe(8);
    expect(store.position().batchesServed).toBe(1);
  });

  it('drops BOS and other special-token positions when asked', async () => {
    const model = new FakeModel();
    const store = new ActivationsStore(storeOptions(model, { excludeSpecialTokens: true, batchSize: 8 }));
    const served = (await serve(store, 12)).flatMap((batch) => rowKeys(batch));
    const tokensOf = (batch: Float32Array) => Array.from({ length: batch.length / 3 }, (_, row) => batch[row * 3 + 2]);
    const servedTokens = (await serve(store, 4)).flatMap(tokensOf);
    expect(servedTokens).not.toContain(BYTE_BOS);
    // Every kept position of the first runs is served once; BOS positions never.
    const kept: string[] = [];
    const dropped: string[] = [];
    model.tokens.forEach((tokens, call) => tokens.forEach((token, position) => (token === BigInt(BYTE_BOS) ? dropped : kept).push(`${model.batchIds[call]}:${position}`)));
    expect(dropped.length).toBeGreaterThan(0);
    expect(new Set(served).size).toBe(served.length);
    expect(served.every((key) => kept.includes(key))).toBe(true);
    expect(served.some((key) => dropped.includes(key))).toBe(false);
  });

  it('resumes from position() with the same batches as a run that never stopped', async () => {
    const options = storeOptions(new FakeModel(), { batchSize: 24, keepRemainder: true });
    const uninterrupted = new ActivationsStore(options);
    await serve(uninterrupted, 5);
    const position = JSON.parse(JSON.stringify(uninterrupted.position()));
    expect(position.batchesServed).toBe(5);
    expect(position.rowOffset).toBeGreaterThan(0);
    const expected = (await serve(uninterrupted, 6)).map((batch) => Array.from(batch));
    const resumed = new ActivationsStore({ ...options, model: new FakeModel(), resume: position });
    expect((await serve(resumed, 6)).map((batch) => Array.from(batch))).toEqual(expected);
    expect(resumed.position().batchesServed).toBe(11);
  });

  it('seeks to a recorded position (as a checkpoint holds it), running the model for one buffer instead of every batch before', async () => {
    const options = storeOptions(new FakeModel(), { batchSize: 24, keepRemainder: true });
    const uninterrupted = new ActivationsStore(options);
    await serve(uninterrupted, 9);
    const position = JSON.parse(JSON.stringify(uninterrupted.resumePosition()));
    const expected = (await serve(uninterrupted, 6)).map((batch) => Array.from(batch));

    const model = new FakeModel();
    const lines: string[] = [];
    const resumed = new ActivationsStore({ ...options, model, log: (line) => lines.push(line) });
    await resumed.seek(9, position);
    expect(model.calls).toBe(0);
    const first = await resumed.nextBatch();
    // One buffer (4 model runs), and the next one prefetched: not the 9 batches' worth (~14 runs) before it.
    await ticks();
    expect(model.calls).toBeLessThanOrEqual(2 * options.batchesInBuffer);
    expect([Array.from(first), ...(await serve(resumed, 5)).map((batch) => Array.from(batch))]).toEqual(expected);
    expect(resumed.position().batchesServed).toBe(15);
    expect(lines.at(-1)).toMatch(/continuing at batch 9 from document \d+ \(pass 1\), token \d+, row \d+ of that buffer/);

    // Without a position, seek serves and drops the batches: the same batches, the model run for all of them.
    const replayModel = new FakeModel();
    const replayed = new ActivationsStore({ ...options, model: replayModel });
    await replayed.seek(9);
    expect((await serve(replayed, 6)).map((batch) => Array.from(batch))).toEqual(expected);
    expect(replayModel.calls).toBeGreaterThan(model.calls);
  });

  it('refuses a recorded position that is malformed or belongs to another batch count', async () => {
    const options = storeOptions(new FakeModel(), { batchSize: 24 });
    const store = new ActivationsStore(options);
    await serve(store, 3);
    const position = JSON.parse(JSON.stringify(store.resumePosition()));
    const fresh = () => new ActivationsStore({ ...options, model: new FakeModel() });
    await expect(fresh().seek(4, position)).rejects.toThrow(/the recorded position is after 3 batches, not 4/);
    await expect(fresh().seek(3, { ...position, rowOffset: -1 })).rejects.toThrow(ConfigError);
    await expect(fresh().seek(3, { ...position, buffer: { ...position.buffer, rng: { algorithm: 'mt', words: [1] } } })).rejects.toThrow(/has RNG state/);
    await expect(fresh().seek(3, 'step 3')).rejects.toThrow(/not an object/);
    await expect(store.seek(1)).rejects.toThrow(/3 batches were served already/);
  });

  it('logs the buffer size in bytes and caps the sequence length at the model context', async () => {
    const lines: string[] = [];
    const store = new ActivationsStore(storeOptions(new FakeModel(8), { sequenceLength: 32, log: (line) => lines.push(line) }));
    // 4 runs x 2 x 8 positions x 3 floats x 4 bytes.
    expect(store.bufferBytes).toBe(768);
    expect(lines.join('\n')).toMatch(/sequenceLength 32 exceeds fake's context of 8; using 8/);
    expect(lines.join('\n')).toMatch(/buffer of 64 rows \(4 x 16\) x float32 \[blocks\.0\.hook_resid_pre 3\] = 768 B; .* up to 1\.5 KiB/);
  });

  it('reports an exhausted dataset, or goes round again with repeatDataset', async () => {
    const small = memorySource(numberedTexts(3));
    const store = new ActivationsStore(storeOptions(new FakeModel(), { dataset: small }));
    // 3 documents of about 40 tokens fill 7 model runs of 16 tokens, dropping each run's remainder.
    await expect(serve(store, 10)).rejects.toThrow(DatasetError);
    await expect(store.nextBatch()).rejects.toThrow(/ran out at document 3 \(pass 1\); pass repeatDataset: true/);
    const repeating = new ActivationsStore(storeOptions(new FakeModel(), { dataset: small, repeatDataset: true }));
    await serve(repeating, 10);
    expect(repeating.position().buffer.source.epoch).toBeGreaterThan(0);
  });

  it('rejects bad settings with the field named', () => {
    expect(() => new ActivationsStore(storeOptions(new FakeModel(), { batchSize: 0 }))).toThrow(/batchSize must be a positive integer/);
    expect(() => new ActivationsStore(storeOptions(new FakeModel(), { modelBatchSize: 1.5 }))).toThrow(ConfigError);
    expect(() => new ActivationsStore(storeOptions(new FakeModel(), { hookPoint: 'blocks.9.hook_resid_pre' }))).toThrow(/no hook/);
    expect(() => new ActivationsStore(storeOptions(new FakeModel(64, byteTokenizer({ bos: undefined, special: [] })), { excludeSpecialTokens: true, prependBos: false }))).toThrow(/special token ids/);
  });
});

describe('MultiHookActivationsStore', () => {
  const multiOptions = (model: FakeModel) => ({ ...storeOptions(model), hookPoints: [HOOK, OTHER_HOOK] });

  it('harvests several hooks in one model run and serves the same rows for each', async () => {
    const model = new FakeModel();
    const store = new MultiHookActivationsStore(multiOptions(model));
    const batches = await store.nextBatches();
    expect(model.requestedHooks.every((hooks) => hooks.join() === [HOOK, OTHER_HOOK].join())).toBe(true);
    expect(rowKeys(batches[HOOK])).toEqual(rowKeys(batches[OTHER_HOOK]));
    for (let row = 0; row < 16; row++) expect(batches[OTHER_HOOK][row * 3 + 2] - batches[HOOK][row * 3 + 2]).toBe(1000);
    expect(store.bufferBytes).toBe(2 * 768);
  });

  it('gives each hook a source; sources consumed in lockstep see the batches nextBatches would give', async () => {
    const reference = new MultiHookActivationsStore(multiOptions(new FakeModel()));
    const store = new MultiHookActivationsStore(multiOptions(new FakeModel()));
    const first = store.forHook(HOOK);
    const second = store.forHook(OTHER_HOOK);
    expect(store.forHook(HOOK)).toBe(first);
    expect(second.activationSize).toBe(3);
    for (let step = 0; step < 6; step++) {
      const expected = await reference.nextBatches();
      expect(Array.from(await second.nextBatch())).toEqual(Array.from(expected[OTHER_HOOK]));
      expect(Array.from(await first.nextBatch())).toEqual(Array.from(expected[HOOK]));
    }
  });

  it('refuses to let one source fall more than a buffer behind', async () => {
    const store = new MultiHookActivationsStore(multiOptions(new FakeModel()));
    const first = store.forHook(HOOK);
    store.forHook(OTHER_HOOK);
    await serve(first, 4);
    await expect(first.nextBatch()).rejects.toThrow(/forHook\('blocks\.1\.hook_resid_pre'\) is 4 batches behind/);
    expect(() => store.forHook('blocks.5.hook_resid_pre')).toThrow(ConfigError);
  });
});
