import { stringify } from 'yaml';
import { existsSync } from 'node:fs';
import { checkpointsFolderOf } from '@nnd/logging';
import { join, resolve } from 'node:path';
import type { Command } from './command.js';
import { parseCommandLine } from './command-line.js';
import { configKeysHelp } from './config-help.js';
import { resolveRunConfig } from './config-input.js';
import { evaluationSummaryLines } from './evaluation-summary.js';
import { EXIT_CODES } from './exit-codes.js';
import { runTrainingJob } from './training-job.js';

const OPTIONS = {
  config: { type: 'string', short: 'c' },
  set: { type: 'string', short: 's', multiple: true },
  model: { type: 'string' },
  hook: { type: 'string' },
  sae: { type: 'string' },
  resume: { type: 'string' },
  'print-config': { type: 'boolean' },
} as const;

export const trainCommand: Command = {
  name: 'train',
  trains: true,
  summary: "train SAEs on a model's activations, evaluate them, write run directories and a report",
  help: () => `Usage: nnd train [--config FILE] [--set KEY=VALUE ...] [--model NAME] [--hook HOOK] [--sae TYPES] [--resume PATH]

Trains sparse autoencoders on a language model's activations with a progress
bar, logs the reference's performance metrics every perf_log_freq steps,
evaluates each SAE on held-out tokens (L0, explained variance, normalised MSE,
dead and dense features, the model's loss with the SAE spliced in), and writes
{run_dir}/{name}/ per SAE (config.json, metrics.jsonl, summary.json,
sae/ in SAELens's layout, checkpoints/step_N/ for --resume) plus report.html. Several sae_types
train together on one activation stream. Ctrl-C writes a checkpoint and stops
(exit code 130); --resume continues from it.

Options:
  -c, --config FILE      JSON or YAML file of config keys (below)
  -s, --set KEY=VALUE    set one key, after the file (repeatable); the value is
                         YAML: --set lr=1e-4 --set sae_type=[topk,batchtopk]
      --model NAME       model_name: tiny-lm (ships with nnd), a Hugging Face id
                         (gpt2, EleutherAI/pythia-70m) or a local directory
      --hook HOOK        hook_point, e.g. blocks.8.hook_resid_pre (sets layer, site)
      --sae TYPES        sae_type; comma-separated to train several on one stream:
                         vanilla, topk, batchtopk, jumprelu
      --resume PATH      continue from a checkpoint (step_N), a checkpoints
                         directory or a run directory
      --print-config     print the resolved config as YAML and exit
  -h, --help             this help

Examples:
  nnd train --config examples/train-topk/config.yaml
  nnd train --model gpt2 --hook blocks.8.hook_resid_pre --set dataset_path=NeelNanda/pile-10k
  nnd train --config config.yaml --sae topk,batchtopk --set top_k=16

${configKeysHelp()}
`,
  async run(args, io) {
    const { values } = parseCommandLine('train', args, OPTIONS);
    if (values.help) {
      io.stdout(this.help());
      return EXIT_CODES.ok;
    }
    const config = await resolveRunConfig({
      configFile: values.config,
      flags: { model_name: values.model, hook_point: values.hook, sae_type: values.sae === undefined ? undefined : saeTypesOption(values.sae) },
      sets: values.set,
    });
    if (values['print-config']) {
      io.stdout(stringify(config, { lineWidth: 0 }));
      return EXIT_CODES.ok;
    }
    const resumeFrom = values.resume === undefined ? undefined : checkpointsOf(values.resume);
    const { runs, report } = await runTrainingJob(config, io, { resumeFrom });
    const lines: string[] = [''];
    for (const run of runs) {
      lines.push(
        `Run directory: ${resolve(run.runDirectory)}`,
        `Trained:       ${resolve(run.decomposition)}`,
        ...(report !== undefined && run === runs[0] ? [`Report:        ${report}`] : []),
        '',
        `${run.name}`,
        ...evaluationSummaryLines(run.evaluation),
        '',
      );
    }
    if (report !== undefined && runs.length > 1) lines.push(`Report: ${report}`, '');
    io.stdout(lines.join('\n'));
    return EXIT_CODES.ok;
  },
};

/** `--sae topk,batchtopk`: one type stays a string, several become a list. */
function saeTypesOption(value: string): string | string[] {
  const types = value
    .split(',')
    .map((type) => type.trim())
    .filter((type) => type !== '');
  return types.length === 1 ? types[0] : types;
}

/**
 * A run directory stands for its checkpoints directory (recorded in its
 * config.json: a group's live in the first member's run directory);
 * anything else goes to the trainer as it is.
 */
function checkpointsOf(path: string): string {
  if (!existsSync(join(path, 'config.json'))) return path;
  return checkpointsFolderOf(path);
}
