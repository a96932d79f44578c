import * as fs from 'node:fs';
import * as path from 'node:path';
import { RUN_FILES, readRunDirectory } from '@nnd/logging';
import { ResultsError } from './errors/index.js';
import type { RunRecord } from './run-record.js';

/**
 * Loads the runs under `directory`: the run itself when it holds a
 * `config.json` (a `runs/<name>/` directory as `@nnd/logging` writes it),
 * else every immediate subdirectory that does (a `runs/` folder), sorted by
 * name. Subdirectories without a config.json (a stray folder) are skipped;
 * a directory with no run at all throws.
 */
export function loadRunDirectories(directory: string): RunRecord[] {
  const root = path.resolve(directory);
  if (isRunDirectory(root)) return [loadRunDirectory(root)];
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(root, { withFileTypes: true });
  } catch (error) {
    throw new ResultsError(`cannot list runs in ${root}: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
  const runDirectories = entries
    .filter((entry) => entry.isDirectory() && isRunDirectory(path.join(root, entry.name)))
    .map((entry) => path.join(root, entry.name))
    .sort();
  if (runDirectories.length === 0) {
    throw new ResultsError(`${root} holds no run: neither it nor any folder directly inside it has a ${RUN_FILES.config}`);
  }
  return runDirectories.map(loadRunDirectory);
}

/** One run directory; `readRunDirectory` (from @nnd/logging) throws `RunDirectoryError` for a missing config or a corrupt file. */
export function loadRunDirectory(directory: string): RunRecord {
  const contents = readRunDirectory(path.resolve(directory));
  const configName = contents.config.name;
  return {
    name: typeof configName === 'string' && configName !== '' ? configName : path.basename(contents.directory),
    origin: { type: 'directory', directory: contents.directory },
    config: contents.config,
    summary: contents.summary,
    history: contents.metrics.map((row) => ({ step: row.step, metrics: row.metrics })),
  };
}

function isRunDirectory(directory: string): boolean {
  return fs.existsSync(path.join(directory, RUN_FILES.config));
}
