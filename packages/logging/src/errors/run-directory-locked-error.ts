import { NndError } from '@nnd/core';
import type { LockHolder } from '../run-directory-lock.js';

/** Thrown when another live process holds a run directory's lock (`lockRunDirectory`); `holder` says which. */
export class RunDirectoryLockedError extends NndError {
  readonly holder: LockHolder;
  /** The lock file. */
  readonly file: string;

  constructor(message: string, options: { holder: LockHolder; file: string }) {
    super(message, { code: 'nnd.run_directory_locked' });
    this.holder = options.holder;
    this.file = options.file;
  }
}
