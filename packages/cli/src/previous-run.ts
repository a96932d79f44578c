import { existsSync } from 'node:fs';
import { rename } from 'node:fs/promises';

/**
 * Moves an earlier run's directory out of the way of a new run of the same
 * name (`<dir>.previous-<time>`), so that a fresh run never appends to an
 * old run's metrics and checkpoints, and nothing is deleted. Resolves to
 * where it went, or undefined when there was none.
 */
export async function setAsidePreviousRun(directory: string, now: Date = new Date()): Promise<string | undefined> {
  if (!existsSync(directory)) return undefined;
  const aside = `${directory}.previous-${now
    .toISOString()
    .replaceAll(':', '-')
    .replace(/\.\d+Z$/, 'Z')}`;
  await rename(directory, aside);
  return aside;
}
