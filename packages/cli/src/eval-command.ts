import { DATASET_START, type DatasetPosition } from '@nnd/activations';
import { RunDirectoryError } from '@nnd/logging';
import { createSae } from '@nnd/sae';
import { readCheckpoint, SaeEvaluator } from '@nnd/train';
import { existsSync, readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { activationModel, checkActivationSize, harvestSettings } from './activation-stream.js';
import { locateCheckpoint } from './checkpoint-location.js';
import { CliUsageError } from './cli-usage-error.js';
import type { Command } from './command.js';
import { parseCommandLine, positiveIntegerOption } from './command-line.js';
import { resolveRunConfig } from './config-input.js';
import { evaluationBatches, evaluationRows, tokensIn } from './evaluation-batches.js';
import { evaluationSummaryLines } from './evaluation-summary.js';
import { EXIT_CODES } from './exit-codes.js';
import { JobResources } from './job-resources.js';
import { RUN_CONFIG_KEYS } from './run-config.js';
import { EVALUATION_START_KEY } from './training-job.js';

const OPTIONS = {
  tokens: { type: 'string' },
  config: { type: 'string', short: 'c' },
  set: { type: 'string', short: 's', multiple: true },
} as const;

/** Written beside each evaluated SAE's weights. */
export const EVALUATION_FILE = 'evaluation.json';

export const evalCommand: Command = {
  name: 'eval',
  summary: 'evaluate a trained SAE: reconstruction, sparsity, dead features, the model\'s loss with it spliced in',
  help: () => `Usage: nnd eval <checkpoint | run directory> [--tokens N] [--config FILE] [--set KEY=VALUE ...]

Evaluates a trained SAE at its hook on N tokens of its dataset: L0, explained
variance, normalised MSE, dead and dense features, feature densities, and the
model's cross-entropy as it is, with the SAE's reconstruction spliced in, and
with the hook zero- and mean-ablated (CE degradation, recovery). Prints the
summary and writes ${EVALUATION_FILE} beside the SAE's weights.

The model, hook and dataset come from the run's config.json (the run
directory the checkpoint is in); --config and --set override them. Tokens
start where the run's own final evaluation started (after the tokens it
trained on), else at the dataset's start.

Arguments:
  <checkpoint>           a step_N checkpoint, a member folder step_N/sae_I of a
                         group, a checkpoints directory (its newest) or a run
                         directory

Options:
      --tokens N         tokens to evaluate (default: the run's eval_tokens)
  -c, --config FILE      config keys over the run's (see nnd train --help)
  -s, --set KEY=VALUE    set one key (repeatable)
  -h, --help             this help

Example:
  nnd eval runs/tiny-lm_blocks.2.hook_resid_pre_2048_topk_32_0.0003 --tokens 131072
`,
  async run(args, io) {
    const { values, positionals } = parseCommandLine('eval', args, OPTIONS);
    if (values.help) {
      io.stdout(this.help());
      return EXIT_CODES.ok;
    }
    if (positionals.length !== 1) throw new CliUsageError(`nnd eval takes one checkpoint or run directory, got ${positionals.length}. Run 'nnd eval --help'.`);
    const tokens = positiveIntegerOption('eval', 'tokens', values.tokens);
    const location = await locateCheckpoint(positionals[0]);
    const recorded = location.runDirectory === undefined ? {} : readJson(join(location.runDirectory, 'config.json'));
    const base = Object.fromEntries(Object.entries(recorded).filter(([key]) => RUN_CONFIG_KEYS.includes(key)));
    const config = await resolveRunConfig({ base, configFile: values.config, sets: values.set });
    const checkpoint = await readCheckpoint(location.checkpoint);
    const indices = location.members ?? checkpoint.members.map((_, index) => index);
    for (const index of indices) {
      if (checkpoint.members[index] === undefined) throw new CliUsageError(`${location.checkpoint} has ${checkpoint.members.length} SAE(s); there is no sae_${index}.`);
    }

    const resources = new JobResources(io.env);
    try {
      const model = await resources.model(config);
      const activations = activationModel(model, config);
      const members = indices.map((index) => {
        const member = checkpoint.members[index];
        const decomposition = createSae(member.config);
        checkActivationSize(activations, { ...config, act_size: (decomposition.config as { act_size: number }).act_size });
        return { decomposition, params: member.params, state: member.state };
      });
      const settings = await harvestSettings(activations, config, (message) => io.stderr(`${message}\n`));
      const summary = location.runDirectory === undefined ? {} : readJson(join(location.runDirectory, 'summary.json'));
      const start = (summary[EVALUATION_START_KEY] as DatasetPosition | undefined) ?? DATASET_START;
      const evaluationTokens = tokens ?? config.eval_tokens;
      const batches = await evaluationBatches(settings, evaluationTokens, evaluationRows(model, config), start);
      io.stderr(`Evaluating ${members.length} SAE(s) of ${location.checkpoint} on ${tokensIn(batches)} tokens of ${config.dataset_path} ...\n`);
      const evaluator = new SaeEvaluator({ model, hookPoint: config.hook_point, backend: model.backend, excludeBos: config.exclude_special_tokens });
      let evaluations;
      try {
        evaluations = await evaluator.evaluate(members, batches);
      } finally {
        await evaluator.dispose();
      }
      const lines: string[] = [];
      for (const [position, index] of indices.entries()) {
        const folder = checkpoint.grouped ? join(location.checkpoint, `sae_${index}`) : location.checkpoint;
        await writeFile(join(folder, EVALUATION_FILE), `${JSON.stringify({ step: checkpoint.step, evaluation_start: start, ...evaluations[position] })}\n`);
        lines.push(`${folder} (${members[position].decomposition.architecture}, step ${checkpoint.step})`, ...evaluationSummaryLines(evaluations[position]), `Written: ${join(folder, EVALUATION_FILE)}`, '');
      }
      io.stdout(lines.join('\n'));
    } finally {
      await resources.dispose();
    }
    return EXIT_CODES.ok;
  },
};

/** A run directory's JSON object file, or {} when it is missing; RunDirectoryError when it is not a JSON object. */
function readJson(path: string): Record<string, unknown> {
  if (!existsSync(path)) return {};
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(path, 'utf8'));
  } catch (cause) {
    throw new RunDirectoryError(`${path} is not JSON (${cause instanceof Error ? cause.message : String(cause)}); restore it, or evaluate the step_N checkpoint folder itself.`, { cause });
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new RunDirectoryError(`${path} must hold a JSON object`);
  return value as Record<string, unknown>;
}
