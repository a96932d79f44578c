import * as fs from 'node:fs';
import * as path from 'node:path';
import { resolveInside } from '@nnd/core';
import { RunDirectoryError } from './errors/index.js';
import { messageOf, readJsonFile, readJsonLines } from './crash-safe-files.js';
import type { Metrics, RunConfig, Summary } from './logger.js';

/**
 * The files of a run directory, `runs/<name>/`:
 *
 *     config.json          the run's config, written once (a resumed run keeps it)
 *     metrics.jsonl        one line per logged step: {"step":0,"time":1700000000.123,"loss":0.5,...}
 *     artifacts.jsonl      one line per artifact: {"name","files","metadata","time"}
 *     checkpoints/step_<N>/  written by @nnd/train after N completed steps; `checkpointDirectory(runDirectory, N)` names it
 *     summary.json         written by finish
 *     wandb-run.json       the W&B run this directory uploads to, so a resumed run and a later sync reuse it
 */
export const RUN_FILES = {
  config: 'config.json',
  metrics: 'metrics.jsonl',
  artifacts: 'artifacts.jsonl',
  checkpoints: 'checkpoints',
  summary: 'summary.json',
  wandbRun: 'wandb-run.json',
} as const;

/** One logged step as read back. `time` is Unix time in seconds. */
export interface MetricsRow {
  step: number;
  time: number;
  metrics: Metrics;
}

/** One `artifact` call. File paths inside the run directory are relative to it; others are absolute. */
export interface ArtifactRecord {
  name: string;
  files: string[];
  metadata: Record<string, unknown>;
  time: number;
}

/** Where a run directory uploads on W&B. */
export interface WandbRunIdentity {
  runId: string;
  project: string;
  /** Unknown until the server has answered once (it picks the key's default entity). */
  entity: string | undefined;
  displayName: string;
  baseUrl: string;
}

export interface RunDirectoryContents {
  directory: string;
  config: RunConfig;
  /** In file order; a resumed run that restarted from an earlier checkpoint logs some steps twice, and both rows stay. */
  metrics: MetricsRow[];
  summary: Summary | undefined;
  /**
   * Steps N that have a `step_N/` checkpoint, ascending: under `checkpoints/`, or under the folder
   * that config.json's `checkpoint_dir` names (relative to the run directory; the members of a
   * group trained by `nnd train` share the first member's).
   */
  checkpointSteps: number[];
  artifacts: ArtifactRecord[];
  wandbRun: WandbRunIdentity | undefined;
}

/** `runs/<name>` for a run name; `/` (as in `EleutherAI/pythia-70m`) becomes `__`, as the reference does for artifact names. */
export function runDirectoryFor(runsDirectory: string, name: string): string {
  return path.join(runsDirectory, safeRunName(name));
}

function safeRunName(name: string): string {
  const safe = name.replaceAll('/', '__').replaceAll('\\', '__');
  if (safe === '' || safe === '.' || safe === '..') throw new RunDirectoryError(`'${name}' cannot name a run directory`);
  return safe;
}

/**
 * `<run directory>/checkpoints/step_<step>`: where @nnd/train, given
 * `checkpointDir: <run directory>/checkpoints`, writes the checkpoint after
 * `step` completed steps.
 */
export function checkpointDirectory(runDirectory: string, step: number): string {
  if (!Number.isSafeInteger(step) || step < 0) {
    throw new RunDirectoryError(`checkpointDirectory: step must be a non-negative integer, got ${String(step)}`);
  }
  return path.join(runDirectory, RUN_FILES.checkpoints, `step_${step}`);
}

/** A checkpoint's folder name, `step_<N>`, as @nnd/train names it. */
const CHECKPOINT_NAME = /^step_(0|[1-9]\d*)$/;

/**
 * One metrics.jsonl line. Non-finite values are written as the strings
 * `"NaN"`, `"Infinity"`, `"-Infinity"` (JSON has no literal for them and
 * would write `null`); `readRunDirectory` turns them back into numbers.
 */
export function metricsLine(step: number, time: number, metrics: Metrics): string {
  return JSON.stringify({ step, time, ...metrics }, (_key, value: unknown) => (typeof value === 'number' && !Number.isFinite(value) ? String(value) : value));
}

const NON_FINITE: Record<string, number> = { NaN: Number.NaN, Infinity: Infinity, '-Infinity': -Infinity };

function metricsRowOf(value: unknown, file: string, index: number): MetricsRow {
  const record = value as Record<string, unknown>;
  if (typeof record !== 'object' || record === null || typeof record.step !== 'number' || typeof record.time !== 'number') {
    throw new RunDirectoryError(`${file} line ${index + 1} is not a metrics row ({"step", "time", ...metrics})`);
  }
  const metrics: Metrics = {};
  for (const [name, entry] of Object.entries(record)) {
    if (name === 'step' || name === 'time') continue;
    const number = typeof entry === 'string' ? NON_FINITE[entry] : entry;
    if (typeof number !== 'number') throw new RunDirectoryError(`${file} line ${index + 1}: metric '${name}' is not a number`);
    metrics[name] = number;
  }
  return { step: record.step, time: record.time, metrics };
}

/** Reads the metric rows alone (what a resumed run or an uploader needs without the rest). */
export function readMetricsRows(directory: string): MetricsRow[] {
  const file = path.join(directory, RUN_FILES.metrics);
  return readJsonLines(file).map((value, index) => metricsRowOf(value, file, index));
}

/** Reads everything a run directory holds; throws `RunDirectoryError` when `config.json` is missing (not a run directory). */
export function readRunDirectory(directory: string): RunDirectoryContents {
  const config = readRunConfig(directory);
  return {
    directory,
    config,
    metrics: readMetricsRows(directory),
    summary: readJsonFile(path.join(directory, RUN_FILES.summary)) as Summary | undefined,
    checkpointSteps: checkpointStepsOf(directory, config),
    artifacts: readJsonLines(path.join(directory, RUN_FILES.artifacts)) as ArtifactRecord[],
    wandbRun: readJsonFile(path.join(directory, RUN_FILES.wandbRun)) as WandbRunIdentity | undefined,
  };
}

/**
 * The folder a run directory's checkpoints are in: `checkpoints/`, or the one
 * its config.json's `checkpoint_dir` names (relative to the run directory; a
 * group's members point at the first member's, a sibling run directory).
 * That value is data: it must stay inside the folder holding the run
 * directories (no absolute path, no `..` or symbolic link out of it), else
 * PathOutsideFolderError. Throws RunDirectoryError when config.json is not a
 * JSON object; without a config.json, `checkpoints/`.
 */
export function checkpointsFolderOf(directory: string): string {
  return checkpointsFolderFor(directory, fs.existsSync(path.join(directory, RUN_FILES.config)) ? readRunConfig(directory) : undefined);
}

/** A run directory's config.json; RunDirectoryError when it is missing or not a JSON object. */
export function readRunConfig(directory: string): RunConfig {
  const config = readJsonFile(path.join(directory, RUN_FILES.config));
  if (config === undefined) throw new RunDirectoryError(`${directory} is not a run directory: it has no ${RUN_FILES.config}`);
  if (typeof config !== 'object' || config === null || Array.isArray(config)) {
    throw new RunDirectoryError(`${path.join(directory, RUN_FILES.config)} must hold a JSON object`);
  }
  return config as RunConfig;
}

function checkpointsFolderFor(directory: string, config: RunConfig | undefined): string {
  const run = path.resolve(directory);
  const recorded = config?.checkpoint_dir;
  if (recorded === undefined || recorded === null || recorded === '') return path.join(run, RUN_FILES.checkpoints);
  return resolveInside(path.dirname(run), recorded, `${path.join(run, RUN_FILES.config)} checkpoint_dir`, { from: run });
}

/**
 * Subdirectories of the checkpoints folder named `step_<N>`; others (the
 * trainer's hidden `.step_<N>.tmp-*` before its rename) are not checkpoints yet.
 */
function checkpointStepsOf(directory: string, config: RunConfig): number[] {
  const root = checkpointsFolderFor(directory, config);
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(root, { withFileTypes: true });
  } catch (error) {
    if ((error as { code?: unknown }).code === 'ENOENT') return [];
    throw new RunDirectoryError(`cannot list ${root}: ${messageOf(error)}`, { cause: error });
  }
  return entries
    .flatMap((entry) => {
      const match = entry.isDirectory() ? CHECKPOINT_NAME.exec(entry.name) : null;
      return match === null ? [] : [Number(match[1])];
    })
    .sort((a, b) => a - b);
}

/** Every file under `directory`, as paths relative to it with `/` separators, sorted. */
export function listFilesUnder(directory: string): string[] {
  if (!fs.existsSync(directory)) return [];
  const files: string[] = [];
  const visit = (relative: string) => {
    for (const entry of fs.readdirSync(path.join(directory, relative), { withFileTypes: true })) {
      const child = relative === '' ? entry.name : `${relative}/${entry.name}`;
      if (entry.isDirectory()) visit(child);
      else if (entry.isFile()) files.push(child);
    }
  };
  visit('');
  return files.sort();
}
