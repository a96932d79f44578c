import { DATASET_START, type DatasetPosition } from '@nnd/activations';
import { describeDecomposition, type Decomposition, type DecompositionFamily, type HostTensor } from '@nnd/core';
import { formatValue, modelComparisonRows, writeComparison } from '@nnd/results';
import { compareMethods, readCheckpoint, type ComparedMethod, type Comparison } from '@nnd/train';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { activationModel, harvestSettings, hookWidthOf } from './activation-stream.js';
import { locateCheckpoint, TRAINER_STATE } from './checkpoint-location.js';
import { CliUsageError } from './cli-usage-error.js';
import type { CliIo } from './cli-io.js';
import type { Command } from './command.js';
import { parseCommandLine, positiveIntegerOption } from './command-line.js';
import { resolveRunConfig } from './config-input.js';
import { DECOMPOSITION_FAMILIES, DEFAULT_FAMILY, familyNamed } from './decomposition-families.js';
import { EVALUATION_START_KEY, evaluationBatches, evaluationRows, tokensIn } from './evaluation-batches.js';
import { EXIT_CODES } from './exit-codes.js';
import { JobResources } from './job-resources.js';
import { RUN_CONFIG_KEYS } from './run-config.js';
import { readRunJson } from './run-json.js';

const OPTIONS = {
  tokens: { type: 'string' },
  model: { type: 'string' },
  out: { type: 'string', short: 'o' },
  'top-k': { type: 'string' },
  'neuron-k': { type: 'string' },
  reference: { type: 'string' },
  config: { type: 'string', short: 'c' },
  set: { type: 'string', short: 's', multiple: true },
} as const;

/** Where the comparison goes without --out. */
export const DEFAULT_COMPARISON_FOLDER = 'comparison';

export const compareCommand: Command = {
  name: 'compare',
  summary: 'compare decompositions of one model: Pareto frontiers (CE degradation, MSE vs sparsity) and the model table',
  help: () => `Usage: nnd compare <run directory | folder of runs | checkpoint> ... [--tokens N] [--model NAME] [--out DIR]
                   [--top-k 1,2,4,...] [--neuron-k 8,16,...] [--reference MODE]
                   [--config FILE] [--set KEY=VALUE ...]

Evaluates trained decompositions of one model, of any family, on the same
held-out tokens, with all of a method's MLPs replaced at once (the
reference's exp_007, exp_011 and exp_012): runs of one family and
configuration that decompose different layers (a transcoder per layer) form
one method. Beside them: the neuron baseline (the top-k |hidden| units of
each of those MLPs; at k = d_mlp it is the original model), the original
model and zero ablation of the MLPs. Two sweeps: every method at its own
sparsity (measured L0), and a synthetic per-token top-k sweep (each module
keeps its k largest features per token). Three x axes: active components
per module, per MLP (a CLT feature of layer i counts for the n - i MLPs it
writes) and total active parameters; y: CE degradation and MSE.

The correct evaluation is the default; each method is also evaluated the
reference's way where that differs, labelled and dashed: BatchTopK with batch
top-k over the evaluation batch (besides per-token inference with its
learned threshold), TopK and BatchTopK transcoders without b_enc, a CLT's
outputs from the clean model's inputs (besides its true replacement).

Writes into --out: report.html (plots as SVG, the summary, the model table,
per-layer statistics), model_comparison.csv (the reference's columns),
pareto_points.csv and comparison.json. Tokens start after the furthest
held-out start of the runs, so none of them trained on them.

A folder of run directories (such as runs/) stands for every run in it.

Options:
      --tokens N         tokens to evaluate (default: the first run's eval_tokens)
      --model NAME       model_name, if not the runs' own
  -o, --out DIR          where to write (default ./${DEFAULT_COMPARISON_FOLDER})
      --top-k LIST       k of the synthetic sweep (default 1, 2, 4, ... up to the
                         largest module)
      --neuron-k LIST    the neuron baseline's points in the native sweep
                         (default 8,16,32,64,128)
      --reference MODE   the reference's evaluation: combined (default; every
                         quirk that applies at once, the reference's numbers),
                         separate (also each quirk alone), none
  -c, --config FILE      config keys over the first run's (see nnd train --help)
  -s, --set KEY=VALUE    set one key (repeatable)
  -h, --help             this help

Example:
  nnd compare runs/transcoder-k16-L0 runs/transcoder-k16-L1 runs/transcoder-k16-L2 runs/transcoder-k16-L3 runs/clt --out comparison
`,
  async run(args, io) {
    const { values, positionals } = parseCommandLine('compare', args, OPTIONS);
    if (values.help) {
      io.stdout(this.help());
      return EXIT_CODES.ok;
    }
    if (positionals.length === 0) throw new CliUsageError("nnd compare needs at least one run directory or checkpoint. Run 'nnd compare --help'.");
    const { comparison, written } = await compareRuns({
      paths: positionals,
      tokens: positiveIntegerOption('compare', 'tokens', values.tokens),
      model: values.model,
      out: values.out ?? DEFAULT_COMPARISON_FOLDER,
      topK: integerList('top-k', values['top-k']),
      neuronK: integerList('neuron-k', values['neuron-k']),
      reference: referenceMode(values.reference),
      configFile: values.config,
      sets: values.set,
      io,
    });
    const rows = modelComparisonRows(comparison);
    const width = Math.max(...rows.map((row) => row.label.length), 5);
    const lines = [
      `Original CE ${formatValue(comparison.originalCe)}, zero ablation ${formatValue(comparison.zeroAblationCe)}, ${comparison.tokens} tokens`,
      `${'Model'.padEnd(width)}  ${'CE degr.'.padStart(10)}  ${'MSE'.padStart(10)}  ${'mean L0'.padStart(8)}`,
      ...rows.map((row) => `${row.label.padEnd(width)}  ${formatValue(row.ce_degradation).padStart(10)}  ${formatValue(row.mse).padStart(10)}  ${formatValue(row.mean_l0).padStart(8)}`),
      '',
      `Report: ${written.report}`,
      `Model table: ${written.modelTable}`,
      `Points: ${written.points}`,
      `Data: ${written.data}`,
    ];
    io.stdout(`${lines.join('\n')}\n`);
    return EXIT_CODES.ok;
  },
};

function referenceMode(text: string | undefined): 'combined' | 'separate' | 'none' | undefined {
  if (text === undefined || text === 'combined' || text === 'separate' || text === 'none') return text;
  throw new CliUsageError(`--reference is ${JSON.stringify(text)}; allowed: combined, separate or none. Run 'nnd compare --help'.`);
}

function integerList(name: string, text: string | undefined): number[] | undefined {
  if (text === undefined) return undefined;
  const values = text.split(',').map((part) => Number(part.trim()));
  if (values.length === 0 || values.some((value) => !Number.isSafeInteger(value) || value < 1)) {
    throw new CliUsageError(`--${name} is ${JSON.stringify(text)}; allowed: positive integers separated by commas (e.g. --${name} 1,2,4,8).`);
  }
  return values;
}

export interface CompareRunsOptions {
  readonly paths: readonly string[];
  readonly tokens?: number;
  readonly model?: string;
  readonly out: string;
  readonly topK?: readonly number[];
  readonly neuronK?: readonly number[];
  readonly reference?: 'combined' | 'separate' | 'none';
  readonly configFile?: string;
  readonly sets?: readonly string[];
  readonly io: CliIo;
}

/** One decomposition of a run, as compare reads it from its checkpoint (built once the model is loaded: SPD decomposes the model itself). */
interface ReadPart {
  readonly path: string;
  readonly family: DecompositionFamily;
  readonly config: unknown;
  readonly params: Record<string, HostTensor>;
  readonly state: Record<string, HostTensor>;
  readonly base: Record<string, unknown>;
  readonly start: DatasetPosition | undefined;
}

interface LoadedPart extends Omit<ReadPart, 'config'> {
  readonly decomposition: Decomposition;
}

/** `nnd compare` as a function: loads the runs through their families, groups them into methods, evaluates and writes the comparison. */
export async function compareRuns(options: CompareRunsOptions): Promise<{ comparison: Comparison; written: Awaited<ReturnType<typeof writeComparison>> }> {
  const log = (message: string) => options.io.stderr(`${message}\n`);
  const read: ReadPart[] = [];
  for (const path of options.paths.flatMap(runPaths)) read.push(...(await readParts(path)));
  const models = new Set(read.map((part) => part.base.model_name));
  if (options.model === undefined && models.size > 1) {
    throw new CliUsageError(`nnd compare: the runs decompose different models (${[...models].join(', ')}); compare runs of one model, or name it with --model.`);
  }
  const config = await resolveRunConfig({ base: read[0].base, configFile: options.configFile, flags: { model_name: options.model }, sets: options.sets });
  const resources = new JobResources(options.io.env);
  try {
    const model = await resources.model(config);
    const parts: LoadedPart[] = read.map(({ config: memberConfig, ...part }) => ({ ...part, decomposition: part.family.create(memberConfig, { model, sequenceLength: config.seq_len }) }));
    const methods = groupIntoMethods(parts);
    const activations = activationModel(model, config);
    const hookWidth = hookWidthOf(activations);
    // A family that decomposes the model itself (SPD) was just built from it and reads token ids, not streams.
    for (const part of parts.filter(({ family }) => family.trainsThroughModel !== true)) {
      for (const { hook, width } of [...part.decomposition.reads, ...part.decomposition.writes]) {
        if (hookWidth(hook) !== width) {
          throw new CliUsageError(
            `${part.path}: its ${part.decomposition.architecture} reads or writes ${hook} with width ${width}, but ${hook} of ${config.model_name} has width ${hookWidth(hook)}; compare decompositions of the model they were trained on.`,
          );
        }
      }
    }
    const settings = await harvestSettings(activations, config, log);
    const start = parts.map((part) => part.start ?? DATASET_START).reduce((furthest, position) => (later(position, furthest) ? position : furthest));
    const batches = await evaluationBatches(settings, options.tokens ?? config.eval_tokens, evaluationRows(model, config), start);
    log(`Comparing ${methods.length} method(s) (${parts.length} decomposition(s)) on ${tokensIn(batches)} tokens of ${config.dataset_path} ...`);
    const comparison = await compareMethods({
      model,
      methods,
      tokenBatches: batches,
      topK: options.topK,
      neuronK: options.neuronK,
      reference: options.reference,
      excludeBos: config.exclude_special_tokens,
      onProgress: (message) => log(`  ${message}`),
    });
    const written = await writeComparison(comparison, options.out, {
      families: ['neurons', ...DECOMPOSITION_FAMILIES.map(({ name }) => name)],
      description: [`${config.model_name} on ${config.dataset_path}; ${methods.map(({ label }) => label).join('; ')}`],
    });
    return { comparison, written };
  } finally {
    await resources.dispose();
  }
}

/**
 * A folder of run directories (such as runs/) stands for the runs in it,
 * in name order; anything else is itself.
 */
function runPaths(path: string): string[] {
  if (!existsSync(path) || existsSync(join(path, 'config.json')) || existsSync(join(path, TRAINER_STATE)) || !statSync(path).isDirectory()) return [path];
  const runs = readdirSync(path)
    .filter((name) => existsSync(join(path, name, 'config.json')))
    .map((name) => join(path, name))
    .sort();
  return runs.length === 0 ? [path] : runs;
}

function later(a: DatasetPosition, b: DatasetPosition): boolean {
  return a.epoch !== b.epoch ? a.epoch > b.epoch : a.document !== b.document ? a.document > b.document : a.token > b.token;
}

async function readParts(path: string): Promise<ReadPart[]> {
  const location = await locateCheckpoint(path);
  const recorded = location.runDirectory === undefined ? {} : readRunJson(join(location.runDirectory, 'config.json'), 'point nnd compare at the step_N checkpoint folder itself');
  const base = Object.fromEntries(Object.entries(recorded).filter(([key]) => RUN_CONFIG_KEYS.includes(key)));
  const checkpoint = await readCheckpoint(location.checkpoint);
  const indices = location.members ?? checkpoint.members.map((_, index) => index);
  const summary = location.runDirectory === undefined ? {} : readRunJson(join(location.runDirectory, 'summary.json'), 'point nnd compare at the step_N checkpoint folder itself');
  const family = familyNamed(base.decomposition ?? DEFAULT_FAMILY);
  return indices.map((index) => {
    const member = checkpoint.members[index];
    if (member === undefined)
      throw new CliUsageError(`${location.checkpoint} has ${checkpoint.members.length} decomposition(s); there is no sae_${index}. Name one of sae_0 to sae_${checkpoint.members.length - 1}.`);
    return {
      path: location.runDirectory ?? location.checkpoint,
      family,
      config: member.config,
      params: member.params,
      state: member.state,
      base,
      start: summary[EVALUATION_START_KEY] as DatasetPosition | undefined,
    };
  });
}

/**
 * Runs of one family whose decompositions describe themselves alike (the
 * same type and sparsity) and write different streams are one method: a
 * transcoder per layer replaces every MLP at once. A part that writes a
 * stream another part of its method already writes starts another method.
 */
function groupIntoMethods(parts: readonly LoadedPart[]): ComparedMethod[] {
  const buckets: { key: string; family: string; description: string; parts: LoadedPart[]; written: Set<string> }[] = [];
  for (const part of parts) {
    const description = describeDecomposition(part.decomposition)
      .filter(({ key, value }) => !(key === 'architecture' && value === part.family.name))
      .map(({ key, value }) => (key === 'architecture' ? String(value) : `${key}=${value}`))
      .join(' ');
    const key = `${part.family.name}\u0000${description}`;
    const hooks = part.decomposition.writes.map(({ hook }) => hook);
    let bucket = buckets.find((candidate) => candidate.key === key && hooks.every((hook) => !candidate.written.has(hook)));
    if (bucket === undefined) {
      bucket = { key, family: part.family.name, description, parts: [], written: new Set() };
      buckets.push(bucket);
    }
    bucket.parts.push(part);
    for (const hook of hooks) bucket.written.add(hook);
  }
  const seen = new Map<string, number>();
  return buckets.map((bucket) => {
    const name = `${bucket.family} ${bucket.description}`;
    const count = (seen.get(name) ?? 0) + 1;
    seen.set(name, count);
    const tokens = bucket.parts.map((part) => part.base.num_tokens).filter((value): value is number => typeof value === 'number');
    return {
      label: count === 1 ? name : `${name} #${count}`,
      family: bucket.family,
      parts: bucket.parts.map(({ decomposition, params, state }) => ({ decomposition, params, state })),
      // Per-layer runs each trained on num_tokens: the method's total.
      ...(tokens.length === bucket.parts.length ? { trainingTokens: tokens.reduce((sum, value) => sum + value, 0) } : {}),
    };
  });
}
