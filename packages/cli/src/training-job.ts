import { DATASET_START, type DatasetPosition } from '@nnd/activations';
import { removeStaleTemporaries } from '@nnd/core';
import { createConsoleSink, createLogger, lockRunDirectory, runDirectoryFor, type RunDirectoryLock, type RunLogger } from '@nnd/logging';
import { loadRuns, writeReport } from '@nnd/results';
import { streamsOf } from '@nnd/core';
import {
  createPerformanceEvaluator,
  trainDecomposition,
  trainDecompositionGroup,
  type GroupTrainResult,
  type DecompositionEvaluation,
  type DecompositionFilesWriter,
  type DecompositionSnapshot,
} from '@nnd/train';
import { join, relative } from 'node:path';
import { activationModel, harvestSettings, hookWidthOf, openActivationSource } from './activation-stream.js';
import type { CliIo } from './cli-io.js';
import { EVALUATION_START_KEY, evaluationBatches, evaluationRows, heldOutStart, tokensIn } from './evaluation-batches.js';
import { groupLogger } from './group-logger.js';
import { InterruptedError } from './interrupted-error.js';
import { interruptSignalOf } from './interrupt-watcher.js';
import { setAsidePreviousRun } from './previous-run.js';
import { JobResources } from './job-resources.js';
import { writeRunDashboards } from './dashboard-command.js';
import { familyNamed } from './decomposition-families.js';
import { runModelTrainingJob } from './model-training-job.js';
import { checkTrainingMemory, widthsKnown } from './memory-check.js';
import { resumedMemberNames } from './resumed-run-names.js';
import { trainConfigOf } from './member-configs.js';
import { DEFAULT_WANDB_PROJECT, memberConfigs, type MemberConfig, type RunConfig } from './run-config.js';

/** Tokens the dashboard at the end of a training job reads (`dashboard_features`); `nnd dashboard` reads more by default. */
export const DEFAULT_RUN_DASHBOARD_TOKENS = 65_536;

/** The report a training job writes into the first run directory. */
export const REPORT_FILE = 'report.html';

export interface TrainingJobOptions {
  /**
   * A checkpoint (`step_N`) or a checkpoint directory to continue from; the
   * run directories are then continued. Without it, run directories of the
   * same names are moved aside first.
   */
  resumeFrom?: string;
  /** Shared with other jobs of the same command (a sweep loads its model once); disposed by the caller. */
  resources?: JobResources;
  /** Write the HTML report (default true; a sweep writes one report at the end instead). */
  report?: boolean;
}

export interface TrainedRun {
  readonly name: string;
  readonly runDirectory: string;
  readonly config: MemberConfig;
  /** The trainer's last checkpoint (`step_N`, or its `sae_{index}` for a group): what `--resume` and `nnd eval` read. */
  readonly checkpoint: string | undefined;
  /** The trained decomposition's folder, `{run directory}/{family directory}` (`sae/` in SAELens's layout for SAEs). */
  readonly decomposition: string;
  readonly evaluation: DecompositionEvaluation;
}

export interface TrainingJobResult {
  readonly runs: readonly TrainedRun[];
  /** The HTML report, when one was written. */
  readonly report: string | undefined;
}

/**
 * The main job: trains the run's SAEs (several `sae_type`s share one
 * activation stream) with a progress bar, logs the reference's performance
 * metrics every `perf_log_freq` steps, evaluates each SAE on held-out tokens
 * at the end, and writes one run directory per SAE plus an HTML report.
 * A Ctrl-C (io.signal) checkpoints, closes the run directories and throws
 * InterruptedError.
 */
export async function runTrainingJob(config: RunConfig, io: CliIo, options: TrainingJobOptions = {}): Promise<TrainingJobResult> {
  const log = (message: string) => io.stderr(`${message}\n`);
  // Decompositions of the model's own weights (SPD) train on token batches through the model: their own job.
  if (familyNamed(config.decomposition).trainsThroughModel) return runModelTrainingJob(config, familyNamed(config.decomposition), io, options);
  const ownResources = options.resources === undefined;
  // Sizes that cannot fit fail here, in a second, rather than as a RangeError after the model loaded and harvested;
  // widths left to the model count as 0 here (a lower bound) and are checked again as soon as the model is loaded.
  const early = widthsKnown(memberConfigs(config));
  const earlyWarning = checkTrainingMemory(config, memberConfigs(config));
  if (early && earlyWarning !== undefined) log(earlyWarning);
  // One writer per run directory, taken before anything is loaded, moved aside or written.
  const locks = lockRunDirectories(memberConfigs(config).map((member) => runDirectoryFor(config.run_dir, member.name)));
  const resources = options.resources ?? new JobResources(io.env);
  try {
    log(`Loading ${config.model_name} on ${config.backend}/${config.device} ...`);
    const model = await resources.model(config);
    const activations = activationModel(model, config);
    const family = familyNamed(config.decomposition);
    const members = options.resumeFrom === undefined ? memberConfigs(config) : await resumedMemberNames(memberConfigs(config), options.resumeFrom);
    const grouped = members.length > 1;
    const decompositions = family.members(config, hookWidthOf(activations)).map((member) => family.create(member.config));
    if (!early) {
      const width = (ports: readonly { width: number }[]) => ports.reduce((sum, port) => sum + port.width, 0);
      const sized = decompositions.map((decomposition, index) => ({ ...members[index], input_size: width(decomposition.reads), output_size: width(decomposition.writes), act_size: undefined }));
      // An SAE reads and writes one stream: its width once.
      const memoryWarning = checkTrainingMemory(
        config,
        sized.map((member, index) =>
          decompositions[index].reads[0].hook === decompositions[index].writes[0].hook ? { ...member, act_size: member.input_size, input_size: undefined, output_size: undefined } : member,
        ),
      );
      if (memoryWarning !== undefined) log(memoryWarning);
    }
    const settings = await harvestSettings(activations, config, log);
    const source = await openActivationSource(activations, config, streamsOf(decompositions), log);
    throwIfInterrupted(io);

    const runDirectories = members.map((member) => runDirectoryFor(config.run_dir, member.name));
    const checkpointDirectory = join(runDirectories[0], 'checkpoints');
    if (options.resumeFrom === undefined) {
      for (const directory of runDirectories) {
        const aside = await setAsidePreviousRun(directory);
        if (aside !== undefined) log(`${directory} held an earlier run; it was moved to ${aside}.`);
      }
    }
    // A run killed while writing (its final sae/ files, summary.json) leaves temporary files that nothing else removes; the lock says no one writes them now.
    for (const directory of runDirectories) {
      const removed = await removeStaleTemporaries(directory, { recursive: true });
      if (removed.length > 0) log(`Removed ${removed.length} temporary file(s) a killed run left in ${directory}.`);
    }
    // On only when asked: `wandb`, a `wandb_project` written in the config (the schema gives it no default), or a key.
    const wandb = config.wandb ?? (config.wandb_project !== undefined || Boolean(io.env.WANDB_API_KEY));
    const wandbProject = config.wandb_project ?? DEFAULT_WANDB_PROJECT;
    const loggers: RunLogger[] = members.map((member) => createLogger({ runsDirectory: config.run_dir, name: member.name, console: false, env: io.env }));
    // One progress bar for the run, fed the training metrics only (of the first SAE of a group), and closed before evaluation prints.
    const progress = createConsoleSink({ stream: io.progress });
    const totalSteps = Math.floor(config.num_tokens / config.batch_size);
    for (const [index, logger] of loggers.entries()) {
      // Where this SAE's checkpoints are, so `nnd eval <run dir>` finds them from any member of a group.
      await logger.init(
        { ...members[index], wandb, wandb_project: wandbProject, checkpoint_dir: relative(runDirectories[index], checkpointDirectory) || '.', checkpoint_member: grouped ? index : null },
        { totalSteps },
      );
    }
    await progress.init(members[0], { totalSteps });
    const trainerLogger = groupLogger(loggers, grouped, progress);
    const performanceLogger = groupLogger(loggers, grouped);

    // The reference evaluates batch_size // seq_len sequences every perf_log_freq steps; a fixed set, so the curve's points compare.
    const rows = evaluationRows(model, config);
    const performanceBatches = await evaluationBatches(settings, Math.max(config.batch_size, config.seq_len), rows, DATASET_START);
    let logPerformance = true;
    let finalEvaluations: readonly DecompositionEvaluation[] = [];
    let useFinalBatches = false;
    let finalBatches: Awaited<ReturnType<typeof evaluationBatches>> = [];
    const evaluator = createPerformanceEvaluator({
      model,
      backend: model.backend,
      splicedInputs: config.spliced_inputs,
      tokenBatches: () => (useFinalBatches ? finalBatches : performanceBatches),
      logger: { log: (metrics, step) => (logPerformance ? performanceLogger.log(metrics, step) : undefined) },
      grouped,
      excludeBos: config.exclude_special_tokens,
      onEvaluation: (_, evaluations) => {
        finalEvaluations = evaluations;
      },
    });

    let result: GroupTrainResult;
    let evaluationStart: DatasetPosition = DATASET_START;
    try {
      // Each checkpoint's SAE folder (`step_N`, or `step_N/sae_{i}` of a group) in SAELens's layout, like `sae/`,
      // so `loadSae` and SAELens read any checkpoint; the trainer keeps the raw parameters beside it for --resume.
      const saveFiles: DecompositionFilesWriter = (directory, decomposition, params, state) =>
        family.save(directory, decomposition, params, state, runMetadata(members[decompositions.indexOf(decomposition)]));
      const trainOptions = {
        backend: model.backend,
        logger: trainerLogger,
        onEvaluate: evaluator,
        checkpointDir: checkpointDirectory,
        saveFiles,
        resumeFrom: options.resumeFrom,
        signal: io.signal,
        handleSignals: false,
        warn: log,
      };
      const trainConfigs = members.map(trainConfigOf);
      if (grouped) {
        result = await trainDecompositionGroup(decompositions, source, trainConfigs, trainOptions);
      } else {
        const single = await trainDecomposition(decompositions[0], source, trainConfigs[0], trainOptions);
        result = { ...single, members: [{ index: 0, decomposition: decompositions[0], params: single.params, state: single.state }] };
      }
      await progress.finish();

      if (result.status === 'interrupted') {
        await Promise.all(loggers.map((logger) => logger.finish({ status: 'interrupted', steps: result.step, checkpoint: result.checkpoint ?? null })));
        throw new InterruptedError(
          `Interrupted after ${result.step} steps; ${result.checkpoint ? `checkpoint written to ${result.checkpoint}` : 'no checkpoint was written'}. ` +
            `Run directory: ${runDirectories[0]}.${result.checkpoint ? ` Continue with the same command plus --resume ${result.checkpoint}.` : ''}`,
          interruptSignalOf(io.signal),
        );
      }

      evaluationStart = await heldOutStart(source, settings, config);
      finalBatches = await evaluationBatches(settings, config.eval_tokens, rows, evaluationStart);
      log(`Evaluating on ${tokensIn(finalBatches)} held-out tokens ...`);
      useFinalBatches = true;
      logPerformance = false;
      await evaluator(result.step, result.members as DecompositionSnapshot[]);
    } catch (error) {
      // A run that failed still closes its run directories, so they say so (an interrupted one already did).
      if (!(error instanceof InterruptedError)) {
        const message = error instanceof Error ? error.message : String(error);
        await Promise.allSettled(loggers.map((logger) => logger.finish({ status: 'failed', error: message })));
      }
      throw error;
    } finally {
      // Idempotent: a failed run must still give the terminal its cursor back.
      await progress.finish();
      await evaluator.dispose();
    }

    const runs: TrainedRun[] = members.map((member, index) => ({
      name: member.name,
      runDirectory: runDirectories[index],
      config: member,
      checkpoint: result.checkpoint === undefined ? undefined : grouped ? join(result.checkpoint, `sae_${index}`) : result.checkpoint,
      evaluation: finalEvaluations[index],
      decomposition: join(runDirectories[index], family.directoryName),
    }));
    for (const [index, logger] of loggers.entries()) {
      const run = runs[index];
      await family.save(run.decomposition, decompositions[index], result.members[index].params, result.members[index].state, runMetadata(run.config));
      if (run.checkpoint !== undefined) logger.artifact(`checkpoint_${result.step}`, [run.checkpoint], { step: result.step });
      await logger.finish({ ...run.evaluation, status: 'completed', steps: result.step, checkpoint: run.checkpoint ?? null, [EVALUATION_START_KEY]: evaluationStart });
    }

    const dashboards: { label: string; href: string }[] = [];
    if (config.dashboard_features > 0) {
      log(`Writing a feature dashboard of the first ${config.dashboard_features} features ...`);
      const written = await writeRunDashboards({
        path: runDirectories[0],
        features: { start: 0, end: config.dashboard_features },
        tokens: DEFAULT_RUN_DASHBOARD_TOKENS,
        resources,
        env: io.env,
        log,
      });
      for (const { index } of written)
        dashboards.push({ label: written.length === 1 ? 'Feature dashboard' : `Dashboard ${relative(runDirectories[0], index)}`, href: relative(runDirectories[0], index) });
    }
    let report: string | undefined;
    if (options.report ?? true) {
      const records = await loadRuns(runDirectories.map((directory) => ({ type: 'directory' as const, directory })));
      report = await writeReport(records, join(runDirectories[0], REPORT_FILE), {
        title: `nnd: ${config.name}`,
        k: config.top_k as number | undefined,
        dictionarySize: config.dict_size as number | undefined,
        dashboards,
      });
    }
    return { runs, report };
  } finally {
    for (const lock of locks) lock.release();
    if (ownResources) await resources.dispose();
  }
}

/**
 * What a decomposition's folder records beside its own config, under
 * SAELens's metadata names: the model and data it was trained on (text
 * documents are tokenised with BOS first). Its hooks it records itself.
 */
function runMetadata(member: MemberConfig): Record<string, unknown> {
  return {
    model_name: member.model_name,
    dataset_path: member.dataset_path,
    context_size: member.seq_len,
    prepend_bos: true,
    exclude_special_tokens: member.exclude_special_tokens,
  };
}

/** Locks every directory or none: when one is held elsewhere, the ones already taken are released before the error goes up. */
function lockRunDirectories(directories: readonly string[]): RunDirectoryLock[] {
  const locks: RunDirectoryLock[] = [];
  try {
    for (const directory of directories) locks.push(lockRunDirectory(directory));
  } catch (error) {
    for (const lock of locks) lock.release();
    throw error;
  }
  return locks;
}

function throwIfInterrupted(io: CliIo): void {
  if (io.signal.aborted) throw new InterruptedError('Interrupted before training started; nothing was written.', interruptSignalOf(io.signal));
}
