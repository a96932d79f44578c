import type { DecompositionFamily, HostTensor } from '@nnd/core';
import { createConsoleSink, createLogger, lockRunDirectory, runDirectoryFor } from '@nnd/logging';
import { loadRuns, writeReport } from '@nnd/results';
import { trainDecomposition } from '@nnd/train';
import { join, relative } from 'node:path';
import { activationModel, harvestSettings } from './activation-stream.js';
import { writeRunDashboards } from './dashboard-command.js';
import type { CliIo } from './cli-io.js';
import { EVALUATION_START_KEY, evaluationBatches, evaluationRows, tokensIn } from './evaluation-batches.js';
import { groupLogger } from './group-logger.js';
import { InterruptedError } from './interrupted-error.js';
import { interruptSignalOf } from './interrupt-watcher.js';
import { JobResources } from './job-resources.js';
import { trainConfigOf } from './member-configs.js';
import { setAsidePreviousRun } from './previous-run.js';
import { memberConfigs, type RunConfig } from './run-config.js';
import { tokenBatchSource } from './token-batch-source.js';
import { DEFAULT_RUN_DASHBOARD_TOKENS, REPORT_FILE, type TrainingJobOptions, type TrainingJobResult } from './training-job.js';

/**
 * The training job of a family that decomposes the model's own weights
 * (`trainsThroughModel`, SPD): the trainer's source is a stream of token
 * batches ([batch_size, seq_len] ids, packed as the activation stores pack
 * them), the family builds its decomposition around the loaded model, and
 * the family's `evaluate` gives the final metrics on held-out tokens. One
 * run directory as for the other families, with checkpoints, resume and the
 * family's folder and the report (report.html, with the family's
 * evaluation, linking the component dashboard when `dashboard_features` asks
 * for one); no splicing evaluation.
 */
export async function runModelTrainingJob(config: RunConfig, family: DecompositionFamily, io: CliIo, options: TrainingJobOptions = {}): Promise<TrainingJobResult> {
  const log = (message: string) => io.stderr(`${message}\n`);
  const [member] = memberConfigs(config);
  const runDirectory = runDirectoryFor(config.run_dir, member.name);
  const lock = lockRunDirectory(runDirectory);
  const resources = options.resources ?? new JobResources(io.env);
  try {
    log(`Loading ${config.model_name} on ${config.backend}/${config.device} ...`);
    const model = await resources.model(config);
    const context = { model, sequenceLength: config.seq_len };
    const [familyMember] = family.members(config);
    const decomposition = family.create(familyMember.config, context);
    const settings = await harvestSettings(activationModel(model, config), config, log);
    const sequenceLength = Math.min(config.seq_len, model.config.contextLength);
    const packing = {
      rows: config.batch_size,
      sequenceLength,
      documentTokenLimit: settings.documentTokenLimit ?? model.config.contextLength,
      prependBos: true,
      keepRemainder: settings.keepRemainder ?? false,
      repeat: true,
    };
    const hook = decomposition.reads[0].hook;
    const source = tokenBatchSource(settings.dataset, model.tokenizer, packing, hook, config.dataset_path);
    if (options.resumeFrom === undefined) {
      const aside = await setAsidePreviousRun(runDirectory);
      if (aside !== undefined) log(`${runDirectory} held an earlier run; it was moved to ${aside}.`);
    }
    const checkpointDirectory = join(runDirectory, 'checkpoints');
    const logger = createLogger({ runsDirectory: config.run_dir, name: member.name, console: false, env: io.env });
    const totalSteps = Math.floor(config.num_tokens / config.batch_size);
    await logger.init({ ...member, wandb: config.wandb ?? Boolean(io.env.WANDB_API_KEY), checkpoint_dir: relative(runDirectory, checkpointDirectory) || '.', checkpoint_member: null }, { totalSteps });
    const progress = createConsoleSink({ stream: io.progress });
    await progress.init(member, { totalSteps });
    const metadata = { model_name: config.model_name, dataset_path: config.dataset_path, context_size: sequenceLength, prepend_bos: true };
    let result: Awaited<ReturnType<typeof trainDecomposition>>;
    try {
      result = await trainDecomposition(decomposition, source, trainConfigOf(member), {
        backend: model.backend,
        logger: groupLogger([logger], false, progress),
        checkpointDir: checkpointDirectory,
        saveFiles: (directory, trained, params, state) => family.save(directory, trained, params, state, metadata),
        resumeFrom: options.resumeFrom,
        signal: io.signal,
        handleSignals: false,
        warn: log,
      });
      await progress.finish();
      if (result.status === 'interrupted') {
        await logger.finish({ status: 'interrupted', steps: result.step, checkpoint: result.checkpoint ?? null });
        throw new InterruptedError(
          `Interrupted after ${result.step} steps; ${result.checkpoint ? `checkpoint written to ${result.checkpoint}` : 'no checkpoint was written'}. ` +
            `Run directory: ${runDirectory}.${result.checkpoint ? ` Continue with the same command plus --resume ${result.checkpoint}.` : ''}`,
          interruptSignalOf(io.signal),
        );
      }
    } catch (error) {
      if (!(error instanceof InterruptedError)) await logger.finish({ status: 'failed', error: error instanceof Error ? error.message : String(error) });
      throw error;
    } finally {
      await progress.finish();
    }
    const directory = join(runDirectory, family.directoryName);
    await family.save(directory, decomposition, result.params, result.state, metadata);
    // The held-out tokens start after the last training batch; `nnd eval` of the run starts there too.
    const evaluationStart = source.position();
    let evaluation: Record<string, number | number[]> = {};
    if (family.evaluate !== undefined && config.eval_tokens > 0) {
      const batches: HostTensor[] = await evaluationBatches(settings, config.eval_tokens, Math.min(evaluationRows(model, config), config.batch_size), evaluationStart);
      log(`Evaluating on ${tokensIn(batches as HostTensor<'int64'>[])} held-out tokens ...`);
      evaluation = await family.evaluate(decomposition, result.params, batches, context);
    }
    await logger.finish({ ...evaluation, status: 'completed', steps: result.step, checkpoint: result.checkpoint ?? null, [EVALUATION_START_KEY]: evaluationStart });
    // As the other families' jobs do: a dashboard of the first components (each one's causal importance), linked from the report.
    const dashboards = config.dashboard_features > 0 ? await writeComponentDashboard(runDirectory, config.dashboard_features, resources, io.env, log) : [];
    // The training curves are the losses this decomposition logged (its own names, not an SAE's), as `nnd report` of the run draws them.
    const report =
      options.report === false
        ? undefined
        : await writeReport(await loadRuns([{ type: 'directory', directory: runDirectory }]), join(runDirectory, REPORT_FILE), { title: `nnd: ${config.name}`, dashboards });
    return {
      runs: [{ name: member.name, runDirectory, config: member, checkpoint: result.checkpoint, decomposition: directory, evaluation: evaluation as never }],
      report,
    };
  } finally {
    lock.release();
    if (options.resources === undefined) await resources.dispose();
  }
}

async function writeComponentDashboard(
  runDirectory: string,
  features: number,
  resources: JobResources,
  env: Readonly<Record<string, string | undefined>>,
  log: (message: string) => void,
): Promise<{ label: string; href: string }[]> {
  log(`Writing a component dashboard of the first ${features} components ...`);
  const written = await writeRunDashboards({ path: runDirectory, features: { start: 0, end: features }, tokens: DEFAULT_RUN_DASHBOARD_TOKENS, resources, env, log });
  return written.map(({ index }) => ({ label: 'Component dashboard', href: relative(runDirectory, index) }));
}
