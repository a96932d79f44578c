import { fromTypedArray, PathOutsideFolderError, writeSafetensors } from '@nnd/core';
import { createHash } from 'node:crypto';
import { cp, mkdtemp, open, readdir, readFile, rm, stat, symlink, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ActivationCacheError } from './activation-cache-error.js';
import { readCacheManifest, readShard, verifyActivationCache, type ActivationCacheManifest } from './activation-cache.js';
import { ActivationsStore } from './activations-store.js';
import { harvestToCache, type HarvestToCacheOptions } from './harvest-to-cache.js';
import { FakeModel, memorySource, numberedTexts, rowKeys } from './test-fixtures.test-support.js';

const HOOK = 'blocks.1.hook_resid_pre';
let root: string;
let reference: string;

/** 16 rows per model run, 3 runs (48 rows) per shard: 300 rows make 6 full shards and one of 12. */
function cacheOptions(directory: string, overrides: Partial<HarvestToCacheOptions> = {}): HarvestToCacheOptions {
  return {
    directory,
    model: new FakeModel(),
    dataset: memorySource(numberedTexts(400), 'numbered'),
    hookPoint: HOOK,
    sequenceLength: 8,
    modelBatchSize: 2,
    batchesPerShard: 3,
    totalRows: 300,
    log: () => undefined,
    ...overrides,
  };
}

async function allRows(directory: string): Promise<{ activations: number[]; tokens: bigint[] }> {
  const manifest = await readCacheManifest(directory);
  const activations: number[] = [];
  const tokens: bigint[] = [];
  for (const shard of manifest.shards) {
    const contents = await readShard(directory, manifest, shard);
    activations.push(...contents.activations[HOOK]);
    tokens.push(...contents.tokens);
  }
  return { activations, tokens };
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'nnd-cache-'));
  reference = join(root, 'reference');
  await harvestToCache(cacheOptions(reference));
});
afterAll(() => rm(root, { recursive: true, force: true }));

describe('harvestToCache', () => {
  it('writes safetensors shards of activations and tokens, and a manifest with counts and sha256s', async () => {
    const manifest = await readCacheManifest(reference);
    expect(manifest).toMatchObject({
      format: 'nnd-activation-cache',
      version: 1,
      model: 'fake',
      hooks: [{ hook: HOOK, activationSize: 3 }],
      dtype: 'float32',
      sequenceLength: 8,
      modelBatchSize: 2,
      batchesPerShard: 3,
      dataset: 'numbered',
      targetRows: 300,
      rows: 300,
      complete: true,
      datasetExhausted: false,
      prependBos: true,
      documentTokenLimit: 64,
      excludedTokenIds: [],
    });
    // A cache of one hook is written in format version 1, as before caches held several hooks.
    const stored = JSON.parse(await readFile(join(reference, 'manifest.json'), 'utf8'));
    expect(stored).toMatchObject({ version: 1, hook: HOOK, activationSize: 3 });
    expect(stored).not.toHaveProperty('hooks');
    expect(manifest.shards.map((shard) => shard.rows)).toEqual([48, 48, 48, 48, 48, 48, 12]);
    expect(manifest.shards.map((shard) => shard.batchRows)).toEqual([...Array(6).fill([16, 16, 16]), [12]]);
    expect(manifest.shards.every((shard) => /^[0-9a-f]{64}$/.test(shard.sha256))).toBe(true);
    expect((await readdir(reference)).sort()).toEqual(['manifest.json', ...manifest.shards.map((shard) => shard.file)].sort());
    // The rows are the model's activations in harvest order, with the token at each position.
    const model = new FakeModel();
    const { activations, tokens } = await allRows(reference);
    const expected: number[] = [];
    const expectedTokens: bigint[] = [];
    const packed = cacheOptions('unused');
    const { createHarvester } = await import('./harvest-settings.js');
    const harvester = createHarvester({ ...packed, model }, [HOOK]);
    while (expectedTokens.length < 300) {
      const batch = (await harvester.next())!;
      expected.push(...batch.activations[HOOK]);
      expectedTokens.push(...batch.tokens);
    }
    expect(activations).toEqual(expected.slice(0, 900));
    expect(tokens).toEqual(expectedTokens.slice(0, 300));
  });

  it('stops after an abort with the finished shards intact, and a second call resumes to the same cache', async () => {
    const directory = join(root, 'interrupted');
    const controller = new AbortController();
    const first = await harvestToCache(
      cacheOptions(directory, {
        signal: controller.signal,
        onShard: (_shard, manifest) => {
          if (manifest.shards.length === 2) controller.abort();
        },
      }),
    );
    expect(first).toMatchObject({ complete: false, shards: 2, rows: 96 });
    const partial = await readCacheManifest(directory);
    expect(partial.shards).toHaveLength(2);
    expect(partial.complete).toBe(false);
    expect(await readdir(directory)).toHaveLength(3);
    // What a crash in the middle of writing the third shard leaves behind.
    await writeFile(join(directory, '.shard-00002.safetensors.0a1b2c3d4e5f.tmp'), 'partial');

    const logs: string[] = [];
    const model = new FakeModel();
    const second = await harvestToCache(cacheOptions(directory, { model, log: (line) => logs.push(line) }));
    expect(second).toMatchObject({ complete: true, shards: 7, rows: 300 });
    expect(logs.join('\n')).toMatch(/resuming .* after 2 shards \(96 of 300 rows\)/);
    // The resumed harvest ran the model only for the missing shards: 5 shards of at most 3 runs.
    expect(model.calls).toBe(13);
    const resumed = await readCacheManifest(directory);
    const complete = await readCacheManifest(reference);
    expect(resumed.shards.map((shard) => shard.sha256)).toEqual(complete.shards.map((shard) => shard.sha256));
    expect(await allRows(directory)).toEqual(await allRows(reference));
    expect((await readdir(directory)).some((name) => name.endsWith('.tmp'))).toBe(false);
  });

  it('refuses to resume with different settings, naming them', async () => {
    await expect(harvestToCache(cacheOptions(reference, { sequenceLength: 4 }))).rejects.toThrow(ActivationCacheError);
    await expect(harvestToCache(cacheOptions(reference, { sequenceLength: 4, dtype: 'float16' }))).rejects.toThrow(
      /harvested with other settings: dtype is "float32" in the cache but "float16" now; sequenceLength is 8 in the cache but 4 now/,
    );
  });

  it('stores float16 at half the size, widened to float32 when read', async () => {
    const directory = join(root, 'half');
    await harvestToCache(cacheOptions(directory, { dtype: 'float16', totalRows: 96 }));
    const half = await allRows(directory);
    const full = (await allRows(reference)).activations.slice(0, half.activations.length);
    half.activations.forEach((value, index) => expect(Math.abs(value - full[index])).toBeLessThanOrEqual(Math.abs(full[index]) * 2 ** -11));
    const halfBytes = (await readCacheManifest(directory)).shards[0].bytes;
    expect(halfBytes).toBeLessThan((await readCacheManifest(reference)).shards[0].bytes);
  });
});

describe('ActivationsStore.fromCache', () => {
  it('serves every cached row exactly once per pass, shuffled, deterministically for a seed', async () => {
    const lines: string[] = [];
    const store = await ActivationsStore.fromCache(reference, { batchSize: 20, seed: 3, shardsInBuffer: 2, log: (line) => lines.push(line) });
    expect(store.hook).toBe(HOOK);
    const keys: string[] = [];
    for (let batch = 0; batch < 15; batch++) keys.push(...rowKeys(await store.nextBatch()));
    const cached = (await allRows(reference)).activations;
    const all = rowKeys(Float32Array.from(cached));
    expect([...keys].sort()).toEqual([...all].sort());
    expect(keys).not.toEqual(all);
    // 2 shards of at most 48 rows x 3 floats x 4 bytes per buffer.
    expect(store.bufferBytes).toBe(1152);
    expect(lines.join('\n')).toMatch(/7 shards, 300 rows of blocks\.1\.hook_resid_pre from fake \(float32\)/);
    expect(lines.join('\n')).toMatch(/= 1\.1 KiB; .* up to 2\.3 KiB/);

    const again = await ActivationsStore.fromCache(reference, { batchSize: 20, seed: 3, shardsInBuffer: 2, log: () => undefined });
    const replay: string[] = [];
    for (let batch = 0; batch < 15; batch++) replay.push(...rowKeys(await again.nextBatch()));
    expect(replay).toEqual(keys);
    // The second pass starts over in another shard order.
    const secondPass: string[] = [];
    for (let batch = 0; batch < 15; batch++) secondPass.push(...rowKeys(await store.nextBatch()));
    expect([...secondPass].sort()).toEqual([...all].sort());
    expect(store.position().buffer.source.epoch).toBe(1);
  });

  it('replays the live store with batchesInBuffer, also from a cache written before shards recorded their model batches', async () => {
    const old = await craftedCache('without-batch-rows', (manifest) => {
      manifest.shards = manifest.shards.map(({ batchRows: _dropped, ...shard }) => shard);
    });
    expect((await readCacheManifest(old)).shards[0].batchRows).toBeUndefined();
    const { dataset, sequenceLength, modelBatchSize } = cacheOptions('unused');
    const live = new ActivationsStore({ model: new FakeModel(), dataset, hookPoint: HOOK, sequenceLength, modelBatchSize, batchesInBuffer: 4, batchSize: 16, seed: 9, log: () => undefined });
    const cached = await ActivationsStore.fromCache(old, { batchSize: 16, seed: 9, batchesInBuffer: 4, log: () => undefined });
    // 300 rows: four whole buffers of 4 model batches (16 batches of 16) before the cache's last, shorter buffer.
    for (let batch = 0; batch < 16; batch++) expect(Array.from(await cached.nextBatch())).toEqual(Array.from(await live.nextBatch()));
  });

  it('resumes from position()', async () => {
    const options = { batchSize: 20, seed: 5, shardsInBuffer: 2, log: () => undefined };
    const store = await ActivationsStore.fromCache(reference, options);
    for (let batch = 0; batch < 7; batch++) await store.nextBatch();
    const position = JSON.parse(JSON.stringify(store.position()));
    const expected = [];
    for (let batch = 0; batch < 10; batch++) expected.push(Array.from(await store.nextBatch()));
    const resumed = await ActivationsStore.fromCache(reference, { ...options, resume: position });
    for (let batch = 0; batch < 10; batch++) expect(Array.from(await resumed.nextBatch())).toEqual(expected[batch]);
  });

  it('seeks to a recorded position (as a checkpoint holds it) with the batches of a store that never stopped', async () => {
    const options = { batchSize: 20, seed: 5, shardsInBuffer: 2, log: () => undefined };
    const uninterrupted = await ActivationsStore.fromCache(reference, options);
    for (let batch = 0; batch < 7; batch++) await uninterrupted.nextBatch();
    const position = JSON.parse(JSON.stringify(uninterrupted.resumePosition()));
    expect(position.buffer.source.shard).toBeGreaterThan(0);
    // Into the next pass, whose shard order differs.
    const expected = [];
    for (let batch = 0; batch < 12; batch++) expected.push(Array.from(await uninterrupted.nextBatch()));
    const lines: string[] = [];
    const resumed = await ActivationsStore.fromCache(reference, { ...options, log: (line) => lines.push(line) });
    await resumed.seek(7, position);
    for (let batch = 0; batch < 12; batch++) expect(Array.from(await resumed.nextBatch())).toEqual(expected[batch]);
    expect(resumed.position()).toEqual(uninterrupted.position());
    expect(lines.at(-1)).toMatch(/continuing at batch 7 from shard \d+ of pass 1's shuffled order, row \d+ of that buffer/);
    const replayed = await ActivationsStore.fromCache(reference, options);
    await replayed.seek(7);
    expect(Array.from(await replayed.nextBatch())).toEqual(expected[0]);
  });

  it('detects a corrupted shard by its sha256, and the advice in the error repairs it', async () => {
    const directory = join(root, 'corrupted');
    await cp(reference, directory, { recursive: true });
    const manifest: ActivationCacheManifest = await readCacheManifest(directory);
    const target = join(directory, manifest.shards[3].file);
    const handle = await open(target, 'r+');
    try {
      const { size } = await handle.stat();
      await handle.write(new Uint8Array([0xff, 0xee]), 0, 2, size - 40);
    } finally {
      await handle.close();
    }
    const store = await ActivationsStore.fromCache(directory, { batchSize: 20, seed: 0, shardsInBuffer: 7, log: () => undefined });
    const failure = await store.nextBatch().catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(ActivationCacheError);
    expect((failure as Error).message).toMatch(
      /^Shard shard-00003\.safetensors of the activation cache ".*corrupted" is corrupted: its sha256 is [0-9a-f]{64}, but manifest\.json records [0-9a-f]{64}\. Delete it \(rm ".*shard-00003\.safetensors"\) and call harvestToCache again with the same options: it rebuilds missing shards/,
    );
    expect((await verifyActivationCache(directory)).corrupted.map((entry) => entry.file)).toEqual(['shard-00003.safetensors']);

    await unlink(target);
    const model = new FakeModel();
    const logs: string[] = [];
    await harvestToCache(cacheOptions(directory, { model, log: (line) => logs.push(line) }));
    expect(logs.join('\n')).toMatch(/shard shard-00003\.safetensors is missing; rebuilding it/);
    expect(model.calls).toBe(3);
    expect(await verifyActivationCache(directory)).toMatchObject({ corrupted: [], missing: [] });
    expect(await allRows(directory)).toEqual(await allRows(reference));
  });

  /** A copy of the reference cache whose manifest `edit` changed (a crafted or damaged manifest). */
  async function craftedCache(name: string, edit: (manifest: ActivationCacheManifest & Record<string, any>) => void | Promise<void>): Promise<string> {
    const directory = join(root, name);
    await cp(reference, directory, { recursive: true });
    const manifest = JSON.parse(await readFile(join(directory, 'manifest.json'), 'utf8'));
    await edit(manifest);
    await writeFile(join(directory, 'manifest.json'), JSON.stringify(manifest));
    return directory;
  }

  it('keeps shard files inside the cache: absolute paths, .. and symbolic links out of it are refused', async () => {
    const outside = join(reference, 'shard-00000.safetensors');
    const cases: [string, (directory: string) => string | Promise<string>][] = [
      ['absolute', () => outside],
      ['dotdot', () => '../reference/shard-00000.safetensors'],
      [
        'link',
        async (directory) => {
          await symlink(outside, join(directory, 'linked.safetensors'));
          return 'linked.safetensors';
        },
      ],
    ];
    for (const [name, file] of cases) {
      let value = '';
      const directory = await craftedCache(`crafted-${name}`, async (manifest) => {
        value = await file(join(root, `crafted-${name}`));
        manifest.shards[0] = { ...manifest.shards[0], file: value };
      });
      const failure = await ActivationsStore.fromCache(directory, { batchSize: 20, seed: 0, log: () => undefined }).catch((error: unknown) => error);
      expect(failure).toBeInstanceOf(PathOutsideFolderError);
      expect((failure as Error).message).toContain(`manifest.json shards[0].file is ${JSON.stringify(value)}`);
      await expect(verifyActivationCache(directory)).rejects.toThrow(PathOutsideFolderError);
    }
  });

  it('refuses row counts the shard files cannot hold (rows: 1e12) and counts that do not add up, before sizing any buffer', async () => {
    const huge = await craftedCache('huge', (manifest) => {
      manifest.shards[0] = { ...manifest.shards[0], rows: 1e12 };
      manifest.rows = 1e12;
    });
    await expect(ActivationsStore.fromCache(huge, { batchSize: 20, seed: 0, log: () => undefined })).rejects.toThrow(
      /manifest\.json says shards\[0\] holds 1000000000000 rows, but its file has \d+ bytes, room for at most \d+ rows of 3 float32 values; it was changed by hand/,
    );
    const total = await craftedCache('total', (manifest) => void (manifest.rows = 1e12));
    await expect(readCacheManifest(total)).rejects.toThrow(/says rows is 1000000000000, but its shards hold 300/);
    const negative = await craftedCache('negative', (manifest) => void (manifest.shards[1] = { ...manifest.shards[1], rows: -1 }));
    await expect(readCacheManifest(negative)).rejects.toThrow(/has shards\[1\]\.rows -1, not a non-negative integer/);
  });

  it("checks each shard's dtypes and shapes against the manifest: I32 or U8 bytes are not trained on as float32", async () => {
    for (const [dtype, values] of [
      ['I32', new Int32Array(48 * 3).fill(7)],
      ['U8', new Uint8Array(48 * 3 * 4).fill(7)],
    ] as const) {
      const directory = await craftedCache(`dtype-${dtype}`, async (manifest) => {
        const path = join(root, `dtype-${dtype}`, manifest.shards[0].file);
        const shape = dtype === 'U8' ? [48, 12] : [48, 3];
        await writeSafetensors(path, { activations: fromTypedArray(dtype, shape, values), tokens: fromTypedArray('I64', [48], new BigInt64Array(48)) });
        manifest.shards[0] = {
          ...manifest.shards[0],
          bytes: (await stat(path)).size,
          sha256: createHash('sha256')
            .update(await readFile(path))
            .digest('hex'),
        };
      });
      const manifest = await readCacheManifest(directory);
      await expect(readShard(directory, manifest, manifest.shards[0])).rejects.toThrow(
        new RegExp(`holds 'activations' as ${dtype} \\[48, ${dtype === 'U8' ? 12 : 3}\\], but the manifest says F32 \\[48, 3\\]`),
      );
    }
  });

  it('says how to fill a directory that is not a cache yet', async () => {
    await expect(ActivationsStore.fromCache(join(root, 'absent'), { batchSize: 4, seed: 0 })).rejects.toThrow(/No activation cache at .* create one with harvestToCache/);
  });
});
