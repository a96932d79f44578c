import { ConfigError, type Decomposition } from '@nnd/core';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { findLatestCheckpoint, saeLensConfig, TRAINER_STATE_JSON, type TrainerCheckpoint } from './checkpoint.js';
import { CheckpointError } from './checkpoint-error.js';
import type { TrainConfig } from './train-config.js';

/**
 * The optimizer's settings: a resumed run may change them (each change is
 * reported in a warning line), as the advice after a divergence asks ("lower
 * lr or max_grad_norm and resume"). A decomposition config that records them
 * under the same names (an SAE's cfg.json does) may differ in them too.
 */
export const OPTIMIZER_KEYS = ['lr', 'beta1', 'beta2', 'max_grad_norm'] as const;

/** Train config keys a resumed run must keep: the batches it reads and the randomness it started from. */
const FIXED_KEYS = ['batch_size', 'seed'] as const;

/** A `step_N` checkpoint itself, or the newest complete one under a checkpoint directory. */
export async function resolveCheckpoint(path: string): Promise<string> {
  if (
    await stat(join(path, TRAINER_STATE_JSON)).then(
      () => true,
      () => false,
    )
  )
    return path;
  const latest = await findLatestCheckpoint(path);
  if (latest === undefined) {
    throw new CheckpointError(`Cannot resume from ${JSON.stringify(path)}: it is neither a checkpoint (no ${TRAINER_STATE_JSON}) nor a directory holding complete step_N checkpoints.`);
  }
  return latest;
}

/**
 * Checks that a checkpoint belongs to the run being resumed: the same group
 * layout, architectures, decomposition configs (but for OPTIMIZER_KEYS),
 * batch_size and seed. num_tokens and the frequencies may change, e.g. to
 * train longer, and so may the optimizer's settings: returns one warning line
 * per changed setting, e.g. "resuming with lr 0.0001 (the checkpoint trained
 * with 0.0003)".
 */
export function checkResumable(checkpoint: TrainerCheckpoint, decompositions: readonly Decomposition[], configs: readonly TrainConfig[], grouped: boolean, path: string): string[] {
  const fail = (problem: string) => new CheckpointError(`Cannot resume from ${JSON.stringify(path)}: ${problem}`);
  if (checkpoint.grouped !== grouped || checkpoint.members.length !== decompositions.length) {
    const saved = checkpoint.grouped ? `a group of ${checkpoint.members.length}` : 'a single decomposition';
    const now = grouped ? `a group of ${decompositions.length}` : 'a single decomposition';
    throw fail(`it holds ${saved}, but ${now} is being trained.`);
  }
  if (!Number.isSafeInteger(checkpoint.step) || checkpoint.step < 0) throw fail(`its step ${checkpoint.step} is not a count of steps.`);
  const warnings: string[] = [];
  checkpoint.members.forEach((member, index) => {
    const decomposition = decompositions[index];
    if (member.architecture !== decomposition.architecture) {
      throw fail(`member ${index} is a '${member.architecture}' decomposition, not '${decomposition.architecture}'.`);
    }
    const savedConfig = JSON.stringify(withoutOptimizerKeys(member.config));
    const currentConfig = JSON.stringify(withoutOptimizerKeys(saeLensConfig(decomposition.architecture, decomposition.config)));
    if (savedConfig !== currentConfig) {
      throw fail(
        `member ${index}'s decomposition config differs: saved ${savedConfig}, now ${currentConfig}. ` +
          `Only the optimizer's settings (${OPTIMIZER_KEYS.join(', ')}) may change on a resume; start a new run to change the decomposition.`,
      );
    }
    for (const key of FIXED_KEYS) {
      if (member.trainConfig[key] !== configs[index][key]) {
        throw new ConfigError(
          `Cannot resume from ${JSON.stringify(path)}: train config '${key}' was ${member.trainConfig[key]} and is now ${configs[index][key]}; ` +
            `${FIXED_KEYS.join(' and ')} must stay the same to continue the run (set ${key}: ${member.trainConfig[key]}, or start a new run).`,
        );
      }
    }
    const which = checkpoint.grouped ? ` (member ${index})` : '';
    for (const key of OPTIMIZER_KEYS) {
      const saved = member.trainConfig[key];
      if (saved !== configs[index][key]) warnings.push(`resuming with ${key} ${configs[index][key]} (the checkpoint trained with ${saved})${which}`);
    }
  });
  return warnings;
}

function withoutOptimizerKeys(config: unknown): unknown {
  if (typeof config !== 'object' || config === null || Array.isArray(config)) return config;
  const kept: Record<string, unknown> = { ...config };
  for (const key of OPTIMIZER_KEYS) delete kept[key];
  return kept;
}
