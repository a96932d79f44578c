import { hostTensor, Rng } from '@nnd/core';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createSpd } from './spd-decomposition.js';
import { loadSpd, readSpdFolderConfig, saveSpd, SPD_CONFIG_FILE, SPD_WEIGHTS_FILE } from './spd-files.js';
import { spdFamily } from './spd-family.js';
import { SpdFileError } from './spd-file-error.js';
import { SpdModelError } from './spd-model-error.js';
import { polygonTms, tmsTarget } from './tms.js';

const directories: string[] = [];
afterEach(async () => {
  for (const directory of directories.splice(0)) await rm(directory, { recursive: true, force: true });
});

async function saved() {
  const directory = await mkdtemp(join(tmpdir(), 'nnd-spd-'));
  directories.push(directory);
  const spd = createSpd(tmsTarget(polygonTms(5)), {
    modules: [
      { name: 'linear1', C: 6 },
      { name: 'linear2', C: 4 },
    ],
    ci_fn_type: 'vector_mlp',
    ci_fn_hidden_dims: [3],
  });
  const params = spd.initialParams(new Rng(3));
  await saveSpd(directory, spd, params, { dataset_path: 'toy' });
  return { directory, spd, params };
}

describe('SPD folders', () => {
  it('reads back the config, V, U and the CI functions against the same model', async () => {
    const { directory, spd, params } = await saved();
    const loaded = await loadSpd(directory, tmsTarget(polygonTms(5)));
    expect(loaded.spd.config).toEqual(spd.config);
    expect(loaded.metadata).toEqual({ dataset_path: 'toy' });
    expect(Object.keys(loaded.params).sort()).toEqual(Object.keys(params).sort());
    expect(Object.keys(params)).toContain('linear1.V');
    expect(Object.keys(params)).toContain('linear2.ci.W1');
    for (const [name, tensor] of Object.entries(params)) expect(loaded.params[name]).toEqual(tensor);
  });

  it('tells an SPD folder apart without the model: its config, and the metadata the family reports for a bare folder', async () => {
    const { directory } = await saved();
    expect((await readSpdFolderConfig(directory))?.target.name).toBe('tms_5-2');
    expect(await spdFamily.savedMetadata!(directory)).toEqual({ model_name: 'tms_5-2', dataset_path: 'toy' });
    // Another family's folder, or no folder at all, is not SPD's.
    await writeFile(join(directory, SPD_CONFIG_FILE), JSON.stringify({ architecture: 'topk', config: {} }));
    expect(await readSpdFolderConfig(directory)).toBeUndefined();
    expect(await spdFamily.savedMetadata!(directory)).toBeUndefined();
    expect(await spdFamily.savedMetadata!(join(directory, 'nowhere'))).toBeUndefined();
  });

  it('refuses a model whose weights changed since the decomposition (sha256)', async () => {
    const { directory } = await saved();
    const changed = polygonTms(5);
    const bias = hostTensor(
      'float32',
      [5],
      (changed.b.data as Float32Array).map((value) => value + 1e-3),
    );
    await expect(loadSpd(directory, tmsTarget({ ...changed, b: bias }))).rejects.toThrow(SpdModelError);
    await expect(loadSpd(directory, tmsTarget({ ...changed, b: bias }))).rejects.toThrow(/weights changed since the decomposition was trained/);
  });

  it('names a missing folder or tensor', async () => {
    const { directory } = await saved();
    await expect(loadSpd(join(directory, 'nowhere'), tmsTarget(polygonTms(5)))).rejects.toThrow(SpdFileError);
    await writeFile(join(directory, SPD_WEIGHTS_FILE), new Uint8Array([8, 0, 0, 0, 0, 0, 0, 0, 123, 125, 32, 32, 32, 32, 32, 32]));
    await expect(loadSpd(directory, tmsTarget(polygonTms(5)))).rejects.toThrow(/has no tensor 'linear1.V'/);
  });
});
