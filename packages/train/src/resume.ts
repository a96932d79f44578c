import { ConfigError, type Decomposition } from '@nnd/core';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { findLatestCheckpoint, saeLensConfig, TRAINER_STATE_JSON, type TrainerCheckpoint } from './checkpoint.js';
import { CheckpointError } from './checkpoint-error.js';
import type { TrainConfig } from './train-config.js';

/** Train config keys a resumed run must keep, or it would not continue the same run. */
const RESUME_KEYS = ['batch_size', 'lr', 'beta1', 'beta2', 'max_grad_norm', 'seed'] as const;

/** A `step_N` checkpoint itself, or the newest complete one under a checkpoint directory. */
export async function resolveCheckpoint(path: string): Promise<string> {
  if (await stat(join(path, TRAINER_STATE_JSON)).then(() => true, () => false)) return path;
  const latest = await findLatestCheckpoint(path);
  if (latest === undefined) {
    throw new CheckpointError(`Cannot resume from ${JSON.stringify(path)}: it is neither a checkpoint (no ${TRAINER_STATE_JSON}) nor a directory holding complete step_N checkpoints.`);
  }
  return latest;
}

/**
 * Checks that a checkpoint belongs to the run being resumed: the same group
 * layout, architectures, decomposition configs and optimizer settings
 * (num_tokens and the frequencies may change, e.g. to train longer).
 */
export function checkResumable(
  checkpoint: TrainerCheckpoint,
  decompositions: readonly Decomposition[],
  configs: readonly TrainConfig[],
  grouped: boolean,
  path: string,
): void {
  const fail = (problem: string) => new CheckpointError(`Cannot resume from ${JSON.stringify(path)}: ${problem}`);
  if (checkpoint.grouped !== grouped || checkpoint.members.length !== decompositions.length) {
    const saved = checkpoint.grouped ? `a group of ${checkpoint.members.length}` : 'a single decomposition';
    const now = grouped ? `a group of ${decompositions.length}` : 'a single decomposition';
    throw fail(`it holds ${saved}, but ${now} is being trained.`);
  }
  if (!Number.isSafeInteger(checkpoint.step) || checkpoint.step < 0) throw fail(`its step ${checkpoint.step} is not a count of steps.`);
  checkpoint.members.forEach((member, index) => {
    const decomposition = decompositions[index];
    if (member.architecture !== decomposition.architecture) {
      throw fail(`member ${index} is a '${member.architecture}' decomposition, not '${decomposition.architecture}'.`);
    }
    const savedConfig = JSON.stringify(member.config);
    const currentConfig = JSON.stringify(saeLensConfig(decomposition.architecture, decomposition.config));
    if (savedConfig !== currentConfig) throw fail(`member ${index}'s decomposition config differs: saved ${savedConfig}, now ${currentConfig}.`);
    for (const key of RESUME_KEYS) {
      if (member.trainConfig[key] !== configs[index][key]) {
        throw new ConfigError(
          `Cannot resume from ${JSON.stringify(path)}: train config '${key}' was ${member.trainConfig[key]} and is now ${configs[index][key]}; ` +
            `${RESUME_KEYS.join(', ')} must stay the same to continue the run.`,
        );
      }
    }
  });
}
