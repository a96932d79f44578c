import { hostTensor, PathOutsideFolderError, readSafetensors, Rng } from '@nnd/core';
import { mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { findLatestCheckpoint, readCheckpoint, removeIncompleteCheckpoints, writeCheckpoint, type TrainerCheckpoint } from './checkpoint.js';
import { CheckpointError } from './checkpoint-error.js';
import { parseTrainConfig } from './train-config.js';

let directory: string;
beforeEach(async () => {
  directory = await mkdtemp(join(tmpdir(), 'nnd-checkpoint-'));
});
afterEach(async () => {
  await rm(directory, { recursive: true, force: true });
});

function sampleCheckpoint(step: number, grouped = false, fill = step): TrainerCheckpoint {
  const member = {
    architecture: 'topk',
    config: { act_size: 3, dict_size: 2, k: 1 },
    trainConfig: parseTrainConfig({ batch_size: 8, num_tokens: 800 }),
    rngState: new Rng(1).state(),
    params: { W_enc: hostTensor('float32', [3, 2], new Float32Array(6).fill(fill)), b_dec: hostTensor('float32', [3], [1, 2, 3]) },
    firstMoments: { W_enc: hostTensor('float32', [3, 2], new Float32Array(6).fill(0.5)), b_dec: hostTensor('float32', [3], [0, 0, 1]) },
    secondMoments: { W_enc: hostTensor('float32', [3, 2], new Float32Array(6).fill(0.25)), b_dec: hostTensor('float32', [3], [0, 1, 0]) },
    state: { num_batches_not_active: hostTensor('float32', [2], [4, 0]), seen: hostTensor('int64', [], [7n]) },
  };
  return { step, batchesConsumed: step, grouped, members: grouped ? [member, { ...member, architecture: 'vanilla' }] : [member] };
}

describe('writeCheckpoint', () => {
  it('writes a complete SAELens directory plus the trainer state, and reads it back', async () => {
    const path = await writeCheckpoint(directory, sampleCheckpoint(12));
    expect(path).toBe(join(directory, 'step_12'));
    expect(await readdir(directory)).toEqual(['step_12']);
    expect((await readdir(path)).sort()).toEqual(['cfg.json', 'sae_weights.safetensors', 'trainer_state.json', 'trainer_state.safetensors']);
    expect(JSON.parse(await readFile(join(path, 'cfg.json'), 'utf8'))).toEqual({ act_size: 3, dict_size: 2, k: 1, architecture: 'topk' });
    const weights = readSafetensors(await readFile(join(path, 'sae_weights.safetensors')));
    expect([...weights.tensors.keys()].sort()).toEqual(['W_enc', 'b_dec']);
    expect(weights.tensors.get('W_enc')!.shape).toEqual([3, 2]);

    const read = await readCheckpoint(path);
    const original = sampleCheckpoint(12);
    expect(read.step).toBe(12);
    expect(read.batchesConsumed).toBe(12);
    expect(read.members[0].rngState).toEqual(original.members[0].rngState);
    expect(read.members[0].trainConfig).toEqual(original.members[0].trainConfig);
    expect(Array.from(read.members[0].params.b_dec.data as Float32Array)).toEqual([1, 2, 3]);
    expect(Array.from(read.members[0].secondMoments.b_dec.data as Float32Array)).toEqual([0, 1, 0]);
    expect(read.members[0].state.seen).toEqual(hostTensor('int64', [], [7n]));
  });

  it("keeps each member's last-step metrics (what the next step's forward variant is chosen from), non-finite ones included", async () => {
    const checkpoint = sampleCheckpoint(3);
    const withMetrics = { ...checkpoint, members: [{ ...checkpoint.members[0], lastMetrics: { num_dead_features: 0, l2_loss: 0.125, ratio: Number.NaN } }] };
    const read = await readCheckpoint(await writeCheckpoint(directory, withMetrics));
    expect(read.members[0].lastMetrics).toEqual({ num_dead_features: 0, l2_loss: 0.125, ratio: Number.NaN });
    expect((await readCheckpoint(await writeCheckpoint(directory, sampleCheckpoint(4)))).members[0].lastMetrics).toBeUndefined();
  });

  it('puts each member of a group in its own SAELens directory', async () => {
    const path = await writeCheckpoint(directory, sampleCheckpoint(5, true));
    expect((await readdir(path)).sort()).toEqual(['sae_0', 'sae_1', 'trainer_state.json', 'trainer_state.safetensors']);
    expect(JSON.parse(await readFile(join(path, 'sae_1', 'cfg.json'), 'utf8')).architecture).toBe('vanilla');
    const read = await readCheckpoint(path);
    expect(read.members.map((member) => member.architecture)).toEqual(['topk', 'vanilla']);
  });

  it('leaves no step directory and no temporary files when a write fails halfway', async () => {
    await writeCheckpoint(directory, sampleCheckpoint(3));
    const broken = sampleCheckpoint(6);
    // The moments are written after cfg.json and the weights; a bad tensor there fails mid-checkpoint.
    (broken.members[0].firstMoments as Record<string, unknown>).W_enc = { dtype: 'float32', shape: [3, 2], data: new Float32Array(5) };
    await expect(writeCheckpoint(directory, broken)).rejects.toThrow(CheckpointError);
    expect(await readdir(directory)).toEqual(['step_3']);
    expect(await findLatestCheckpoint(directory)).toBe(join(directory, 'step_3'));
  });

  it('replaces a checkpoint of the same step as a whole', async () => {
    await writeCheckpoint(directory, sampleCheckpoint(4, false, 1));
    await writeCheckpoint(directory, sampleCheckpoint(4, false, 2));
    expect(await readdir(directory)).toEqual(['step_4']);
    expect(Array.from((await readCheckpoint(join(directory, 'step_4'))).members[0].params.W_enc.data as Float32Array)).toEqual([2, 2, 2, 2, 2, 2]);
  });
});

describe('findLatestCheckpoint', () => {
  it('skips what a crashed writer leaves: temporary directories and step directories without trainer_state.json', async () => {
    await writeCheckpoint(directory, sampleCheckpoint(2));
    await writeCheckpoint(directory, sampleCheckpoint(10));
    await mkdir(join(directory, '.step_20.tmp-abcdef'));
    await writeFile(join(directory, '.step_20.tmp-abcdef', 'sae_weights.safetensors'), 'partial');
    await mkdir(join(directory, 'step_30'));
    expect(await findLatestCheckpoint(directory)).toBe(join(directory, 'step_10'));
    await removeIncompleteCheckpoints(directory);
    expect((await readdir(directory)).sort()).toEqual(['step_10', 'step_2', 'step_30']);
  });

  it('returns undefined for a missing or empty directory', async () => {
    expect(await findLatestCheckpoint(join(directory, 'missing'))).toBeUndefined();
    expect(await findLatestCheckpoint(directory)).toBeUndefined();
  });
});

describe('readCheckpoint', () => {
  it('names the problem when the directory is not a checkpoint', async () => {
    await expect(readCheckpoint(directory)).rejects.toThrow(/trainer_state.json is missing or not JSON/);
    await writeFile(join(directory, 'trainer_state.json'), JSON.stringify({ format: 'other', version: 1 }));
    await expect(readCheckpoint(directory)).rejects.toThrow(/has format "other" version 1; this trainer reads 'nnd-trainer-state' version 1/);
  });

  /** A written checkpoint whose trainer_state.json was then changed by `edit`. */
  async function craftedCheckpoint(edit: (state: Record<string, any>) => void, grouped = false): Promise<string> {
    const path = await writeCheckpoint(join(directory, 'checkpoints'), sampleCheckpoint(3, grouped));
    const state = JSON.parse(await readFile(join(path, 'trainer_state.json'), 'utf8'));
    edit(state);
    await writeFile(join(path, 'trainer_state.json'), JSON.stringify(state));
    return path;
  }

  it('keeps every path of trainer_state.json inside the checkpoint: a crafted directory reads no foreign weights or config', async () => {
    // A foreign SAE folder beside the checkpoints, with a "secret" config, that a crafted manifest points at.
    await writeCheckpoint(join(directory, 'elsewhere'), sampleCheckpoint(9));
    const foreign = join(directory, 'elsewhere', 'step_9');
    for (const value of [foreign, '../../elsewhere/step_9', '../step_3/../../elsewhere/step_9']) {
      const path = await craftedCheckpoint((state) => (state.members[0].directory = value));
      const error = await readCheckpoint(path).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(PathOutsideFolderError);
      expect((error as Error).message).toContain(`trainer_state.json members[0].directory is ${JSON.stringify(value)}`);
    }
    // Through a symbolic link inside the checkpoint.
    const linked = await craftedCheckpoint((state) => (state.members[0].directory = 'sae_link'));
    await symlink(foreign, join(linked, 'sae_link'));
    await expect(readCheckpoint(linked)).rejects.toThrow(/members\[0\]\.directory is "sae_link", which leads outside that folder through a symbolic link/);
  });

  it('accepts only the file names the trainer writes for config_file and params_file', async () => {
    for (const [field, value] of [
      ['config_file', '../../secret.txt'],
      ['config_file', '/etc/hostname'],
      ['params_file', '../other.safetensors'],
    ]) {
      const path = await craftedCheckpoint((state) => (state.members[0][field] = value));
      await expect(readCheckpoint(path)).rejects.toThrow(new RegExp(`trainer_state.json is malformed \\(members\\.0\\.${field}: `));
    }
  });

  it('gives a CheckpointError, not a raw TypeError or SyntaxError, for malformed members and a config file that is not JSON', async () => {
    for (const members of ['not a list', [], [{ directory: 3 }], null]) {
      const path = await craftedCheckpoint((state) => (state.members = members));
      const error = await readCheckpoint(path).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(CheckpointError);
      expect((error as Error).message).toMatch(/^Cannot read the checkpoint ".*step_3": trainer_state.json is malformed \(members/);
    }
    const path = await craftedCheckpoint(() => undefined);
    await writeFile(join(path, 'cfg.json'), '{ not json');
    const error = await readCheckpoint(path).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(CheckpointError);
    expect((error as Error).message).toMatch(/cfg\.json is missing or not JSON/);
  });
});
