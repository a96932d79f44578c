import { LoggingError } from './errors/index.js';
import { createConsoleSink } from './console-sink.js';
import type { ConsoleSinkOptions } from './console-sink.js';
import { composeLoggers } from './logger.js';
import type { Logger, RunConfig } from './logger.js';
import { runDirectoryFor } from './run-directory.js';
import { createRunDirectorySink } from './run-directory-sink.js';
import type { RunDirectorySink } from './run-directory-sink.js';
import { runName } from './run-name.js';
import { createWandbSink } from './wandb-sink.js';
import type { WandbSink, WandbSinkOptions } from './wandb-sink.js';
import { wandbRequested } from './wandb-settings.js';
import type { Environment } from './wandb-settings.js';

export interface CreateLoggerOptions {
  /** Where run directories live (default `runs`). */
  runsDirectory?: string;
  /** The run's name and directory name; default `config.name`, else the reference's `runName(config)`. */
  name?: string;
  /** The progress bar / lines; on by default. */
  console?: boolean | ConsoleSinkOptions;
  /** W&B: `false` off, `true` or options on; left out, on when `wandbRequested(config, env)` (`wandb: true`, `wandb_project`, or `WANDB_API_KEY`). */
  wandb?: boolean | WandbSinkOptions;
  /** Default `process.env`. */
  env?: Environment;
}

/** The logger the trainer gets: the sinks in one, plus where the run lives. */
export interface RunLogger extends Logger {
  /** `runs/<name>`, known after `init`. */
  readonly runDirectory: string;
  /** `runs/<name>/checkpoints/step_<step>`, created: the folder @nnd/train writes the checkpoint after `step` completed steps to. */
  checkpointDirectory(step: number): string;
  /** The W&B sink, when W&B is on (after `init`). */
  readonly wandb: WandbSink | undefined;
}

/**
 * The usual logger: the run directory (always), the console (unless turned
 * off) and W&B (when asked for), decided at `init` because the run's name and
 * the W&B switch come from the config.
 */
export function createLogger(options: CreateLoggerOptions = {}): RunLogger {
  const env = options.env ?? process.env;
  let runDirectorySink: RunDirectorySink | undefined;
  let wandbSink: WandbSink | undefined;
  let composed: Logger | undefined;

  function started(): Logger {
    if (composed === undefined) throw new LoggingError('the logger is not started: call init(config) first');
    return composed;
  }

  return {
    get runDirectory() {
      if (runDirectorySink === undefined) throw new LoggingError('runDirectory is known after init(config)');
      return runDirectorySink.directory;
    },
    get wandb() {
      return wandbSink;
    },
    checkpointDirectory(step) {
      if (runDirectorySink === undefined) throw new LoggingError('checkpointDirectory is known after init(config)');
      return runDirectorySink.checkpointDirectory(step);
    },

    async init(config: RunConfig, initOptions) {
      if (composed !== undefined) throw new LoggingError('init called twice on the logger');
      const name = options.name ?? (typeof config.name === 'string' && config.name !== '' ? config.name : runName(config));
      runDirectorySink = createRunDirectorySink({ directory: runDirectoryFor(options.runsDirectory ?? 'runs', name) });
      // The run directory first: it must exist (and have its tail repaired) before W&B counts its rows.
      const sinks: Logger[] = [runDirectorySink];
      if (options.console !== false) sinks.push(createConsoleSink(options.console === true ? {} : options.console));
      const wandbOn = options.wandb === undefined ? wandbRequested(config, env) : options.wandb !== false;
      if (wandbOn) {
        const wandbOptions = typeof options.wandb === 'object' ? options.wandb : {};
        wandbSink = createWandbSink({ env, displayName: name, ...wandbOptions, runDirectory: runDirectorySink.directory });
        sinks.push(wandbSink);
      }
      composed = composeLoggers(...sinks);
      await composed.init(config, initOptions);
    },
    log(metrics, step) {
      started().log(metrics, step);
    },
    artifact(name, files, metadata) {
      started().artifact(name, files, metadata);
    },
    async finish(summary) {
      await started().finish(summary);
    },
  };
}
