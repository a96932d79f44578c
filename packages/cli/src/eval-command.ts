import { DATASET_START, type DatasetPosition, type HarvestSettings } from '@nnd/activations';
import type { Decomposition, DecompositionFamily, HostTensor } from '@nnd/core';
import { SAE_CONFIG_FILE } from '@nnd/sae';
import { readCheckpoint, DecompositionEvaluator } from '@nnd/train';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import type { HookedTransformer } from '@nnd/models';
import { activationModel, harvestSettings, hookWidthOf } from './activation-stream.js';
import type { CliIo } from './cli-io.js';
import { DEFAULT_FAMILY, familyNamed } from './decomposition-families.js';
import { locateCheckpoint, TRAINER_STATE } from './checkpoint-location.js';
import { CliUsageError } from './cli-usage-error.js';
import type { Command } from './command.js';
import { parseCommandLine, positiveIntegerOption } from './command-line.js';
import { resolveRunConfig } from './config-input.js';
import { savedFolderAt } from './saved-folder.js';
import { EVALUATION_START_KEY, evaluationBatches, evaluationRows, tokensIn } from './evaluation-batches.js';
import { evaluationSummaryLines } from './evaluation-summary.js';
import { EXIT_CODES } from './exit-codes.js';
import { JobResources } from './job-resources.js';
import { RUN_CONFIG_KEYS, type RunConfig } from './run-config.js';
import { readRunJson } from './run-json.js';

const OPTIONS = {
  tokens: { type: 'string' },
  model: { type: 'string' },
  hook: { type: 'string' },
  config: { type: 'string', short: 'c' },
  set: { type: 'string', short: 's', multiple: true },
} as const;

/** Written beside each evaluated SAE's weights. */
const EVALUATION_FILE = 'evaluation.json';

export const evalCommand: Command = {
  name: 'eval',
  summary: "evaluate a trained SAE: reconstruction, sparsity, dead features, the model's loss with it spliced in (an SPD run: spd's metrics)",
  help: () => `Usage: nnd eval <checkpoint | run directory | SAE or spd folder> [--tokens N] [--model NAME] [--hook NAME]
                [--config FILE] [--set KEY=VALUE ...]

Evaluates a trained SAE at its hook on N tokens of its dataset: L0, explained
variance, normalised MSE, dead and dense features, feature densities, and the
model's cross-entropy as it is, with the SAE's reconstruction spliced in, and
with the hook zero- and mean-ablated (CE degradation, recovery). Prints the
summary and writes ${EVALUATION_FILE} beside the SAE's weights.

The model, hook and dataset come from the run's config.json (the run
directory the checkpoint is in), or for a plain SAE folder (SAELens layout:
cfg.json + sae_weights.safetensors, e.g. one SAELens wrote) from its
metadata (model_name, hook_name, dataset_path, context_size); --model,
--hook, --config and --set override them. Tokens start where the run's own
final evaluation started (after the tokens it trained on), else at the
dataset's start.

A run of a family trained through the model (decomposition: spd) is
evaluated by its family instead: for SPD, KL and CE difference to the model
for each mask kind, CI-L0, alive components, CI histograms and component
activation densities, in evaluation.json beside the checkpoint. A bare
spd/ folder (components.safetensors and config.json, as nnd train and
saveSpd write it) is evaluated with the model its config.json names, from
the dataset's start; --model overrides it, and a model whose weights are
not the decomposed ones (their sha256 differs) is refused.

Arguments:
  <checkpoint>           a step_N checkpoint, a member folder step_N/sae_I of a
                         group, a checkpoints directory (its newest) or a run
                         directory; or an SAE folder in SAELens's layout,
                         or an spd/ folder

Options:
      --tokens N         tokens to evaluate (default: the run's eval_tokens)
      --model NAME       model_name (needed for an SAE folder whose metadata has none)
      --hook NAME        hook_point, e.g. blocks.8.hook_resid_pre (likewise)
  -c, --config FILE      config keys over the run's (see nnd train --help)
  -s, --set KEY=VALUE    set one key (repeatable)
  -h, --help             this help

Example:
  nnd eval runs/tiny-lm_blocks.2.hook_resid_pre_2048_topk_32_0.0003 --tokens 131072
  nnd eval path/to/saelens_sae --model gpt2 --hook blocks.8.hook_resid_pre --set dataset_path=sotu
  nnd eval runs/tiny-lm_mlp_C256_spd_0.0003/spd --tokens 4096
`,
  async run(args, io) {
    const { values, positionals } = parseCommandLine('eval', args, OPTIONS);
    if (values.help) {
      io.stdout(this.help());
      return EXIT_CODES.ok;
    }
    if (positionals.length !== 1) throw new CliUsageError(`nnd eval takes one checkpoint or run directory, got ${positionals.length}. Run 'nnd eval --help'.`);
    const tokens = positiveIntegerOption('eval', 'tokens', values.tokens);
    const flags = { model_name: values.model, hook_point: values.hook };
    const target = await evaluationTarget(positionals[0]);
    if (target.step === undefined) {
      // Run configs default both; for a lone SAE folder a default model or hook would be a guess (a family trained through the model reads no hook).
      const missing = [['model_name', '--model', flags.model_name], ...(target.family.trainsThroughModel ? [] : [['hook_point', '--hook', flags.hook_point]])].filter(
        ([key, , flag]) => target.base[key as string] === undefined && flag === undefined,
      );
      if (missing.length > 0) {
        throw new CliUsageError(
          `${positionals[0]}: its cfg.json metadata has no ${missing.map(([key]) => (key === 'hook_point' ? 'hook_name' : key)).join(' or ')}; pass ${missing.map(([, option]) => option).join(' and ')} (e.g. --model gpt2 --hook blocks.8.hook_resid_pre).`,
        );
      }
    }
    const config = await resolveRunConfig({ base: target.base, configFile: values.config, flags, sets: values.set });
    // A lone folder's decomposition reads the hook its metadata or --hook names (the run config's hook_point).
    const loaded =
      target.step !== undefined || target.family.trainsThroughModel
        ? target.members
        : target.members.map((member) => {
            const recorded = member.config as Record<string, unknown>;
            if (recorded.hook_point === config.hook_point) return member;
            return { ...member, decomposition: familyNamed(DEFAULT_FAMILY).create({ ...recorded, hook_point: config.hook_point }) };
          });

    const resources = new JobResources(io.env);
    try {
      const model = await resources.model(config);
      const activations = activationModel(model, config);
      if (target.family.trainsThroughModel) {
        io.stdout(
          await evaluateThroughModel(target, tokens ?? config.eval_tokens, { model, settings: await harvestSettings(activations, config, (message) => io.stderr(`${message}\n`)), config }, io),
        );
        return EXIT_CODES.ok;
      }
      const hookWidth = hookWidthOf(activations);
      const members = loaded.map((member) => {
        const decomposition = member.decomposition!;
        for (const { hook, width } of [...decomposition.reads, ...decomposition.writes]) {
          if (hookWidth(hook) !== width) {
            throw new CliUsageError(
              `${target.path}: its ${decomposition.architecture} reads or writes ${hook} with width ${width}, but ${hook} of ${config.model_name} has width ${hookWidth(hook)}; evaluate it with the model it was trained on (--model, or --set model_name=...).`,
            );
          }
        }
        return { ...member, decomposition };
      });
      const settings = await harvestSettings(activations, config, (message) => io.stderr(`${message}\n`));
      const start = target.start ?? DATASET_START;
      const evaluationTokens = tokens ?? config.eval_tokens;
      const batches = await evaluationBatches(settings, evaluationTokens, evaluationRows(model, config), start);
      io.stderr(`Evaluating ${members.length} decomposition(s) of ${target.path} on ${tokensIn(batches)} tokens of ${config.dataset_path} ...\n`);
      const evaluator = new DecompositionEvaluator({ model, backend: model.backend, excludeBos: config.exclude_special_tokens, splicedInputs: config.spliced_inputs });
      let evaluations: Awaited<ReturnType<DecompositionEvaluator['evaluate']>>;
      try {
        evaluations = await evaluator.evaluate(members, batches);
      } finally {
        await evaluator.dispose();
      }
      const lines: string[] = [];
      for (const [position, folder] of target.folders.entries()) {
        await writeFile(join(folder, EVALUATION_FILE), `${JSON.stringify({ step: target.step, evaluation_start: start, ...evaluations[position] })}\n`);
        const step = target.step === undefined ? '' : `, step ${target.step}`;
        lines.push(`${folder} (${members[position].decomposition.architecture}${step})`, ...evaluationSummaryLines(evaluations[position]), `Written: ${join(folder, EVALUATION_FILE)}`, '');
      }
      io.stdout(lines.join('\n'));
    } finally {
      await resources.dispose();
    }
    return EXIT_CODES.ok;
  },
};

/**
 * `nnd eval` of a family trained through the model (SPD): each member is
 * rebuilt around the loaded model from its recorded config and evaluated by
 * the family's own `evaluate` on token batches of the run's shape (at most
 * batch_size sequences, as the run's final evaluation), from where that
 * evaluation started. Writes evaluation.json and returns the printed text.
 */
async function evaluateThroughModel(
  target: EvaluationTarget,
  tokens: number,
  { model, settings, config }: { model: HookedTransformer; settings: HarvestSettings; config: RunConfig },
  io: CliIo,
): Promise<string> {
  const { family } = target;
  if (family.evaluate === undefined) throw new CliUsageError(`${target.path}: decomposition '${family.name}' has no evaluation of its own.`);
  const context = { model, sequenceLength: config.seq_len };
  const start = target.start ?? DATASET_START;
  const batches = await evaluationBatches(settings, tokens, Math.min(evaluationRows(model, config), config.batch_size), start);
  io.stderr(`Evaluating ${target.members.length} decomposition(s) of ${target.path} on ${tokensIn(batches)} tokens of ${config.dataset_path} ...\n`);
  const lines: string[] = [];
  for (const [position, member] of target.members.entries()) {
    const folder = target.folders[position];
    // A bare folder is loaded against the model (which checks it is the decomposed one); a checkpoint's members are rebuilt around it.
    const { decomposition, params } = target.step === undefined ? await family.load(folder, context) : { decomposition: family.create(member.config, context), params: member.params };
    const evaluation = await family.evaluate(decomposition, params, batches, context);
    await writeFile(join(folder, EVALUATION_FILE), `${JSON.stringify({ step: target.step, evaluation_start: start, ...evaluation })}\n`);
    const step = target.step === undefined ? '' : `, step ${target.step}`;
    lines.push(`${folder} (${decomposition.architecture}${step})`, ...evaluationSummaryLines(evaluation as never), `Written: ${join(folder, EVALUATION_FILE)}`, '');
  }
  return lines.join('\n');
}

interface EvaluationTarget {
  /** What the user pointed at, for messages. */
  readonly path: string;
  /** Config keys recorded with the SAEs (a run's config.json, or an SAE folder's metadata). */
  readonly base: Record<string, unknown>;
  readonly family: DecompositionFamily;
  /** The decompositions, or for a family trained through the model (built around the loaded model) their recorded configs only (nothing for a bare folder, loaded with the model). */
  readonly members: { config: unknown; decomposition?: Decomposition; params: Record<string, HostTensor>; state: Record<string, HostTensor> }[];
  /** Where each member's evaluation.json goes. */
  readonly folders: readonly string[];
  /** The checkpoint's step; undefined for a bare folder. */
  readonly step: number | undefined;
  readonly start: DatasetPosition | undefined;
}

/** SAELens metadata keys that name run config keys. */
const METADATA_KEYS: Readonly<Record<string, string>> = {
  model_name: 'model_name',
  hook_name: 'hook_point',
  dataset_path: 'dataset_path',
  context_size: 'seq_len',
};

/** The run-config keys a folder's metadata records. */
function metadataRunKeys(metadata: Readonly<Record<string, unknown>>): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(METADATA_KEYS)
      .filter(([key]) => metadata[key] !== undefined && metadata[key] !== null)
      .map(([key, name]) => [name, metadata[key]]),
  );
}

/**
 * The SAEs to evaluate: a plain SAE folder (cfg.json without the trainer's
 * state, e.g. written by SAELens), or a checkpoint, member or run directory.
 */
async function evaluationTarget(path: string): Promise<EvaluationTarget> {
  // A checkpoint's folders hold a cfg.json too; they come with the trainer's state beside them (step_N, or step_N/sae_I).
  const inCheckpoint = existsSync(join(path, TRAINER_STATE)) || existsSync(join(dirname(resolve(path)), TRAINER_STATE));
  if (existsSync(join(path, SAE_CONFIG_FILE)) && !inCheckpoint) {
    // A lone folder in SAELens's layout; decompositions of other families come with their runs.
    const { decomposition: sae, params, state, metadata } = await familyNamed(DEFAULT_FAMILY).load(path);
    const base = metadataRunKeys(metadata);
    return { path, base, family: familyNamed(DEFAULT_FAMILY), members: [{ config: sae.config, decomposition: sae, params, state }], folders: [path], step: undefined, start: undefined };
  }
  // A bare folder of a family trained through the model (SPD's spd/), which needs the model its metadata names to load.
  const saved = inCheckpoint ? undefined : await savedFolderAt(path);
  if (saved?.family.trainsThroughModel) {
    const base = { ...metadataRunKeys(saved.metadata), decomposition: saved.family.name };
    return { path, base, family: saved.family, members: [{ config: undefined, params: {}, state: {} }], folders: [path], step: undefined, start: undefined };
  }
  const location = await locateCheckpoint(path);
  const recorded = location.runDirectory === undefined ? {} : readRunJson(join(location.runDirectory, 'config.json'), 'evaluate the step_N checkpoint folder itself');
  const base = Object.fromEntries(Object.entries(recorded).filter(([key]) => RUN_CONFIG_KEYS.includes(key)));
  const checkpoint = await readCheckpoint(location.checkpoint);
  const indices = location.members ?? checkpoint.members.map((_, index) => index);
  for (const index of indices) {
    if (checkpoint.members[index] === undefined) throw new CliUsageError(`${location.checkpoint} has ${checkpoint.members.length} SAE(s); there is no sae_${index}.`);
  }
  const summary = location.runDirectory === undefined ? {} : readRunJson(join(location.runDirectory, 'summary.json'), 'evaluate the step_N checkpoint folder itself');
  const family = familyNamed(base.decomposition ?? DEFAULT_FAMILY);
  return {
    path: location.checkpoint,
    base,
    family,
    members: indices.map((index) => {
      const { config, params, state } = checkpoint.members[index];
      return { config, decomposition: family.trainsThroughModel ? undefined : family.create(config), params, state };
    }),
    folders: indices.map((index) => (checkpoint.grouped ? join(location.checkpoint, `sae_${index}`) : location.checkpoint)),
    step: checkpoint.step,
    start: summary[EVALUATION_START_KEY] as DatasetPosition | undefined,
  };
}
