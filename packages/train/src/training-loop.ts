import { checkDecomposition, ConfigError, hostTensor, Rng, streamsOf, type Backend, type Decomposition, type DeviceTensor, type Feed, type HostTensor, type Program } from '@nnd/core';
import { readBatch, seekSource, type ActivationSource } from './activation-source.js';
import { hostBytesOf, RELEASE_MIN_BYTES, releaseHostMemory } from './host-memory-release.js';
import { readCheckpoint, removeIncompleteCheckpoints, writeCheckpoint, type MemberCheckpoint } from './checkpoint.js';
import { InterruptWatcher, signalExitCode, type InterruptSignal } from './interrupt-watcher.js';
import { noopLogger, type ExitSummary, type Logger } from './logger.js';
import { checkResumable, resolveCheckpoint } from './resume.js';
import { batchInputName, frozenInputName, lrScaleInputName, randomInputName, STATE_KINDS, STEP_INPUT, stateInputName, stateOutputName, type StateKind } from './step-names.js';
import { isConstantSchedule, lrScale } from './lr-schedule.js';
import { lrScheduleOf, parseTrainConfig, totalSteps, type TrainConfig } from './train-config.js';
import { TrainingDivergedError } from './training-diverged-error.js';
import { ADAM_EPSILON, buildTrainingStep, specOf, type StepMember } from './training-step.js';

/** One decomposition's tensors in host memory, as `onEvaluate` and the result hand them out (copies). */
export interface DecompositionSnapshot {
  /** Position in the group (0 for `trainDecomposition`). */
  readonly index: number;
  readonly decomposition: Decomposition;
  readonly params: Record<string, HostTensor>;
  readonly state: Record<string, HostTensor>;
}

/**
 * Called every `perf_log_freq` steps, before step `step` runs, with the
 * parameters after `step` updates (the seed's `log_model_performance`).
 */
export type EvaluateCallback = (step: number, members: readonly DecompositionSnapshot[]) => void | Promise<void>;

/** Writes one decomposition's files into a checkpoint directory, e.g. `saveSae` from @nnd/sae. */
export type DecompositionFilesWriter<D extends Decomposition = Decomposition> = (
  directory: string,
  decomposition: D,
  params: Record<string, HostTensor>,
  state: Record<string, HostTensor>,
) => Promise<void>;

export interface TrainOptions<D extends Decomposition = Decomposition> {
  backend: Backend;
  /** Receives the metrics every `log_freq` steps; defaults to a no-op. */
  logger?: Logger;
  onEvaluate?: EvaluateCallback;
  /** Where `step_N` checkpoints go (every `checkpoint_freq` steps, at the end and on interrupt); none are written without it. */
  checkpointDir?: string;
  /**
   * Writes each decomposition's files in a checkpoint, e.g. `saveSae` from
   * @nnd/sae for exact SAELens files. By default the trainer writes cfg.json
   * (the config with `architecture`) and the raw parameters.
   */
  saveFiles?: DecompositionFilesWriter<D>;
  /**
   * A `step_N` checkpoint directory to continue from, or a checkpoint
   * directory whose newest complete checkpoint is taken. The source is moved
   * to the recorded data position (see ActivationSource).
   */
  resumeFrom?: string;
  /**
   * Per member, the parameters (and optionally the state) to start from
   * instead of drawing them from the config's seed: weights another tool
   * wrote, a decomposition trained before, or `initialTrainingParams` from
   * @nnd/core (a plain run's start, which trains identically and is not
   * prepared a second time). Shapes must be the ones the decomposition
   * draws; missing state starts from `initialState()`.
   * Ignored when resuming (the checkpoint has them).
   */
  initialTensors?: readonly (InitialTensors | undefined)[];
  /** Aborting finishes the current step, writes a checkpoint and returns with status 'interrupted'. */
  signal?: AbortSignal;
  /**
   * While training, SIGINT, SIGTERM or SIGHUP finishes the step, writes a
   * checkpoint, awaits `logger.finish` and exits the process with code
   * 128 + the signal's number (130, 143, 129); a second signal exits at
   * once. Default true.
   */
  handleSignals?: boolean;
  /**
   * Receives one line per optimizer setting that a resume changes ("resuming
   * with lr 0.0001 (the checkpoint trained with 0.0003)"). Default: stderr.
   */
  warn?: (line: string) => void;
}

export interface GroupTrainResult {
  readonly status: 'completed' | 'interrupted';
  /** Optimizer steps completed, counting those before a resume. */
  readonly step: number;
  /** The newest checkpoint this run wrote, if any. */
  readonly checkpoint: string | undefined;
  readonly members: readonly DecompositionSnapshot[];
  /** The last step's metrics, named as logged. */
  readonly metrics: Readonly<Record<string, number>> | undefined;
}

/** Train config keys that drive the shared loop and so must agree across a group. */
const SHARED_KEYS = ['num_tokens', 'batch_size', 'log_freq', 'perf_log_freq', 'checkpoint_freq'] as const;

type TensorsByKind = Record<StateKind, Record<string, HostTensor>>;

interface Member<D extends Decomposition> {
  readonly decomposition: D;
  readonly config: TrainConfig;
  readonly rng: Rng;
}

/** What a run starts from: fresh parameters, or a checkpoint. */
interface Start<D extends Decomposition> {
  readonly members: Member<D>[];
  readonly tensors: TensorsByKind[];
  readonly step: number;
  readonly batchesConsumed: number;
  readonly sourcePosition?: unknown;
  readonly checkpoint: string | undefined;
  /** Each member's metrics of the step before the start, when a checkpoint recorded them. */
  readonly memberMetrics?: Record<string, number>[];
}

/**
 * Trains a group of decompositions on one source, one batch per step, all
 * in one compiled program. With `grouped` false there is one member, metric
 * names carry no suffix and its checkpoint directory is an SAELens directory.
 */
export async function runTraining<D extends Decomposition>(
  caller: string,
  decompositions: readonly D[],
  source: ActivationSource,
  configInputs: readonly unknown[],
  options: TrainOptions<D>,
  grouped: boolean,
): Promise<GroupTrainResult> {
  const { backend, logger = noopLogger, onEvaluate, checkpointDir, saveFiles, signal, handleSignals = true } = options;
  const configs = parseConfigs(caller, decompositions, configInputs, backend);
  const streams = streamsOf(decompositions);
  const loop = configs[0];
  const steps = totalSteps(loop);
  let start: Start<D> =
    options.resumeFrom === undefined
      ? freshStart(caller, decompositions, configs, options.initialTensors ?? [])
      : await resumedStart(options.resumeFrom, decompositions, configs, grouped, options.warn ?? ((line) => process.stderr.write(`${line}\n`)));
  const { members } = start;
  // Names only: the tensors themselves are dropped once uploaded, so that host copies do not live as long as the run.
  const names = start.tensors.map((kinds) => Object.fromEntries(STATE_KINDS.map((kind) => [kind, Object.keys(kinds[kind])])) as Record<StateKind, string[]>);
  let hostTensors: TensorsByKind[] | undefined = start.tensors;

  if (checkpointDir !== undefined) await removeIncompleteCheckpoints(checkpointDir);
  if (start.batchesConsumed > 0) await seekSource(source, start.batchesConsumed, start.sourcePosition);

  const watcher = new InterruptWatcher(signal, handleSignals);
  const suffix = (index: number) => (grouped ? `_${index}` : '');
  const programs = new Map<string, CompiledStep>();
  /** Each member's metrics of the step before, unsuffixed: what its forward variants are chosen from. */
  let memberMetrics: Record<string, number>[] | undefined = start.memberMetrics;
  let feeds: Record<string, DeviceTensor> = {};
  const constantFeeds: Record<string, DeviceTensor> = {};
  const frozenTensors = members.map(({ decomposition }) => decomposition.frozenInputs?.());
  let batchesConsumed = start.batchesConsumed;
  let completed = start.step;
  let lastWrittenStep = start.step;
  let lastCheckpoint: string | undefined;
  let lastGoodCheckpoint = start.checkpoint;
  let lastMetrics: Record<string, number> | undefined;

  /** One member's tensors of one kind, from the device (or the start tensors before the first upload). */
  const read = async (index: number, kind: StateKind, copy: boolean): Promise<Record<string, HostTensor>> => {
    const result: Record<string, HostTensor> = {};
    for (const name of names[index][kind]) {
      const host = hostTensors ? hostTensors[index][kind][name] : await feeds[stateInputName(index, kind, name)].toHost();
      result[name] = copy ? { dtype: host.dtype, shape: [...host.shape], data: host.data.slice() as typeof host.data } : host;
    }
    return result;
  };
  const snapshot = async (): Promise<DecompositionSnapshot[]> =>
    Promise.all(members.map(async ({ decomposition }, index) => ({ index, decomposition, params: await read(index, 'param', true), state: await read(index, 'state', true) })));

  const checkpoint = async (): Promise<void> => {
    if (checkpointDir === undefined || completed === lastWrittenStep) return;
    const saved: MemberCheckpoint[] = [];
    for (const [index, member] of members.entries()) {
      const params = await read(index, 'param', false);
      const state = await read(index, 'state', false);
      for (const [name, tensor] of Object.entries(params)) {
        if (!(tensor.data as Float32Array).every(Number.isFinite)) {
          throw new TrainingDivergedError(
            `Training diverged: after step ${completed - 1} parameter '${name}'${suffix(index)} holds NaN or infinite values, so no checkpoint was written. ` +
              `The last good checkpoint is ${lastGoodCheckpoint ?? '(none written)'}; lower lr or max_grad_norm and resume from it.`,
            { step: completed - 1, lastCheckpoint: lastGoodCheckpoint },
          );
        }
      }
      saved.push({
        architecture: member.decomposition.architecture,
        config: member.decomposition.config,
        trainConfig: member.config,
        rngState: member.rng.state(),
        params,
        firstMoments: await read(index, 'adam_m', false),
        secondMoments: await read(index, 'adam_v', false),
        state,
        ...(memberMetrics === undefined ? {} : { lastMetrics: memberMetrics[index] }),
        writeFiles: saveFiles && ((directory) => saveFiles(directory, member.decomposition, params, state)),
      });
    }
    // Every batch read has been trained on, so the source's position is the one after batchesConsumed batches.
    lastCheckpoint = await writeCheckpoint(checkpointDir, { step: completed, batchesConsumed, sourcePosition: source.resumePosition?.(), grouped, members: saved });
    lastGoodCheckpoint = lastCheckpoint;
    lastWrittenStep = completed;
  };

  let failure: unknown;
  try {
    if (completed < steps) {
      const batchFeeds = (batch: Record<string, Feed>) => Object.fromEntries(Object.entries(batch).map(([hook, rows]) => [batchInputName(hook), rows]));
      let batch = batchFeeds(await readBatch(source, loop.batch_size, streams));
      batchesConsumed++;
      // Built by a function of its own: a closure here over the start tensors would keep every host copy (parameters,
      // both Adam moments) alive beside the device's for the whole run, since the compile closures below share its scope.
      const stepMembers = stepMembersOf(members, hostTensors!, frozenTensors);
      // Frozen inputs (a frozen model's weights) are uploaded once and fed to every step.
      for (const [index, tensors] of frozenTensors.entries()) {
        for (const [name, tensor] of Object.entries(tensors ?? {})) constantFeeds[frozenInputName(index, name)] = await backend.upload(tensor);
      }
      const schedules = members.map(({ config }) => lrScheduleOf(config));
      const scheduled = schedules.map((schedule) => !isConstantSchedule(schedule));
      const randomShapes = members.map(({ decomposition }) => decomposition.randomInputs?.(loop.batch_size) ?? {});
      /** The per-step feeds beyond the batch: each member's learning-rate factor and random tensors, drawn from its Rng. */
      const stepFeeds = (step: number): Record<string, Feed> => {
        const result: Record<string, Feed> = {};
        members.forEach(({ rng }, index) => {
          if (scheduled[index]) result[lrScaleInputName(index)] = hostTensor('float64', [], [lrScale(step, steps, schedules[index])]);
          for (const [name, shape] of Object.entries(randomShapes[index])) {
            result[randomInputName(index, name)] = hostTensor('float32', shape, rng.uniformFloat32(shape.reduce((product, size) => product * size, 1)));
          }
        });
        return result;
      };
      // One program per combination of forward variants, compiled when first needed. Metrics are a
      // handful of scalars: always fetching them costs one tiny copy, lets every step's loss be
      // checked and the next step's variants be chosen.
      const compileStep = async (variants: readonly (string | undefined)[]): Promise<CompiledStep> => {
        const trainingStep = buildTrainingStep(stepMembers, loop.batch_size, variants, { totalSteps: steps });
        const metricNames = trainingStep.metricOutputs.flatMap((outputs) => Object.values(outputs));
        const compiled = await backend.compile(trainingStep.graph, { outputs: trainingStep.outputs, hostOutputs: metricNames });
        return { program: compiled, metricOutputs: trainingStep.metricOutputs, metricNames };
      };
      const keyOf = (variants: readonly (string | undefined)[]) => JSON.stringify(members.map((_, index) => variants[index] ?? null));
      // The full forward's metric names, from its graph alone: it is compiled only if a step takes it (a short run may never).
      const fullMetrics = members.some(({ decomposition }) => (decomposition.variants?.length ?? 0) > 0)
        ? buildTrainingStep(stepMembers, loop.batch_size, [], { totalSteps: steps }).metricOutputs
        : undefined;
      const programFor = async (variants: readonly (string | undefined)[]): Promise<CompiledStep> => {
        const key = keyOf(variants);
        let compiled = programs.get(key);
        if (!compiled) {
          compiled = await compileStep(variants);
          if (fullMetrics !== undefined) checkSameMetrics(compiled.metricOutputs, fullMetrics, variants);
          programs.set(key, compiled);
        }
        return compiled;
      };
      // A run's first step has no step before it: its variants are chosen from the state it starts from (or the checkpoint's metrics, below).
      const startVariants = variantsAtStart(members, hostTensors!);
      feeds = await uploadStartTensors(backend, hostTensors!);
      hostTensors = undefined;
      // `start` held them too: without this, one host copy of every parameter and moment lived as long as the run.
      start = { ...start, tensors: [] };

      for (let step = completed; step < steps; step++) {
        // An interrupt that arrived before this step (or before training) stops here; one during a step lets it finish.
        if (watcher.requested) break;
        if (onEvaluate && step % loop.perf_log_freq === 0) await onEvaluate(step, await snapshot());
        if (step > start.step) {
          batch = batchFeeds(await readBatch(source, loop.batch_size, streams));
          batchesConsumed++;
        }
        const variants =
          memberMetrics === undefined ? startVariants : members.map(({ decomposition }, index) => decomposition.variants?.find((variant) => variant.applies(memberMetrics![index]))?.name);
        const { program, metricOutputs, metricNames } = await programFor(variants);
        const outputs = await program.run({ ...feeds, ...constantFeeds, ...batch, ...stepFeeds(step), [STEP_INPUT]: hostTensor('float64', [], [step + 1]) });

        const metrics: Record<string, number> = {};
        const stepMemberMetrics: Record<string, number>[] = [];
        for (const [index, outputNames] of metricOutputs.entries()) {
          const own: Record<string, number> = {};
          for (const [metric, output] of Object.entries(outputNames)) {
            own[metric] = Number((await outputs[output].toHost()).data[0]);
            metrics[`${metric}${suffix(index)}`] = own[metric];
          }
          stepMemberMetrics.push(own);
        }
        const badLoss = members.map((_, index) => `loss${suffix(index)}`).find((name) => !Number.isFinite(metrics[name]));
        if (badLoss !== undefined) {
          for (const tensor of Object.values(outputs)) tensor.dispose();
          throw new TrainingDivergedError(
            `Training diverged at step ${step}: ${badLoss} is ${metrics[badLoss]}. The step's results were discarded; ` +
              `the last good checkpoint is ${lastGoodCheckpoint ?? '(none written)'}. Lower lr or max_grad_norm and resume from it.`,
            { step, lastCheckpoint: lastGoodCheckpoint },
          );
        }

        const next: Record<string, DeviceTensor> = {};
        for (const [index, kinds] of names.entries()) {
          for (const kind of STATE_KINDS) {
            for (const name of kinds[kind]) next[stateInputName(index, kind, name)] = outputs[stateOutputName(index, kind, name)];
          }
        }
        for (const name of metricNames) outputs[name].dispose();
        const released = hostBytesOf(Object.values(feeds));
        for (const tensor of Object.values(feeds)) tensor.dispose();
        feeds = next;
        if (released >= RELEASE_MIN_BYTES) releaseHostMemory();
        completed = step + 1;
        lastMetrics = metrics;
        memberMetrics = stepMemberMetrics;

        if (step % loop.log_freq === 0) await logger.log(metrics, step);
        if (completed % loop.checkpoint_freq === 0 || completed === steps || watcher.requested) await checkpoint();
      }
    }
    const trained = await snapshot();
    if (watcher.fromSignal !== undefined) {
      process.stderr.write(`Interrupted by ${watcher.fromSignal} after step ${completed - 1}; ${lastCheckpoint ? `checkpoint written to ${lastCheckpoint}` : 'no checkpointDir, so no checkpoint'}.\n`);
    }
    return { status: watcher.requested && completed < steps ? 'interrupted' : 'completed', step: completed, checkpoint: lastCheckpoint, members: trained, metrics: lastMetrics };
  } catch (error) {
    failure = error;
    throw error;
  } finally {
    // The watcher stays installed while the logger finishes, so a second signal still exits at once.
    const fromSignal = watcher.fromSignal;
    if (fromSignal !== undefined) {
      const ended = { steps: completed, checkpoint: lastCheckpoint ?? null };
      await finishBeforeExit(
        logger,
        failure === undefined ? { status: completed < steps ? 'interrupted' : 'completed', ...ended } : { status: 'failed', ...ended, error: messageOf(failure) },
        fromSignal,
      );
    }
    watcher.dispose();
    for (const tensor of Object.values(feeds)) tensor.dispose();
    for (const tensor of Object.values(constantFeeds)) tensor.dispose();
    for (const { program } of programs.values()) await program.dispose();
    if (fromSignal !== undefined) process.exit(signalExitCode(fromSignal));
  }
}

/**
 * Exiting on a signal skips the caller's code after `trainDecomposition`, so the logger
 * is finished here; an error the exit would swallow is printed first.
 */
async function finishBeforeExit(logger: Logger, summary: ExitSummary, signal: InterruptSignal): Promise<void> {
  if (summary.error !== undefined) process.stderr.write(`Training failed after ${signal}: ${summary.error}\n`);
  try {
    await logger.finish?.(summary);
  } catch (error) {
    process.stderr.write(`The logger's finish failed before exiting on ${signal}: ${messageOf(error)}\n`);
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

interface CompiledStep {
  readonly program: Program;
  /** Per member: metric name to program output name. */
  readonly metricOutputs: readonly Record<string, string>[];
  readonly metricNames: readonly string[];
}

/**
 * Each member's variant for a run's first step when no metrics of a step
 * before are known: the first whose `appliesAtStart` holds for the state the
 * run starts from, else the full forward.
 */
function variantsAtStart(members: readonly { decomposition: Decomposition }[], tensors: readonly TensorsByKind[]): (string | undefined)[] {
  return members.map(({ decomposition }, index) => decomposition.variants?.find((variant) => variant.appliesAtStart?.(tensors[index].state) === true)?.name);
}

/**
 * Every member's start tensors on the backend, under their step input names. A function of its own: an async
 * function's loop variables stay alive across its later awaits, which kept the last member's host copies (every
 * parameter and moment, 226 MB for a TopK SAE at GPT-2-small size) for the whole run.
 */
async function uploadStartTensors(backend: Backend, tensors: readonly TensorsByKind[]): Promise<Record<string, DeviceTensor>> {
  const feeds: Record<string, DeviceTensor> = {};
  for (const [index, kinds] of tensors.entries()) {
    for (const kind of STATE_KINDS) {
      for (const [name, tensor] of Object.entries(kinds[kind])) feeds[stateInputName(index, kind, name)] = await backend.upload(tensor);
    }
  }
  return feeds;
}

/** What the step builder needs of each member: its parameters' and state's shapes, Adam's settings and the clipping norm. */
function stepMembersOf(
  members: readonly { decomposition: Decomposition; config: TrainConfig }[],
  tensors: readonly TensorsByKind[],
  frozenTensors: readonly (Record<string, HostTensor> | undefined)[],
): StepMember[] {
  return members.map(({ decomposition, config }, index) => ({
    decomposition,
    params: Object.fromEntries(Object.entries(tensors[index].param).map(([name, tensor]) => [name, specOf(tensor)])),
    state: Object.fromEntries(Object.entries(tensors[index].state).map(([name, tensor]) => [name, specOf(tensor)])),
    adam: { lr: config.lr, beta1: config.beta1, beta2: config.beta2, epsilon: ADAM_EPSILON },
    maxGradNorm: config.max_grad_norm,
    lrSchedule: lrScheduleOf(config),
    ...(frozenTensors[index] === undefined ? {} : { frozen: Object.fromEntries(Object.entries(frozenTensors[index]!).map(([name, tensor]) => [name, specOf(tensor)])) }),
  }));
}

/** Variants must report what the full forward reports, or logs would change shape from step to step. */
function checkSameMetrics(actual: readonly Record<string, string>[], expected: readonly Record<string, string>[], variants: readonly (string | undefined)[]): void {
  for (const [index, names] of expected.entries()) {
    const want = Object.keys(names).sort().join(', ');
    const got = Object.keys(actual[index]).sort().join(', ');
    if (want !== got) {
      throw new ConfigError(
        `Forward variant '${variants[index]}' of decomposition ${index} reports losses and metrics [${got}], but the full forward reports [${want}]; a variant must report the same names.`,
      );
    }
  }
}

function parseConfigs(caller: string, decompositions: readonly Decomposition[], inputs: readonly unknown[], backend: Backend): TrainConfig[] {
  if (decompositions.length === 0) throw new ConfigError(`${caller}: no decompositions given; pass at least one.`);
  if (inputs.length !== decompositions.length) {
    throw new ConfigError(`${caller}: ${decompositions.length} decompositions but ${inputs.length} configs; pass one train config per decomposition.`);
  }
  if (backend?.specificationVersion !== 'nnd-backend-v1') {
    throw new ConfigError(`${caller}: options.backend has specificationVersion ${JSON.stringify(backend?.specificationVersion)}; pass a 'nnd-backend-v1' Backend (e.g. createOnnxBackend()).`);
  }
  decompositions.forEach((decomposition, index) => checkDecomposition(decomposition, `${caller} (decomposition ${index})`));
  const configs = inputs.map((input) => parseTrainConfig(input));
  for (const key of SHARED_KEYS) {
    configs.forEach((config, index) => {
      if (config[key] !== configs[0][key]) {
        throw new ConfigError(
          `${caller}: '${key}' is ${configs[0][key]} in config 0 but ${config[key]} in config ${index}; the members of a group share the loop, so ${SHARED_KEYS.join(', ')} must agree.`,
        );
      }
    });
  }
  return configs;
}

/** What a member starts from instead of its seed's draw (see TrainOptions.initialTensors). */
export interface InitialTensors {
  readonly params: Readonly<Record<string, HostTensor>>;
  readonly state?: Readonly<Record<string, HostTensor>>;
}

/** Parameters drawn from each member's `seed` (or given), zero Adam moments, the decomposition's initial state (or given). */
function freshStart<D extends Decomposition>(caller: string, decompositions: readonly D[], configs: readonly TrainConfig[], given: readonly (InitialTensors | undefined)[]): Start<D> {
  if (given.length > decompositions.length) {
    throw new ConfigError(`${caller}: initialTensors has ${given.length} entries for ${decompositions.length} decompositions; pass at most one per decomposition.`);
  }
  const members = decompositions.map((decomposition, index) => ({ decomposition, config: configs[index], rng: new Rng(configs[index].seed) }));
  const tensors = members.map(({ decomposition, rng }, index): TensorsByKind => {
    // Drawn also when parameters are given: the draw checks their shapes and leaves the member's Rng where a plain run's is.
    // Only a draw is prepared (SPD's faithfulness warm-up), so given parameters are never prepared again.
    const drawn = decomposition.initialParams(rng);
    const param = given[index] === undefined ? (decomposition.prepareInitialParams?.(drawn) ?? drawn) : checkedTensors(caller, index, 'parameter', given[index]!.params, drawn);
    for (const [name, tensor] of Object.entries(param)) {
      if (tensor.dtype !== 'float32') {
        throw new ConfigError(`${caller}: parameter '${name}' of decomposition ${index} ('${decomposition.architecture}') is ${tensor.dtype}; the trainer's Adam runs on float32 parameters.`);
      }
    }
    const initialState = decomposition.initialState();
    const givenState = given[index]?.state;
    const state = givenState === undefined ? initialState : checkedTensors(caller, index, 'state tensor', givenState, initialState);
    const zeros = () => Object.fromEntries(Object.entries(param).map(([name, tensor]) => [name, hostTensor('float32', tensor.shape, new Float32Array(tensor.data.length))]));
    return { param, adam_m: zeros(), adam_v: zeros(), state };
  });
  return { members, tensors, step: 0, batchesConsumed: 0, checkpoint: undefined };
}

/** Given tensors must be exactly the decomposition's own, by name, shape and dtype; copies, so training never writes into the caller's arrays. */
function checkedTensors(caller: string, index: number, what: string, given: Readonly<Record<string, HostTensor>>, expected: Readonly<Record<string, HostTensor>>): Record<string, HostTensor> {
  const expectedNames = Object.keys(expected).sort();
  const givenNames = Object.keys(given).sort();
  if (expectedNames.join() !== givenNames.join()) {
    throw new ConfigError(`${caller}: initialTensors[${index}] has ${what}s {${givenNames.join(', ')}}, but the decomposition has {${expectedNames.join(', ')}}; give exactly those.`);
  }
  return Object.fromEntries(
    expectedNames.map((name) => {
      const tensor = given[name];
      const want = expected[name];
      if (tensor.dtype !== want.dtype || tensor.shape.length !== want.shape.length || tensor.shape.some((dim, axis) => dim !== want.shape[axis])) {
        throw new ConfigError(
          `${caller}: initialTensors[${index}] ${what} '${name}' is ${tensor.dtype} [${tensor.shape.join(', ')}]; the decomposition needs ${want.dtype} [${want.shape.join(', ')}].`,
        );
      }
      return [name, { dtype: tensor.dtype, shape: [...tensor.shape], data: tensor.data.slice() as typeof tensor.data }];
    }),
  );
}

async function resumedStart<D extends Decomposition>(
  resumeFrom: string,
  decompositions: readonly D[],
  configs: readonly TrainConfig[],
  grouped: boolean,
  warn: (line: string) => void,
): Promise<Start<D>> {
  const path = await resolveCheckpoint(resumeFrom);
  const checkpoint = await readCheckpoint(path);
  for (const line of checkResumable(checkpoint, decompositions, configs, grouped, path)) warn(line);
  return {
    members: decompositions.map((decomposition, index) => ({ decomposition, config: configs[index], rng: new Rng(checkpoint.members[index].rngState) })),
    tensors: checkpoint.members.map((member) => ({
      param: { ...member.params },
      adam_m: { ...member.firstMoments },
      adam_v: { ...member.secondMoments },
      state: { ...member.state },
    })),
    step: checkpoint.step,
    batchesConsumed: checkpoint.batchesConsumed,
    sourcePosition: checkpoint.sourcePosition,
    checkpoint: path,
    ...(checkpoint.members.every((member) => member.lastMetrics !== undefined) ? { memberMetrics: checkpoint.members.map((member) => ({ ...member.lastMetrics! })) } : {}),
  };
}
