import { NndError } from '@nnd/core';

/**
 * Thrown when a step's loss is NaN or infinite (or a checkpoint would hold
 * non-finite parameters). The step's results are discarded, so the last good
 * checkpoint on disk stays the latest one.
 */
export class TrainingDivergedError extends NndError {
  /** The 0-based index of the step whose loss was not finite. */
  readonly step: number;
  /** Directory of the newest complete checkpoint, if one was written. */
  readonly lastCheckpoint: string | undefined;

  constructor(message: string, details: { step: number; lastCheckpoint: string | undefined; cause?: unknown }) {
    super(message, { code: 'nnd.train.diverged', cause: details.cause });
    this.step = details.step;
    this.lastCheckpoint = details.lastCheckpoint;
  }
}
