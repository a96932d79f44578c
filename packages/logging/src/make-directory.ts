import * as fs from 'node:fs';
import * as path from 'node:path';
import { messageOf } from './crash-safe-files.js';
import { RunDirectoryError } from './errors/index.js';

/**
 * `mkdir -p` that fails instead of looping: Node's recursive mkdir retries
 * forever at 100% CPU where a parent exists but refuses children with ENOENT
 * (`/proc/x`). This creates the missing folders one at a time below the
 * nearest existing one and throws RunDirectoryError naming the folder that
 * could not be made.
 */
export function makeDirectory(directory: string): void {
  const missing: string[] = [];
  let existing = path.resolve(directory);
  while (!fs.existsSync(existing)) {
    missing.unshift(existing);
    const parent = path.dirname(existing);
    if (parent === existing) break;
    existing = parent;
  }
  if (fs.existsSync(existing) && !fs.statSync(existing).isDirectory()) {
    throw new RunDirectoryError(`cannot create ${directory}: ${existing} is a file, not a folder`);
  }
  for (const folder of missing) {
    try {
      fs.mkdirSync(folder);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST' && fs.statSync(folder).isDirectory()) continue;
      throw new RunDirectoryError(`cannot create ${directory}: making ${folder} failed (${messageOf(error)}). Choose a folder under a writable one.`, { cause: error });
    }
  }
}
