import {
  fromTypedArray,
  hostTensor,
  readSafetensors,
  renameDurably,
  resolveInside,
  toTypedArray,
  writeSafetensors,
  type DType,
  type HostTensor,
  type RngState,
  type SafetensorsDType,
  type SafetensorsTensor,
} from '@nnd/core';
import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { CheckpointError } from './checkpoint-error.js';
import { stateInputName, type StateKind } from './step-names.js';
import type { TrainConfig } from './train-config.js';

/** Everything one decomposition of the group needs to continue exactly. */
export interface MemberCheckpoint {
  readonly architecture: string;
  /** The decomposition's config, written to cfg.json with `architecture`. */
  readonly config: unknown;
  readonly trainConfig: TrainConfig;
  readonly rngState: RngState;
  readonly params: Readonly<Record<string, HostTensor>>;
  readonly firstMoments: Readonly<Record<string, HostTensor>>;
  readonly secondMoments: Readonly<Record<string, HostTensor>>;
  readonly state: Readonly<Record<string, HostTensor>>;
  /**
   * The member's metrics of the last step, from which the next step's forward variant is chosen
   * (Decomposition.variants): a resumed run must pick the variant the uninterrupted one would, or
   * its first step differs by rounding. Absent before the first step.
   */
  readonly lastMetrics?: Readonly<Record<string, number>>;
  /**
   * Writes the decomposition's own files (e.g. @nnd/sae's `saveSae`: SAELens
   * names, JumpReLU thresholds) into the given directory instead of the
   * default cfg.json and raw sae_weights.safetensors. The raw parameters
   * then also go to trainer_state.safetensors, so that a resume is exact
   * whatever the writer transforms.
   */
  readonly writeFiles?: (directory: string) => Promise<void>;
}

export interface TrainerCheckpoint {
  /** Optimizer steps completed; a resumed run continues with step index `step`. */
  readonly step: number;
  /** Batches taken from the source (the data position). */
  readonly batchesConsumed: number;
  /** The source's `resumePosition()` after those batches (JSON), when the source has one: where `seek` continues from. */
  readonly sourcePosition?: unknown;
  /**
   * Group layout: member i lives in `sae_{i}/`. A single decomposition's
   * checkpoint directory is itself an SAELens directory.
   */
  readonly grouped: boolean;
  readonly members: readonly MemberCheckpoint[];
}

export const TRAINER_STATE_JSON = 'trainer_state.json';
const TRAINER_STATE_SAFETENSORS = 'trainer_state.safetensors';
const SAE_WEIGHTS = 'sae_weights.safetensors';
const SAE_CONFIG = 'cfg.json';
/** The decomposition's config as the trainer saw it, when a custom writer owns cfg.json. */
const NND_CONFIG = 'nnd_config.json';
const FORMAT = 'nnd-trainer-state';
const FORMAT_VERSION = 1;
const STEP_DIRECTORY = /^step_(\d+)$/;
const TEMPORARY_DIRECTORY = /^\.step_\d+\.(tmp|old)-[0-9a-f]+$/;

const SAFETENSORS_DTYPES: Record<DType, SafetensorsDType> = { float32: 'F32', float64: 'F64', int64: 'I64', bool: 'BOOL' };
const HOST_DTYPES: Partial<Record<SafetensorsDType, DType>> = { F32: 'float32', F64: 'float64', I64: 'int64', BOOL: 'bool' };

/** The directory a checkpoint after `step` completed steps goes to. */
export function checkpointPath(checkpointDir: string, step: number): string {
  return join(checkpointDir, `step_${step}`);
}

function memberDirectory(checkpoint: { grouped: boolean }, index: number): string {
  return checkpoint.grouped ? `sae_${index}` : '.';
}

/**
 * Writes `checkpointDir/step_{step}` atomically: every file goes into a
 * hidden temporary directory, is flushed to disk, and only then is the
 * directory renamed into place. A crash leaves either no `step_{step}` or a
 * complete one, so the newest `step_*` directory is always usable. Returns
 * the checkpoint's directory.
 */
export async function writeCheckpoint(checkpointDir: string, checkpoint: TrainerCheckpoint): Promise<string> {
  const target = checkpointPath(checkpointDir, checkpoint.step);
  const suffix = randomBytes(6).toString('hex');
  const temporary = join(checkpointDir, `.step_${checkpoint.step}.tmp-${suffix}`);
  try {
    await mkdir(temporary, { recursive: true });
    const stateTensors: Record<string, SafetensorsTensor> = {};
    const members = [];
    for (const [index, member] of checkpoint.members.entries()) {
      const directory = join(temporary, memberDirectory(checkpoint, index));
      await mkdir(directory, { recursive: true });
      if (member.writeFiles) {
        await member.writeFiles(directory);
        // The configuration the run was started with, compared on resume whatever cfg.json holds.
        await writeJson(join(directory, NND_CONFIG), saeLensConfig(member.architecture, member.config));
      } else {
        await writeJson(join(directory, SAE_CONFIG), saeLensConfig(member.architecture, member.config));
        await writeSafetensors(join(directory, SAE_WEIGHTS), toSafetensors(member.params), { format: 'pt' });
      }
      const kinds = {
        ...(member.writeFiles ? { param: member.params } : {}),
        adam_m: member.firstMoments,
        adam_v: member.secondMoments,
        state: member.state,
      } as const;
      for (const [kind, tensors] of Object.entries(kinds)) {
        for (const [name, tensor] of Object.entries(tensors)) stateTensors[stateInputName(index, kind as StateKind, name)] = toSafetensor(tensor);
      }
      members.push({
        directory: memberDirectory(checkpoint, index),
        architecture: member.architecture,
        train_config: member.trainConfig,
        rng_state: member.rngState,
        params: Object.keys(member.params),
        params_file: member.writeFiles ? TRAINER_STATE_SAFETENSORS : SAE_WEIGHTS,
        config_file: member.writeFiles ? NND_CONFIG : SAE_CONFIG,
        state: Object.keys(member.state),
        // JSON has no NaN or infinities; they come back as null and are read as NaN.
        ...(member.lastMetrics === undefined ? {} : { last_metrics: member.lastMetrics }),
      });
    }
    await writeSafetensors(join(temporary, TRAINER_STATE_SAFETENSORS), stateTensors, { format: FORMAT });
    // Written last: its presence marks the directory as complete even if a reader sees it before the rename.
    await writeJson(join(temporary, TRAINER_STATE_JSON), {
      format: FORMAT,
      version: FORMAT_VERSION,
      step: checkpoint.step,
      batches_consumed: checkpoint.batchesConsumed,
      ...(checkpoint.sourcePosition === undefined ? {} : { source_position: checkpoint.sourcePosition }),
      grouped: checkpoint.grouped,
      members,
    });
    await replaceDirectory(temporary, target, join(checkpointDir, `.step_${checkpoint.step}.old-${suffix}`));
    return target;
  } catch (cause) {
    await rm(temporary, { recursive: true, force: true }).catch(() => undefined);
    if (cause instanceof CheckpointError) throw cause;
    throw new CheckpointError(
      `Cannot write the checkpoint for step ${checkpoint.step} to ${JSON.stringify(target)}: ${cause instanceof Error ? cause.message : String(cause)}. ` +
        'Check that the checkpoint directory is writable and has space; earlier checkpoints are untouched.',
      { cause },
    );
  }
}

/** Renames `source` to `target`; an existing `target` (the same step written again) is moved aside first. */
async function replaceDirectory(source: string, target: string, aside: string): Promise<void> {
  const exists = await stat(target).then(
    () => true,
    () => false,
  );
  if (exists) await rename(target, aside);
  // Syncs the finished directory before the rename and the checkpoint directory after it.
  await renameDurably(source, target);
  if (exists) await rm(aside, { recursive: true, force: true });
}

/** Removes temporary directories that an interrupted writer left behind. */
export async function removeIncompleteCheckpoints(checkpointDir: string): Promise<void> {
  const entries = await readdir(checkpointDir).catch(() => [] as string[]);
  await Promise.all(entries.filter((name) => TEMPORARY_DIRECTORY.test(name)).map((name) => rm(join(checkpointDir, name), { recursive: true, force: true })));
}

/**
 * The newest complete checkpoint under `checkpointDir` (the `step_N` with
 * the largest N that has trainer_state.json), or undefined when none exists.
 */
export async function findLatestCheckpoint(checkpointDir: string): Promise<string | undefined> {
  const entries = await readdir(checkpointDir).catch(() => [] as string[]);
  const steps = entries
    .map((name) => STEP_DIRECTORY.exec(name))
    .filter((match): match is RegExpExecArray => match !== null)
    .map((match) => Number(match[1]))
    .sort((a, b) => b - a);
  for (const step of steps) {
    const path = checkpointPath(checkpointDir, step);
    if (
      await stat(join(path, TRAINER_STATE_JSON)).then(
        () => true,
        () => false,
      )
    )
      return path;
  }
  return undefined;
}

/** Reads a checkpoint written by `writeCheckpoint`, checking its format. */
export async function readCheckpoint(path: string): Promise<TrainerCheckpoint> {
  const fail = (problem: string, cause?: unknown) => new CheckpointError(`Cannot read the checkpoint ${JSON.stringify(path)}: ${problem}`, cause === undefined ? {} : { cause });
  let json: unknown;
  try {
    json = JSON.parse(await readFile(join(path, TRAINER_STATE_JSON), 'utf8'));
  } catch (cause) {
    throw fail(`${TRAINER_STATE_JSON} is missing or not JSON (${cause instanceof Error ? cause.message : String(cause)}); pass a step_N directory written by the trainer.`, cause);
  }
  const { format, version } = (typeof json === 'object' && json !== null ? json : {}) as Record<string, unknown>;
  if (format !== FORMAT || version !== FORMAT_VERSION) {
    throw fail(`${TRAINER_STATE_JSON} has format ${JSON.stringify(format)} version ${JSON.stringify(version)}; this trainer reads '${FORMAT}' version ${FORMAT_VERSION}.`);
  }
  const parsed = trainerStateSchema.safeParse(json);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.length > 0 ? issue.path.join('.') : '(top level)'}: ${issue.message}`);
    throw fail(`${TRAINER_STATE_JSON} is malformed (${problems.join('; ')}); it was changed by hand or by another program. Resume from an earlier step_N.`);
  }
  const manifest = parsed.data;
  const stateTensors = await readTensors(resolveInside(path, TRAINER_STATE_SAFETENSORS, TRAINER_STATE_SAFETENSORS), fail);
  const members: MemberCheckpoint[] = [];
  for (const [index, member] of manifest.members.entries()) {
    // The manifest is data: its paths must stay inside the checkpoint (PathOutsideFolderError otherwise).
    const field = `${TRAINER_STATE_JSON} members[${index}]`;
    const directory = resolveInside(path, member.directory, `${field}.directory`);
    const weightsFile = resolveInside(path, SAE_WEIGHTS, `${field}'s ${SAE_WEIGHTS}`, { from: directory });
    const configFile = resolveInside(path, member.config_file, `${field}.config_file`, { from: directory });
    const params =
      member.params_file === TRAINER_STATE_SAFETENSORS
        ? Object.fromEntries(
            member.params.flatMap((name) => {
              const tensor = stateTensors[stateInputName(index, 'param', name)];
              return tensor === undefined ? [] : [[name, tensor]];
            }),
          )
        : await readTensors(weightsFile, fail);
    const pick = (kind: 'adam_m' | 'adam_v' | 'state', names: readonly string[]) =>
      Object.fromEntries(
        names.map((name) => {
          const tensor = stateTensors[stateInputName(index, kind, name)];
          if (tensor === undefined) throw fail(`${TRAINER_STATE_SAFETENSORS} lacks '${stateInputName(index, kind, name)}'.`);
          return [name, tensor];
        }),
      );
    for (const name of member.params) {
      if (params[name] === undefined) throw fail(`${member.params_file === TRAINER_STATE_SAFETENSORS ? TRAINER_STATE_SAFETENSORS : join(member.directory, SAE_WEIGHTS)} lacks parameter '${name}'.`);
    }
    let config: unknown;
    try {
      config = JSON.parse(await readFile(configFile, 'utf8'));
    } catch (cause) {
      throw fail(`${join(member.directory, member.config_file)} is missing or not JSON (${cause instanceof Error ? cause.message : String(cause)}).`, cause);
    }
    members.push({
      architecture: member.architecture,
      config,
      trainConfig: member.train_config,
      rngState: member.rng_state,
      params: Object.fromEntries(member.params.map((name) => [name, params[name]])),
      firstMoments: pick('adam_m', member.params),
      secondMoments: pick('adam_v', member.params),
      state: pick('state', member.state),
      ...(member.last_metrics === undefined ? {} : { lastMetrics: Object.fromEntries(Object.entries(member.last_metrics).map(([name, value]) => [name, value ?? Number.NaN])) }),
    });
  }
  return { step: manifest.step, batchesConsumed: manifest.batches_consumed, sourcePosition: manifest.source_position, grouped: manifest.grouped, members };
}

const isObject = (value: unknown): boolean => typeof value === 'object' && value !== null && !Array.isArray(value);

/** trainer_state.json as `writeCheckpoint` writes it; the train config itself is checked against the run's on resume. */
const trainerStateSchema = z.object({
  format: z.literal(FORMAT),
  version: z.literal(FORMAT_VERSION),
  step: z.number().int().nonnegative(),
  batches_consumed: z.number().int().nonnegative(),
  /** The source's own record of where it stood; the source checks it when it seeks. */
  source_position: z.unknown().optional(),
  grouped: z.boolean(),
  members: z
    .array(
      z.object({
        directory: z.string(),
        architecture: z.string(),
        train_config: z.custom<TrainConfig>(isObject, 'expected an object'),
        rng_state: z.custom<RngState>(isObject, 'expected an object'),
        params: z.array(z.string()),
        /** Where the raw parameters are: the SAELens weights file, or trainer_state.safetensors when a custom writer made the former. */
        params_file: z.enum([SAE_WEIGHTS, TRAINER_STATE_SAFETENSORS]),
        config_file: z.enum([SAE_CONFIG, NND_CONFIG]),
        state: z.array(z.string()),
        last_metrics: z.record(z.string(), z.number().nullable()).optional(),
      }),
    )
    .min(1),
});

/**
 * cfg.json's contents: the decomposition's config fields plus `architecture`,
 * which SAELens and our loaders dispatch on. Round-tripped through JSON so it
 * compares equal to what a reader parses back.
 */
export function saeLensConfig(architecture: string, config: unknown): Record<string, unknown> {
  const fields = typeof config === 'object' && config !== null && !Array.isArray(config) ? config : { config };
  return JSON.parse(JSON.stringify({ ...fields, architecture })) as Record<string, unknown>;
}

function toSafetensor(tensor: HostTensor): SafetensorsTensor {
  return fromTypedArray(SAFETENSORS_DTYPES[tensor.dtype], tensor.shape, tensor.data as Float32Array);
}

function toSafetensors(tensors: Readonly<Record<string, HostTensor>>): Record<string, SafetensorsTensor> {
  return Object.fromEntries(Object.entries(tensors).map(([name, tensor]) => [name, toSafetensor(tensor)]));
}

async function readTensors(file: string, fail: (problem: string, cause?: unknown) => CheckpointError): Promise<Record<string, HostTensor>> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(file);
  } catch (cause) {
    throw fail(`cannot read ${file} (${cause instanceof Error ? cause.message : String(cause)}).`, cause);
  }
  const { tensors } = readSafetensors(bytes, { source: file });
  const result: Record<string, HostTensor> = {};
  for (const [name, tensor] of tensors) {
    const dtype = HOST_DTYPES[tensor.dtype];
    if (dtype === undefined) throw fail(`${file} stores '${name}' as ${tensor.dtype}; checkpoints hold F32, F64, I64 or BOOL.`);
    result[name] = hostTensor(dtype, tensor.shape, toTypedArray(tensor) as Float32Array);
  }
  return result;
}

async function writeJson(path: string, value: unknown): Promise<void> {
  const handle = await open(path, 'wx');
  try {
    await handle.writeFile(`${JSON.stringify(value, null, 2)}\n`);
    await handle.sync();
  } finally {
    await handle.close();
  }
}
