/**
 * The paper's TMS 40 -> 10 (Bushnaq, Braun & Sharkey 2025, section 4.1) as
 * goodfire-ai/spd runs it: train the toy model of superposition
 * (spd/experiments/tms/train_tms.py), decompose both of its matrices by SPD
 * (tms_40-10_config.yaml), then draw the paper's TMS figures as SVG beside a
 * Markdown report.
 */
import { createOnnxBackend } from '@nnd/backend-onnx';
import { type Backend, hostTensor, initialTrainingParams, Rng, type ActivationBatch, type HostTensor } from '@nnd/core';
import { createLogger } from '@nnd/logging';
import { heatmapSpec, renderSvg } from '@nnd/results';
import {
  columnMatches,
  componentNames,
  componentsAbove,
  createSpd,
  evaluateSpd,
  featuresCaptured,
  featuresWithOwnComponent,
  foldTiedComponents,
  identityCiError,
  identityOrder,
  matrixProduct,
  matrixRows,
  permuteColumns,
  saveSpd,
  singleFeatureCausalImportances,
  sparseFeatureSource,
  tmsTarget,
  trainableTms,
  type Matrix,
  type ToyModelWeights,
  type SpdEvaluation,
} from '@nnd/spd';
import { trainDecomposition } from '@nnd/train';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface TmsScale {
  readonly features: number;
  readonly hidden: number;
  /** Training the target (spd: 10k steps of 8192, AdamW at 5e-3 constant). */
  readonly targetSteps: number;
  readonly targetBatch: number;
  /** SPD (the paper: 40k steps of 4096; spd's yaml: 10k). */
  readonly spdSteps: number;
  readonly spdBatch: number;
  /** Components per matrix (200 in spd's yaml). */
  readonly C: number;
  /** The importance-minimality coefficient and p: the paper's 1e-4 and 2 for 40-10, 3e-3 and 1 for 5-2. */
  readonly importanceMinimalityCoeff: number;
  readonly pnorm: number;
  /**
   * Tie linear2's components to linear1's (V2 = U1^T, U2 = V1^T), as spd's tms_decomposition does for a
   * target trained with tied weights (both of spd's TMS targets are). Default true.
   */
  readonly tiedComponents?: boolean;
  /** A target-weights.json from an earlier run: decompose that target instead of training one. */
  readonly targetWeights?: string;
  /** The progress bar on stderr. */
  readonly console?: boolean;
}

/** The paper's settings, for a long run (64x the default's samples). */
export const PAPER_SCALE: TmsScale = { features: 40, hidden: 10, targetSteps: 10_000, targetBatch: 8192, spdSteps: 40_000, spdBatch: 4096, C: 200, importanceMinimalityCoeff: 1e-4, pnorm: 2 };

/**
 * The default: the paper's model and hyperparameters, with the target trained for 3000 steps of 1024 and SPD for
 * 10000 steps of 256, the shortest tried that reaches the paper's answer (4000 steps of 256 does not; README).
 */
export const DEFAULT_SCALE: TmsScale = { ...PAPER_SCALE, targetSteps: 3000, targetBatch: 1024, spdSteps: 10_000, spdBatch: 256 };

const FEATURE_PROBABILITY = 0.05;
const INPUT_MAGNITUDE = 0.75;

/** The paper's SPD settings for the TMS (section 5a; spd's tms_40-10_config.yaml and tms_5-2_config.yaml). */
export const spdSettings = ({ C, importanceMinimalityCoeff, pnorm, tiedComponents = true }: TmsScale) => ({
  modules: [
    { name: 'linear1', C },
    { name: 'linear2', C },
  ],
  tied_weights: tiedComponents ? [['linear1', 'linear2'] as [string, string]] : [],
  ci_fn_type: 'mlp' as const,
  ci_fn_hidden_dims: [16],
  use_delta_component: true,
  importance_minimality_coeff: importanceMinimalityCoeff,
  pnorm,
  stochastic_recon_coeff: 1,
  stochastic_recon_layerwise_coeff: 1,
  faithfulness_warmup_steps: 200,
  faithfulness_warmup_lr: 0.01,
  faithfulness_warmup_weight_decay: 0.1,
});

export interface ModuleSummary {
  /** Features some component has CI > 0.5 for. */
  readonly featuresCaptured: number;
  /** Features whose CI exceeds 0.5 on exactly one component, which no other feature's does. */
  readonly featuresWithOwnComponent: number;
  /** spd's IdentityCIError (tolerance 0.1): 0 is one component per feature at CI 1 and nothing else. */
  readonly identityCiError: number;
  /** Components with CI > 0.1 (spd's ci_alive_threshold) on some one-hot input. */
  readonly aliveOnOneHot: number;
}

export interface TmsExampleResult {
  readonly directory: string;
  readonly files: readonly string[];
  /** spd's train_tms check: features the trained target reproduces within 0.1 and within 0.3 of an input of 0.75 alone. */
  readonly targetPreserved: { readonly within01: number; readonly within03: number };
  readonly targetLoss: number;
  readonly atInit: Readonly<Record<string, ModuleSummary>>;
  readonly trained: Readonly<Record<string, ModuleSummary>>;
  /** Components alive (CI > t somewhere on held-out batches), per module, from evaluateSpd. */
  readonly alive: Readonly<Record<string, number>>;
  readonly mmcs: number;
  readonly ml2r: number;
  readonly evaluation: SpdEvaluation;
  /** The trained causal importances per module, [features][C] (one-hot inputs at 0.75), in component order. */
  readonly ci: Readonly<Record<string, Matrix>>;
  readonly minutes: number;
}

/** Trains the TMS, decomposes it and writes `report.md`, its SVG figures and the runs under `directory`. */
export async function runTmsExample(directory: string, scale: TmsScale = DEFAULT_SCALE): Promise<TmsExampleResult> {
  const started = Date.now();
  const { features, C } = scale;
  await mkdir(directory, { recursive: true });
  const backend = createOnnxBackend();
  const runs = join(directory, 'runs');
  try {
    // 1. The target, as spd's train_tms (AdamW's weight decay 0.01 aside: the trainer's Adam has none), or one from an earlier run.
    const { weights, targetLoss } = scale.targetWeights === undefined ? await trainTarget(scale, runs, backend) : { weights: await readTargetWeights(scale.targetWeights), targetLoss: Number.NaN };
    // The target as JSON, for bench/pytorch/spd_toy_twin.py (the PyTorch twin of this run) and TARGET_WEIGHTS.
    await writeFile(join(directory, 'target-weights.json'), `${JSON.stringify({ kind: 'tms', W: matrixRows(weights.W), b: Array.from(weights.b.data, Number) })}\n`);

    // 2. SPD of both matrices.
    const spd = createSpd(tmsTarget(weights), spdSettings(scale));
    const spdConfig = { num_tokens: scale.spdSteps * scale.spdBatch, batch_size: scale.spdBatch, lr: 1e-3, lr_schedule: 'cosine' as const, lr_final_frac: 0, beta2: 0.999, seed: 0, log_freq: 50 };
    const spdLogger = createLogger({ runsDirectory: runs, name: 'spd', console: scale.console ?? false, wandb: false });
    await spdLogger.init({ name: 'spd', model: spd.target.name, decomposition: 'spd', ...spdSettings(scale), modules: 'linear1,linear2', C, ...spdConfig });
    // Where a plain run with seed 0 starts (the draw and the faithfulness warm-up): the figures' 'at initialisation'.
    // Given to the trainer, it trains as the plain run does, without warming up again.
    const initial = initialTrainingParams(spd, new Rng(spdConfig.seed));
    const result = await trainDecomposition(spd, sparseFeatureSource(features, scale.spdBatch, FEATURE_PROBABILITY, 2), spdConfig, {
      backend,
      logger: spdLogger,
      handleSignals: false,
      initialTensors: [{ params: initial }],
    });
    await saveSpd(join(runs, 'spd', 'spd'), spd, result.params, { target: 'trained by examples/spd-tms' });

    // 3. What the figures and the report show.
    const heldOut = [0, 1, 2, 3].map((index) => sparseFeatureSource(features, 4096, FEATURE_PROBABILITY, 1000 + index));
    const batches = await Promise.all(heldOut.map(async (source) => ({ features: hostFeatures(await source.nextBatch(), features) })));
    const evaluation = await evaluateSpd(spd, result.params, batches, { backend });
    await spdLogger.finish({ status: 'completed', steps: result.step, ...evaluation });
    const ciInit = singleFeatureCausalImportances(spd, initial, INPUT_MAGNITUDE);
    const ci = singleFeatureCausalImportances(spd, result.params, INPUT_MAGNITUDE);
    const summarise = (matrices: Record<string, Matrix>) =>
      Object.fromEntries(
        Object.entries(matrices).map(([name, rows]) => [
          name,
          { featuresCaptured: featuresCaptured(rows), featuresWithOwnComponent: featuresWithOwnComponent(rows), identityCiError: identityCiError(rows), aliveOnOneHot: componentsAbove(rows, 0.1) },
        ]),
      );
    const linear1 = componentNames('linear1');
    // With tied components linear1's V and U hold part of the shared tensors and linear2's the rest: fold them.
    const components = foldTiedComponents(spd, result.params);
    const matches = columnMatches(weights.W, components[linear1.V], components[linear1.U]);
    const alive = Object.fromEntries(spd.modules.map(({ name }) => [name, evaluation[`alive_0.1.${name}`] as number]));

    const files = await writeFigures(directory, weights, components, ci, matches);
    const summary: TmsExampleResult = {
      directory,
      files,
      targetPreserved: { within01: preserved(weights, 0.1), within03: preserved(weights, 0.3) },
      targetLoss,
      atInit: summarise(ciInit),
      trained: summarise(ci),
      alive,
      mmcs: matches.mmcs,
      ml2r: matches.ml2r,
      evaluation,
      ci,
      minutes: (Date.now() - started) / 60_000,
    };
    await writeFile(join(directory, 'summary.json'), `${JSON.stringify({ scale, ...summary, files: undefined, ci: undefined }, null, 2)}\n`);
    await writeFile(join(directory, 'report.md'), report(scale, summary));
    return { ...summary, files: [...files, 'summary.json', 'report.md'] };
  } finally {
    await backend.dispose();
  }
}

async function trainTarget(scale: TmsScale, runs: string, backend: Backend): Promise<{ weights: ToyModelWeights; targetLoss: number }> {
  const { features, hidden } = scale;
  const model = trainableTms(features, hidden);
  const targetConfig = { num_tokens: scale.targetSteps * scale.targetBatch, batch_size: scale.targetBatch, lr: 5e-3, lr_schedule: 'constant' as const, beta2: 0.999, seed: 0, log_freq: 50 };
  const targetLogger = createLogger({ runsDirectory: runs, name: 'target', console: scale.console ?? false, wandb: false });
  await targetLogger.init({ name: 'target', model: `tms_${features}-${hidden}`, ...targetConfig });
  const trained = await trainDecomposition(model, sparseFeatureSource(features, scale.targetBatch, FEATURE_PROBABILITY, 1), targetConfig, { backend, logger: targetLogger, handleSignals: false });
  await targetLogger.finish({ status: 'completed', steps: trained.step });
  return { weights: model.weightsFrom(trained.params), targetLoss: trained.metrics?.loss ?? Number.NaN };
}

/** A target-weights.json (W [features][hidden], b [features]) as the TMS's weights. */
async function readTargetWeights(path: string): Promise<ToyModelWeights> {
  const { W, b } = JSON.parse(await readFile(path, 'utf8')) as { W: number[][]; b: number[] };
  return { W: hostTensor('float32', [W.length, W[0].length], Float32Array.from(W.flat())), b: hostTensor('float32', [b.length], Float32Array.from(b)) };
}

function hostFeatures(batch: ActivationBatch, features: number): HostTensor {
  const data = (batch as Record<string, Float32Array>).features;
  return hostTensor('float32', [data.length / features, features], data);
}

/** spd's train_tms check: with feature i alone at 0.75, how many outputs i come back within `tolerance`. */
function preserved({ W, b }: ToyModelWeights, tolerance: number): number {
  const rows = matrixRows(W);
  return rows.filter((row, i) => Math.abs(Math.max(0, INPUT_MAGNITUDE * row.reduce((sum, value) => sum + value * value, 0) + Number(b.data[i])) - INPUT_MAGNITUDE) < tolerance).length;
}

/** Subcomponent c of V [d_in, C] U [C, d_out]: V[:, c] U[c, :] as [d_in][d_out]. */
const subcomponent = (V: Matrix, U: Matrix, c: number): Matrix => V.map((row) => U[c].map((value) => row[c] * value));
const frobenius = (matrix: Matrix) => Math.sqrt(matrix.reduce((sum, row) => sum + row.reduce((s, value) => s + value * value, 0), 0));

async function writeFigures(directory: string, weights: ToyModelWeights, params: Record<string, HostTensor>, ci: Record<string, Matrix>, matches: ReturnType<typeof columnMatches>): Promise<string[]> {
  const features = weights.W.shape[0];
  // Figure: causal importance of each component on each one-hot input, columns in spd's identity order.
  const ciSpec = heatmapSpec(
    Object.entries(ci).map(([name, rows]) => ({
      title: name,
      subtitle: `${componentsAbove(rows, 0.1)} of ${rows[0].length} components with CI > 0.1 on some feature`,
      values: permuteColumns(rows, identityOrder(rows)),
    })),
    { xTitle: 'Subcomponent (identity order)', yTitle: 'Input feature', colorTitle: 'Causal importance', scheme: 'reds', domain: [0, 1], clamp: true, cellSize: 5, columns: 1, omitBelow: 0.005 },
  );
  // Figure: the target's W against the sum of the subcomponents, the best-matching subcomponent per feature, and the largest subcomponents.
  const names = componentNames('linear1');
  const V = matrixRows(params[names.V]);
  const U = matrixRows(params[names.U]);
  const target = matrixRows(weights.W);
  const sum = matrixProduct(V, U);
  const matched = target.map((_row, feature) => subcomponent(V, U, matches.component[feature])[feature]);
  const byNorm = U.map((_row, c) => ({ c, norm: frobenius(subcomponent(V, U, c)) })).sort((a, b) => b.norm - a.norm);
  const largest = byNorm.slice(0, 6).map(({ c, norm }) => ({ title: `Subcomponent ${c}`, subtitle: `norm ${norm.toFixed(2)}`, values: subcomponent(V, U, c) }));
  const weightsSpec = heatmapSpec(
    [
      { title: 'Target model W', values: target },
      { title: 'Sum of subcomponents', values: sum },
      { title: 'Best-matching subcomponent', subtitle: 'row j of the subcomponent closest to W[j]', values: matched },
      ...largest,
    ],
    { xTitle: 'Hidden', yTitle: 'Input feature', colorTitle: 'Weight', scheme: 'redblue', reverse: true, cellSize: 8, omitBelow: 1e-3 },
  );
  // Figure: spd's cosine-similarity analysis, per feature.
  const similarity = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    config: { background: 'white', font: 'Helvetica, Arial, sans-serif', view: { stroke: '#d0d4da' } },
    title: {
      text: 'Subcomponents against the target\u2019s columns',
      subtitle: `MMCS ${matches.mmcs.toFixed(3)}, ML2R ${matches.ml2r.toFixed(3)} (the paper: 1.000 and 1.010)`,
      anchor: 'start' as const,
    },
    data: { values: matches.cosine.map((cosine, feature) => ({ feature, cosine, ratio: matches.l2Ratio[feature] })) },
    vconcat: [
      {
        width: features * 14,
        height: 120,
        layer: [
          {
            mark: { type: 'bar' as const, color: '#4c78a8' },
            encoding: {
              x: { field: 'feature', type: 'ordinal' as const, title: 'Input feature' },
              y: { field: 'cosine', type: 'quantitative' as const, title: 'Max cosine similarity', scale: { domain: [0, 1.05] } },
            },
          },
          { mark: { type: 'rule' as const, strokeDash: [4, 3], color: '#5f6b7a' }, encoding: { y: { datum: 1 } } },
        ],
      },
      {
        width: features * 14,
        height: 120,
        layer: [
          {
            mark: { type: 'bar' as const, color: '#f58518' },
            encoding: { x: { field: 'feature', type: 'ordinal' as const, title: 'Input feature' }, y: { field: 'ratio', type: 'quantitative' as const, title: 'L2 ratio' } },
          },
          { mark: { type: 'rule' as const, strokeDash: [4, 3], color: '#5f6b7a' }, encoding: { y: { datum: 1 } } },
        ],
      },
    ],
  };
  const figures: [string, Parameters<typeof renderSvg>[0]][] = [
    ['ci-per-feature.svg', ciSpec],
    ['weights.svg', weightsSpec],
    ['column-similarity.svg', similarity],
  ];
  for (const [file, spec] of figures) await writeFile(join(directory, file), await renderSvg(spec, { idPrefix: file.replace('.svg', '-') }));
  return figures.map(([file]) => file);
}

function report(scale: TmsScale, result: TmsExampleResult): string {
  const table = (title: string, rows: Readonly<Record<string, ModuleSummary>>) => [
    `| ${title} | features captured (a component with CI > 0.5) | features with their own component | IdentityCIError | alive on one-hot inputs (CI > 0.1) |`,
    '|---|---|---|---|---|',
    ...Object.entries(rows).map(
      ([name, row]) =>
        `| ${name} | ${row.featuresCaptured} of ${scale.features} | ${row.featuresWithOwnComponent} of ${scale.features} | ${row.identityCiError} | ${row.aliveOnOneHot} of ${scale.C} |`,
    ),
  ];
  const e = result.evaluation;
  return [
    `# SPD of the toy model of superposition ${scale.features} -> ${scale.hidden}`,
    '',
    `Target: ${scale.targetWeights === undefined ? `${scale.targetSteps} steps of ${scale.targetBatch} (loss ${result.targetLoss.toExponential(3)})` : `read from ${scale.targetWeights}`}; with one feature at 0.75, ${result.targetPreserved.within01} of ${scale.features} outputs come back within 0.1 of it and ${result.targetPreserved.within03} within 0.3 (spd's train_tms check; the bias that silences interference lowers them all a little).`,
    `SPD: C = ${scale.C} per matrix, ${scale.spdSteps} steps of ${scale.spdBatch}; ${result.minutes.toFixed(1)} min in all.`,
    '',
    ...table('at initialisation', result.atInit),
    '',
    ...table('trained', result.trained),
    '',
    `CI-L0 on held-out batches (components with CI > 0.1 per input; the paper's answer is one per active feature, about 2): ${Object.keys(result.alive)
      .map((name) => `${name} ${fmtL0(e[`ci_l0_0.1.${name}`])}`)
      .join(', ')}.`,
    '',
    `Alive on held-out batches (CI > 0.1 somewhere): ${Object.entries(result.alive)
      .map(([name, count]) => `${name} ${count}`)
      .join(
        ', ',
      )}. MSE to the target's output with masks: ci ${fmt(e.kl_ci)}, unmasked ${fmt(e.kl_unmasked)}, stochastic ${fmt(e.kl_stochastic)}, rounded_0.5 ${fmt(e['kl_rounded_0.5'])}, zero ${fmt(e.kl_zero)}.`,
    '',
    '## Causal importance per input feature',
    '',
    'The causal importance of every subcomponent when one input feature is 0.75 and the rest 0, columns ordered as spd orders them (for each feature in turn, the unchosen subcomponent with the highest CI). The paper\u2019s answer is a diagonal: one subcomponent per feature in each matrix, the rest dead.',
    '',
    '![causal importance per input feature](ci-per-feature.svg)',
    '',
    '## Subcomponents against the target\u2019s columns',
    '',
    'The target\u2019s W [features, hidden] (row j is the paper\u2019s column j), the sum of linear1\u2019s subcomponents, for each feature j row j of the subcomponent most aligned with W[j], and the six largest subcomponents (each a rank-one matrix that should hold one feature\u2019s row).',
    '',
    '![weights](weights.svg)',
    '',
    `Mean max cosine similarity ${result.mmcs.toFixed(3)} and mean L2 ratio ${result.ml2r.toFixed(3)} (the paper\u2019s Table 1: 1.000 and 1.010 after 40k steps).`,
    '',
    '![column similarity](column-similarity.svg)',
    '',
  ].join('\n');
}

const fmtL0 = (value: number | number[] | undefined) => (typeof value === 'number' ? value.toFixed(2) : 'n/a');
const fmt = (value: number | number[] | undefined) => (typeof value === 'number' ? value.toExponential(2) : 'n/a');
