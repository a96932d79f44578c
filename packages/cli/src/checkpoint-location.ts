import { ConfigError } from '@nnd/core';
import { checkpointsFolderOf, readRunConfig } from '@nnd/logging';
import { findLatestCheckpoint } from '@nnd/train';
import { existsSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';

/** Where a trained SAE is, resolved from what the user pointed at. */
export interface CheckpointLocation {
  /** The trainer's `step_N` directory. */
  readonly checkpoint: string;
  /** Members of a group checkpoint to use; undefined for all. */
  readonly members: readonly number[] | undefined;
  /** The run directory whose config.json describes the run (model, hook, dataset), when there is one. */
  readonly runDirectory: string | undefined;
}

/** What marks a trainer's step_N checkpoint. */
export const TRAINER_STATE = 'trainer_state.json';
const RUN_CONFIG = 'config.json';

/**
 * Accepts a `step_N` checkpoint, one member folder of a group checkpoint
 * (`step_N/sae_1`), a checkpoints directory (its newest checkpoint) or a run
 * directory (the newest checkpoint of its SAE, also for members of a group,
 * whose checkpoints live in the first member's run directory).
 */
export async function locateCheckpoint(path: string): Promise<CheckpointLocation> {
  const target = resolve(path);
  const runDirectoryOf = (checkpoint: string) => {
    const candidate = dirname(dirname(checkpoint));
    return existsSync(join(candidate, RUN_CONFIG)) ? candidate : undefined;
  };
  if (existsSync(join(target, TRAINER_STATE))) return { checkpoint: target, members: undefined, runDirectory: runDirectoryOf(target) };
  const member = /^sae_(\d+)$/.exec(basename(target));
  if (member && existsSync(join(dirname(target), TRAINER_STATE))) {
    return { checkpoint: dirname(target), members: [Number(member[1])], runDirectory: runDirectoryOf(dirname(target)) };
  }
  if (existsSync(join(target, RUN_CONFIG))) {
    // checkpointsFolderOf reads config.json (typed errors for one that is not a JSON object) and keeps checkpoint_dir inside the runs folder.
    const checkpoints = checkpointsFolderOf(target);
    const config = readRunConfig(target);
    const latest = await findLatestCheckpoint(checkpoints);
    if (latest === undefined)
      throw new ConfigError(`The run directory ${JSON.stringify(path)} has no complete checkpoint in ${checkpoints}; train it first (or it was interrupted before its first checkpoint).`);
    return { checkpoint: latest, members: typeof config.checkpoint_member === 'number' ? [config.checkpoint_member] : undefined, runDirectory: target };
  }
  const latest = await findLatestCheckpoint(target);
  if (latest !== undefined) return { checkpoint: latest, members: undefined, runDirectory: runDirectoryOf(latest) };
  throw new ConfigError(
    `${JSON.stringify(path)} is not a checkpoint: expected a step_N directory (with ${TRAINER_STATE}), a member folder sae_N inside one, ` +
      'a checkpoints directory holding step_N directories, or a run directory (with config.json and checkpoints/).',
  );
}
