import { ResultsError } from './errors/index.js';
import { loadRunDirectories } from './run-directory-source.js';
import type { RunRecord } from './run-record.js';
import { loadWandbRuns } from './wandb-source.js';
import type { WandbSource } from './wandb-source.js';

/** A run directory (`runs/<name>/`) or a folder of them (`runs/`), as `@nnd/logging` writes them. */
export interface DirectorySource {
  type: 'directory';
  directory: string;
}

export type RunSource = DirectorySource | WandbSource;

/** Loads every source, in the order given; runs keep their source's order (directories by name, W&B oldest first). */
export async function loadRuns(sources: readonly RunSource[]): Promise<RunRecord[]> {
  const runs: RunRecord[] = [];
  for (const source of sources) {
    switch (source.type) {
      case 'directory':
        runs.push(...loadRunDirectories(source.directory));
        break;
      case 'wandb':
        runs.push(...(await loadWandbRuns(source)));
        break;
      default:
        throw new ResultsError(`unknown run source type '${String((source as { type?: unknown }).type)}'; expected 'directory' or 'wandb'`);
    }
  }
  return runs;
}
