import * as fs from 'node:fs';
import * as path from 'node:path';
import { ConfigError } from '@nnd/core';
import { LoggingError } from './errors/index.js';
import { JsonLinesAppender, messageOf, writeJsonAtomically } from './crash-safe-files.js';
import { checkLogCall } from './logger.js';
import { makeDirectory } from './make-directory.js';
import type { Logger, Metrics } from './logger.js';
import { RUN_FILES, checkpointDirectory, metricsLine } from './run-directory.js';
import type { ArtifactRecord } from './run-directory.js';

export interface RunDirectorySinkOptions {
  /** The run directory itself, e.g. `runs/<name>`. Created if missing; kept (appended to) if it exists. */
  directory: string;
}

export interface RunDirectorySink extends Logger {
  readonly directory: string;
  /** `<directory>/checkpoints/step_<step>`, created: the folder @nnd/train writes the checkpoint after `step` completed steps to. */
  checkpointDirectory(step: number): string;
}

/**
 * The run directory, always on: the record that survives a crash and that
 * `syncRunDirectory` uploads later. See `RUN_FILES` for the layout. `init` on
 * an existing directory resumes it: config.json is kept and metrics.jsonl is
 * appended to.
 */
export function createRunDirectorySink(options: RunDirectorySinkOptions): RunDirectorySink {
  const directory = path.resolve(options.directory);
  let metrics: JsonLinesAppender | undefined;
  let artifacts: JsonLinesAppender | undefined;
  // The last value of each metric in this process, the default summary (as W&B's summary is).
  const lastValues: Metrics = {};

  function opened(): { metrics: JsonLinesAppender; artifacts: JsonLinesAppender } {
    if (metrics === undefined || artifacts === undefined) throw new LoggingError(`the run directory sink for ${directory} is not open: call init first, and not after finish`);
    return { metrics, artifacts };
  }

  return {
    directory,

    checkpointDirectory(step) {
      const checkpoint = checkpointDirectory(directory, step);
      makeDirectory(checkpoint);
      return checkpoint;
    },

    async init(config) {
      if (metrics !== undefined) throw new LoggingError(`init called twice on the run directory sink for ${directory}`);
      makeDirectory(path.join(directory, RUN_FILES.checkpoints));
      const configFile = path.join(directory, RUN_FILES.config);
      // A resumed run keeps the config it started with: the checkpoints were made under it.
      if (!fs.existsSync(configFile)) {
        try {
          JSON.stringify(config);
        } catch (error) {
          throw new ConfigError(`the run config must be JSON (numbers, strings, booleans, arrays, objects): ${messageOf(error)}`, { cause: error });
        }
        writeJsonAtomically(configFile, config);
      }
      metrics = JsonLinesAppender.open(path.join(directory, RUN_FILES.metrics));
      artifacts = JsonLinesAppender.open(path.join(directory, RUN_FILES.artifacts));
    },

    log(values, step) {
      checkLogCall(values, step);
      opened().metrics.appendLine(metricsLine(step, Date.now() / 1000, values));
      Object.assign(lastValues, values);
    },

    artifact(name, files, metadata = {}) {
      const record: ArtifactRecord = {
        name,
        files: files.map((file) => {
          const absolute = path.resolve(file);
          const relative = path.relative(directory, absolute);
          return relative.startsWith('..') || path.isAbsolute(relative) ? absolute : relative.split(path.sep).join('/');
        }),
        metadata,
        time: Date.now() / 1000,
      };
      let line: string;
      try {
        line = JSON.stringify(record);
      } catch (error) {
        throw new LoggingError(`artifact '${name}': metadata must be JSON: ${messageOf(error)}`, { cause: error });
      }
      opened().artifacts.appendLine(line);
    },

    async finish(summary = {}) {
      const files = opened();
      metrics = undefined;
      artifacts = undefined;
      files.metrics.close();
      files.artifacts.close();
      writeJsonAtomically(path.join(directory, RUN_FILES.summary), { ...lastValues, ...summary });
    },
  };
}
