import { DATASET_START, type DatasetPosition } from '@nnd/activations';
import { collectDashboard, dashboardGraph, writeDashboard, type DashboardData, type FeatureRange } from '@nnd/dashboard';
import { readCheckpoint } from '@nnd/train';
import { join } from 'node:path';
import { activationModel, harvestSettings, hookWidthOf } from './activation-stream.js';
import { locateCheckpoint } from './checkpoint-location.js';
import { CliUsageError } from './cli-usage-error.js';
import type { Command } from './command.js';
import { parseCommandLine, positiveIntegerOption } from './command-line.js';
import { resolveRunConfig } from './config-input.js';
import { DEFAULT_FAMILY, familyNamed } from './decomposition-families.js';
import { EVALUATION_START_KEY, evaluationBatches, tokensIn } from './evaluation-batches.js';
import { EXIT_CODES } from './exit-codes.js';
import { JobResources } from './job-resources.js';
import { RUN_CONFIG_KEYS } from './run-config.js';
import { readRunJson } from './run-json.js';

const OPTIONS = {
  tokens: { type: 'string' },
  features: { type: 'string' },
  out: { type: 'string', short: 'o' },
  window: { type: 'string' },
  config: { type: 'string', short: 'c' },
  set: { type: 'string', short: 's', multiple: true },
} as const;

/** 2^20 tokens: every feature of a 16x SAE on the shipped LM gets thousands of firings' worth of examples. */
export const DEFAULT_DASHBOARD_TOKENS = 1_048_576;
/** The folder of a run directory the dashboard is written to. */
export const DASHBOARD_FOLDER = 'dashboard';
/** Feature values per batch on the host ([positions, features] float32): batches are cut so one stays near 256 MiB. */
const FEATURE_VALUE_BUDGET = 2 ** 26;

export const dashboardCommand: Command = {
  name: 'dashboard',
  summary: "feature dashboards: each feature's top and quantile examples, density and histogram, as a static page",
  help: () => `Usage: nnd dashboard <run directory | checkpoint> [--tokens N] [--features A-B] [--out DIR]
                     [--window N] [--config FILE] [--set KEY=VALUE ...]

Runs the run's model once over N held-out tokens of its dataset and collects,
for every feature (or component) of its decomposition, whatever its family:
the 20 sequences where it peaks highest (a window of tokens around the peak,
with every token's value), a sample across deciles of its peaks, its density
and a histogram of its non-zero values. Writes a folder that opens from disk
with no server: index.html (a feature list sortable by density and maximum,
search by feature index or token text, token strips coloured by activation)
and its data files.

Tokens start where the run's own final evaluation started (after the tokens
it trained on), else at the dataset's start.

For an SPD run every component of every decomposed matrix is a feature
(named blocks.0.mlp.W_in:17; --features numbers them across the matrices in
the run's order), and its value at a token is its causal importance, from the
matrix's input in the model's forward pass.

Options:
      --tokens N         tokens to collect over (default ${DEFAULT_DASHBOARD_TOKENS})
      --features A-B     features A to B inclusive (default: all), e.g. 0-255
  -o, --out DIR          where to write (default: the run directory's ${DASHBOARD_FOLDER}/;
                         one folder per member for a group checkpoint)
      --window N         tokens shown each side of the peak (default 16)
  -c, --config FILE      config keys over the run's (see nnd train --help)
  -s, --set KEY=VALUE    set one key (repeatable)
  -h, --help             this help

Example:
  nnd dashboard runs/tiny-lm_blocks.2.hook_resid_pre_2048_topk_32_0.0003 --features 0-255
`,
  async run(args, io) {
    const { values, positionals } = parseCommandLine('dashboard', args, OPTIONS);
    if (values.help) {
      io.stdout(this.help());
      return EXIT_CODES.ok;
    }
    if (positionals.length !== 1) throw new CliUsageError(`nnd dashboard takes one run directory or checkpoint, got ${positionals.length}. Run 'nnd dashboard --help'.`);
    const tokens = positiveIntegerOption('dashboard', 'tokens', values.tokens);
    const window = values.window === undefined ? undefined : nonNegativeInteger('window', values.window);
    const range = values.features === undefined ? undefined : featureRange(values.features);

    const written = await writeRunDashboards({
      path: positionals[0]!,
      tokens,
      features: range,
      out: values.out,
      window,
      configFile: values.config,
      sets: values.set,
      env: io.env,
      log: (message) => io.stderr(`${message}\n`),
    });
    const lines = written.flatMap(({ index, data }) => [
      index,
      `  features ${data.range.start}-${data.range.end - 1} of ${data.featureCount} (${data.features.filter(({ firings }) => firings > 0).length} fired) over ${data.tokens} tokens`,
    ]);
    io.stdout(`Dashboard written (open it in a browser from disk):\n${lines.join('\n')}\n`);
    return EXIT_CODES.ok;
  },
};

/** `A-B` (inclusive) or `A` as [A, B + 1). */
export function featureRange(text: string): FeatureRange {
  const match = /^(\d+)(?:-(\d+))?$/.exec(text.trim());
  const start = match ? Number(match[1]) : Number.NaN;
  const last = match ? Number(match[2] ?? match[1]) : Number.NaN;
  if (!match || !Number.isSafeInteger(start) || !Number.isSafeInteger(last) || last < start) {
    throw new CliUsageError(`--features is ${JSON.stringify(text)}; allowed: A-B with 0 <= A <= B (features A to B inclusive, e.g. --features 0-255), or one index.`);
  }
  return { start, end: last + 1 };
}

function nonNegativeInteger(name: string, text: string): number {
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < 0) throw new CliUsageError(`--${name} is ${JSON.stringify(text)}; allowed: an integer >= 0 (e.g. --${name} 16). Run 'nnd dashboard --help'.`);
  return value;
}

export interface RunDashboardOptions {
  /** A run directory, a step_N checkpoint, or a member folder of one. */
  readonly path: string;
  /** Default DEFAULT_DASHBOARD_TOKENS. */
  readonly tokens?: number;
  /** Default: every feature. */
  readonly features?: FeatureRange;
  /** Default: `{run directory}/dashboard` (one `sae_I` folder per member of a group checkpoint). */
  readonly out?: string;
  readonly window?: number;
  readonly configFile?: string;
  readonly sets?: readonly string[];
  /** Models already loaded (a training job's); default: loaded here and released at the end. */
  readonly resources?: JobResources;
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly log: (message: string) => void;
}

/**
 * `nnd dashboard` as a function: collects and writes the dashboard of each
 * decomposition of a run's checkpoint over held-out tokens (after the run's
 * own evaluation start), with the run's model, dataset and family. The
 * training job can call it after its final evaluation, e.g.
 * `{ path: runDirectory, features: { start: 0, end: 256 }, tokens: 65536, resources, log }`.
 */
export async function writeRunDashboards(options: RunDashboardOptions): Promise<{ index: string; data: DashboardData }[]> {
  // As eval-command's evaluationTarget does for run checkpoints (copied, not shared, while that file is being changed).
  const location = await locateCheckpoint(options.path);
  const recorded = location.runDirectory === undefined ? {} : readRunJson(join(location.runDirectory, 'config.json'), 'point nnd dashboard at the step_N checkpoint folder itself');
  const base = Object.fromEntries(Object.entries(recorded).filter(([key]) => RUN_CONFIG_KEYS.includes(key)));
  const checkpoint = await readCheckpoint(location.checkpoint);
  const indices = location.members ?? checkpoint.members.map((_, index) => index);
  for (const index of indices) {
    if (checkpoint.members[index] === undefined) throw new CliUsageError(`${location.checkpoint} has ${checkpoint.members.length} decomposition(s); there is no sae_${index}.`);
  }
  const summary = location.runDirectory === undefined ? {} : readRunJson(join(location.runDirectory, 'summary.json'), 'point nnd dashboard at the step_N checkpoint folder itself');
  const start = (summary[EVALUATION_START_KEY] as DatasetPosition | undefined) ?? DATASET_START;
  const family = familyNamed(base.decomposition ?? DEFAULT_FAMILY);
  const config = await resolveRunConfig({ base, configFile: options.configFile, flags: {}, sets: options.sets });
  const outRoot = options.out ?? join(location.runDirectory ?? location.checkpoint, DASHBOARD_FOLDER);

  const resources = options.resources ?? new JobResources(options.env);
  const results: { index: string; data: DashboardData }[] = [];
  try {
    const model = await resources.model(config);
    const activations = activationModel(model, config);
    const hookWidth = hookWidthOf(activations);
    const settings = await harvestSettings(activations, config, options.log);
    const sequenceLength = Math.min(config.seq_len, model.config.contextLength);
    for (const index of indices) {
      const member = checkpoint.members[index]!;
      // A family that decomposes the model itself (SPD) builds its decomposition around the loaded model.
      const decomposition = family.create(member.config, { model, sequenceLength: config.seq_len });
      // Token ids (an int64 port: SPD reads the model's input) are no hook of the model.
      for (const { hook, width } of [...decomposition.reads, ...decomposition.writes].filter(({ dtype }) => dtype !== 'int64')) {
        if (hookWidth(hook) !== width) {
          throw new CliUsageError(
            `${location.checkpoint}: its ${decomposition.architecture} reads or writes ${hook} with width ${width}, but ${hook} of ${config.model_name} has width ${hookWidth(hook)}; use the model it was trained on (--set model_name=...).`,
          );
        }
      }
      // The feature count from the decomposition's own graph (building one is cheap; compiling is what costs), to size batches.
      const { featureCount } = dashboardGraph(model, decomposition, member.params, member.state);
      const features = options.features === undefined ? undefined : { start: options.features.start, end: Math.min(options.features.end, featureCount) };
      if (features !== undefined && features.start >= featureCount) {
        throw new CliUsageError(
          `--features ${options.features!.start}-${options.features!.end - 1}: ${location.checkpoint} has ${featureCount} features (0-${featureCount - 1}); pick a range within them, e.g. --features 0-${Math.min(featureCount, 256) - 1}.`,
        );
      }
      const columns = features === undefined ? featureCount : features.end - features.start;
      const rows = Math.max(1, Math.min(config.model_batch_size, Math.floor(FEATURE_VALUE_BUDGET / (sequenceLength * columns))));
      const batches = await evaluationBatches(settings, options.tokens ?? DEFAULT_DASHBOARD_TOKENS, rows, start);
      const total = tokensIn(batches);
      options.log(`Collecting feature dashboards of ${location.checkpoint}${indices.length > 1 ? ` (sae_${index})` : ''} over ${total} tokens of ${config.dataset_path} ...`);
      let reported = 0;
      const data = await collectDashboard({
        model,
        decomposition,
        params: member.params,
        state: member.state,
        batches,
        features,
        window: options.window,
        excludedTokenId: config.exclude_special_tokens ? (model.tokenizer?.bosTokenId ?? model.config.bosTokenId) : undefined,
        onBatch: (done) => {
          if (done - reported >= total / 10) {
            reported = done;
            options.log(`  ${done} / ${total} tokens`);
          }
        },
      });
      const out = indices.length > 1 ? join(outRoot, `sae_${index}`) : outRoot;
      const title = `${location.runDirectory === undefined ? location.checkpoint : location.runDirectory.split(/[\\/]/).at(-1)} — ${decomposition.architecture}`;
      const tokenizer = model.tokenizer;
      const written = await writeDashboard(data, out, { title, tokenText: (id) => (tokenizer === undefined ? `#${id}` : tokenizer.decode([id])) });
      results.push({ index: written, data });
    }
  } finally {
    // Resources the caller passed stay theirs.
    if (options.resources === undefined) await resources.dispose();
  }
  return results;
}
