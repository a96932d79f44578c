import { ConfigError } from '@nnd/core';
import { cp, mkdtemp, readFile, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ActivationCacheError } from './activation-cache-error.js';
import { readCacheManifest, readShard } from './activation-cache.js';
import { ActivationsStore } from './activations-store.js';
import { harvestToCache, type HarvestToCacheOptions } from './harvest-to-cache.js';
import { MultiHookActivationsStore, type MultiHookActivationsStoreOptions } from './multi-hook-activations-store.js';
import { FakeModel, memorySource, numberedTexts, rowKeys } from './test-fixtures.test-support.js';

const HOOKS = ['blocks.0.hook_resid_pre', 'blocks.1.hook_resid_pre', 'blocks.2.hook_resid_pre'];
const model = () => new FakeModel(64, undefined, 3, HOOKS);
let root: string;
let cache: string;

/** 16 rows per model run, 3 runs per shard; 400 rows: 8 full shards and one of 16. */
function harvestOptions(directory: string, overrides: Partial<HarvestToCacheOptions> = {}): HarvestToCacheOptions {
  return {
    directory,
    model: model(),
    dataset: memorySource(numberedTexts(400), 'numbered'),
    hookPoints: HOOKS,
    sequenceLength: 8,
    modelBatchSize: 2,
    batchesPerShard: 3,
    totalRows: 400,
    log: () => undefined,
    ...overrides,
  };
}

/** The live store the cache stands in for: 4 model runs (64 rows) per buffer, batches of 16. */
function liveOptions(overrides: Partial<MultiHookActivationsStoreOptions> = {}): MultiHookActivationsStoreOptions {
  return {
    model: model(),
    dataset: memorySource(numberedTexts(400), 'numbered'),
    hookPoints: HOOKS,
    sequenceLength: 8,
    modelBatchSize: 2,
    batchesInBuffer: 4,
    batchSize: 16,
    seed: 7,
    log: () => undefined,
    ...overrides,
  };
}

async function serve(store: { nextBatches(): Promise<Record<string, Float32Array>> }, count: number): Promise<Record<string, number[]>[]> {
  const batches = [];
  for (let index = 0; index < count; index++) {
    const batch = await store.nextBatches();
    batches.push(Object.fromEntries(Object.entries(batch).map(([hook, rows]) => [hook, Array.from(rows)])));
  }
  return batches;
}

/** Row i of every hook is the same token: the fake model writes the same batch id and position at every hook, and the token id + 1000 x hook index. */
function expectAligned(batch: Readonly<Record<string, ArrayLike<number>>>, hooks = HOOKS): void {
  const keys = rowKeys(Float32Array.from(batch[hooks[0]]));
  for (const hook of hooks) {
    const rows = Float32Array.from(batch[hook]);
    expect(rowKeys(rows)).toEqual(keys);
    const offset = 1000 * (HOOKS.indexOf(hook) - HOOKS.indexOf(hooks[0]));
    for (let row = 0; row < keys.length; row++) expect(rows[row * 3 + 2] - batch[hooks[0]][row * 3 + 2]).toBe(offset);
  }
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'nnd-multi-cache-'));
  cache = join(root, 'three');
  await harvestToCache(harvestOptions(cache));
});
afterAll(() => rm(root, { recursive: true, force: true }));

describe('a cache of several hooks of one model run', () => {
  it('is format version 2: the manifest lists the hooks, each shard holds one row-aligned tensor per hook and the model batches it holds', async () => {
    const stored = JSON.parse(await readFile(join(cache, 'manifest.json'), 'utf8'));
    expect(stored).toMatchObject({ version: 2, hooks: HOOKS.map((hook) => ({ hook, activationSize: 3 })), rows: 400 });
    expect(stored).not.toHaveProperty('hook');
    const manifest = await readCacheManifest(cache);
    expect(manifest.shards.map((shard) => shard.batchRows)).toEqual([...Array(8).fill([16, 16, 16]), [16]]);
    const shard = await readShard(cache, manifest, manifest.shards[2]);
    expect(Object.keys(shard.activations)).toEqual(HOOKS);
    expectAligned(shard.activations);
    // Each row's token is stored once, beside the rows of all hooks.
    expect(Array.from(shard.tokens, Number)).toEqual(Array.from({ length: 48 }, (_, row) => shard.activations[HOOKS[0]][row * 3 + 2]));
    const [second] = Object.values(await readShard(cache, manifest, manifest.shards[2], true, [HOOKS[1]]).then((contents) => contents.activations));
    expect(Array.from(second)).toEqual(Array.from(shard.activations[HOOKS[1]]));
  });

  it('is served shuffled with one permutation for every hook, each row once per pass', async () => {
    const store = await MultiHookActivationsStore.fromCache(cache, { batchSize: 16, seed: 3, shardsInBuffer: 2, log: () => undefined });
    expect(store.hookPoints).toEqual(HOOKS);
    const keys: string[] = [];
    for (const batch of await serve(store, 25)) {
      expectAligned(batch);
      keys.push(...rowKeys(Float32Array.from(batch[HOOKS[0]])));
    }
    expect(new Set(keys).size).toBe(400);
    // 2 shards of 48 rows x 3 hooks x 3 floats x 4 bytes.
    expect(store.bufferBytes).toBe(2 * 48 * 9 * 4);
  });

  it('replays the live store exactly with batchesInBuffer and the same seed, and resumes from its position', async () => {
    const live = new MultiHookActivationsStore(liveOptions());
    const cached = await MultiHookActivationsStore.fromCache(cache, { batchSize: 16, seed: 7, batchesInBuffer: 4, log: () => undefined });
    // 400 rows are 6 buffers of 64 and a last one of 16: the live store's last buffer would read on, so compare the first 6 (24 batches).
    const expected = await serve(live, 24);
    expect(await serve(cached, 10)).toEqual(expected.slice(0, 10));
    const position = JSON.parse(JSON.stringify(cached.position()));
    expect(await serve(cached, 14)).toEqual(expected.slice(10));
    const resumed = await MultiHookActivationsStore.fromCache(cache, { batchSize: 16, seed: 7, batchesInBuffer: 4, resume: position, log: () => undefined });
    expect(await serve(resumed, 14)).toEqual(expected.slice(10));
    // The footprint it states: two buffers of 4 model batches and the shard being replayed.
    expect(cached.footprintBytes).toBe(2 * 64 * 9 * 4 + 48 * 9 * 4);
  });

  it('seeks to a recorded position (as a checkpoint holds it), reading one buffer of shards instead of every batch before', async () => {
    const options = { batchSize: 16, seed: 7, batchesInBuffer: 4, log: () => undefined };
    const uninterrupted = await MultiHookActivationsStore.fromCache(cache, options);
    await serve(uninterrupted, 17);
    const position = JSON.parse(JSON.stringify(uninterrupted.resumePosition()));
    const expected = await serve(uninterrupted, 7);
    const { shard } = position.buffer.source;
    expect(shard).toBeGreaterThan(2);

    // The shards before the recorded buffer are gone, so a store that read them again would fail.
    const directory = join(root, 'seek');
    await cp(cache, directory, { recursive: true });
    const manifest = await readCacheManifest(directory);
    for (const earlier of manifest.shards.slice(0, shard)) await unlink(join(directory, earlier.file));
    const lines: string[] = [];
    const resumed = await MultiHookActivationsStore.fromCache(directory, { ...options, log: (line) => lines.push(line) });
    await resumed.seek(17, position);
    expect(resumed.position()).toEqual(position);
    expect(await serve(resumed, 7)).toEqual(expected);
    expect(resumed.position().batchesServed).toBe(24);
    expect(lines.at(-1)).toMatch(new RegExp(`continuing at batch 17 from shard ${shard}, model batch \\d+ \\(pass 1\\), row \\d+ of that buffer`));

    // Without a position, seek serves and drops the batches: the same batches, every shard read.
    const replayed = await MultiHookActivationsStore.fromCache(cache, options);
    await replayed.seek(17);
    expect(await serve(replayed, 7)).toEqual(expected);
    const missing = await MultiHookActivationsStore.fromCache(directory, options);
    await expect(missing.seek(17)).rejects.toThrow(ActivationCacheError);
  });

  it('refuses a recorded position that is malformed, of another batch count, or of the other way of reading the cache', async () => {
    const options = { batchSize: 16, seed: 7, batchesInBuffer: 4, log: () => undefined };
    const store = await MultiHookActivationsStore.fromCache(cache, options);
    await serve(store, 5);
    const position = JSON.parse(JSON.stringify(store.resumePosition()));
    const fresh = () => MultiHookActivationsStore.fromCache(cache, options);
    await expect((await fresh()).seek(6, position)).rejects.toThrow(/the recorded position is after 5 batches, not 6/);
    await expect((await fresh()).seek(5, { ...position, buffer: { ...position.buffer, source: { document: 3, epoch: 0, token: 0 } } })).rejects.toThrow(/has cache position/);
    await expect((await fresh()).seek(5, { ...position, buffer: { ...position.buffer, source: { epoch: 0, shard: 9, batch: 0 } } })).rejects.toThrow(
      /is not one of this cache's model batches \(9 shards, read in harvest order\)/,
    );
    const byShard = await MultiHookActivationsStore.fromCache(cache, { batchSize: 16, seed: 7, shardsInBuffer: 2, log: () => undefined });
    await serve(byShard, 5);
    await expect((await fresh()).seek(5, JSON.parse(JSON.stringify(byShard.resumePosition())))).rejects.toThrow(ConfigError);
    await expect(byShard.seek(5, position)).rejects.toThrow(/is not one of this cache's shards/);
    await expect(store.seek(1)).rejects.toThrow(/5 batches were served already/);
  });

  it('replays the live store also when special tokens were dropped, from the model batches the shards record', async () => {
    const directory = join(root, 'excluded');
    await harvestToCache(harvestOptions(directory, { excludeSpecialTokens: true, totalRows: 300 }));
    const manifest = await readCacheManifest(directory);
    expect(manifest.shards[0].batchRows!.some((rows) => rows < 16)).toBe(true);
    const live = new MultiHookActivationsStore(liveOptions({ excludeSpecialTokens: true }));
    const cached = await MultiHookActivationsStore.fromCache(directory, { batchSize: 16, seed: 7, batchesInBuffer: 4, log: () => undefined });
    const buffers = Math.floor(manifest.shards.flatMap((shard) => shard.batchRows!).length / 4);
    const rows = manifest.shards
      .flatMap((shard) => shard.batchRows!)
      .slice(0, buffers * 4)
      .reduce((total, value) => total + value, 0);
    const batches = Math.floor(rows / 16) - 1;
    expect(batches).toBeGreaterThan(8);
    expect(await serve(cached, batches)).toEqual(await serve(live, batches));
  });

  it('serves a subset of its hooks without reading the others, and single-hook readers name the way to read several', async () => {
    const store = await MultiHookActivationsStore.fromCache(cache, { batchSize: 16, seed: 3, hookPoints: [HOOKS[2], HOOKS[0]], log: () => undefined });
    const [batch] = await serve(store, 1);
    expect(Object.keys(batch).sort()).toEqual([HOOKS[0], HOOKS[2]]);
    expectAligned(batch, [HOOKS[2], HOOKS[0]]);
    await expect(MultiHookActivationsStore.fromCache(cache, { batchSize: 16, seed: 3, hookPoints: ['blocks.7.hook_mlp_out'], log: () => undefined })).rejects.toThrow(
      /holds blocks\.0\.hook_resid_pre, blocks\.1\.hook_resid_pre, blocks\.2\.hook_resid_pre; it has no hook 'blocks\.7\.hook_mlp_out'/,
    );
    await expect(ActivationsStore.fromCache(cache, { batchSize: 16, seed: 3, log: () => undefined })).rejects.toThrow(
      /holds 3 hooks .*; pass hook to read one of them, or open it with MultiHookActivationsStore\.fromCache/,
    );
    const one = await ActivationsStore.fromCache(cache, { batchSize: 16, seed: 3, hook: HOOKS[1], log: () => undefined });
    expect(one.hook).toBe(HOOKS[1]);
    expect((await one.nextBatch()).length).toBe(16 * 3);
  });

  it('resumes a harvest of the same hooks, and refuses other hooks naming them', async () => {
    const directory = join(root, 'resumed');
    const controller = new AbortController();
    await harvestToCache(
      harvestOptions(directory, {
        signal: controller.signal,
        onShard: (_shard, manifest) => {
          if (manifest.shards.length === 3) controller.abort();
        },
      }),
    );
    await harvestToCache(harvestOptions(directory));
    const [resumed, whole] = [await readCacheManifest(directory), await readCacheManifest(cache)];
    expect(resumed.shards.map((shard) => shard.sha256)).toEqual(whole.shards.map((shard) => shard.sha256));
    await expect(harvestToCache(harvestOptions(directory, { hookPoints: HOOKS.slice(0, 2) }))).rejects.toThrow(
      /hooks is \[.*blocks\.2\.hook_resid_pre.*\] in the cache but \[.*blocks\.1\.hook_resid_pre","activationSize":3\}\] now/,
    );
    await expect(harvestToCache(harvestOptions(directory, { hookPoint: HOOKS[0] }))).rejects.toThrow(ConfigError);
  });

  it('refuses a crafted manifest: a hook named twice, model batches that do not add up, a shard missing a hook', async () => {
    const crafted = async (name: string, edit: (manifest: Record<string, any>) => void) => {
      const directory = join(root, name);
      await harvestToCache(harvestOptions(directory, { totalRows: 96 }));
      const manifest = JSON.parse(await readFile(join(directory, 'manifest.json'), 'utf8'));
      edit(manifest);
      await writeFile(join(directory, 'manifest.json'), JSON.stringify(manifest));
      return directory;
    };
    await expect(readCacheManifest(await crafted('twice', (manifest) => void (manifest.hooks[1].hook = HOOKS[0])))).rejects.toThrow(
      /names hook 'blocks\.0\.hook_resid_pre' twice; it was changed by hand/,
    );
    await expect(readCacheManifest(await crafted('batches', (manifest) => void (manifest.shards[0].batchRows = [16, 16])))).rejects.toThrow(
      /has shards\[0\]\.batchRows adding up to other than its 48 rows/,
    );
    const renamed = await crafted('renamed', (manifest) => void (manifest.hooks[2].hook = 'blocks.3.hook_resid_pre'));
    const manifest = await readCacheManifest(renamed);
    await expect(readShard(renamed, manifest, manifest.shards[0])).rejects.toThrow(ActivationCacheError);
  });
});
