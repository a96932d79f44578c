/**
 * The paper's toy model of compressed computation (Bushnaq, Braun & Sharkey
 * 2025, section 4.3) as goodfire-ai/spd runs it: a one-layer residual MLP
 * (100 features, d_embed 1000, d_mlp 50, a fixed random embedding) trained to
 * compute x + relu(x) (spd/experiments/resid_mlp/train_resid_mlp.py), both
 * MLP matrices decomposed by SPD (resid_mlp1_config.yaml), and the paper's
 * figures drawn as SVG beside a Markdown report.
 */
import { createOnnxBackend } from '@nnd/backend-onnx';
import { type Backend, hostTensor, initialTrainingParams, Rng, type ActivationBatch, type HostTensor } from '@nnd/core';
import { createLogger } from '@nnd/logging';
import { heatmapSpec, renderSvg } from '@nnd/results';
import {
  componentNames,
  componentsAbove,
  createSpd,
  denseOrder,
  evaluateSpd,
  featuresCaptured,
  featuresWithOwnComponent,
  identityCiError,
  identityOrder,
  matrixRows,
  neuronContributions,
  permuteColumns,
  randomUnitEmbedding,
  residualMlpModules,
  residualMlpTarget,
  saveSpd,
  singleFeatureCausalImportances,
  sparseFeatureSource,
  trainableResidualMlp,
  type Matrix,
  type NeuronContributions,
  type ResidualMlpWeights,
  type SpdEvaluation,
} from '@nnd/spd';
import { trainDecomposition } from '@nnd/train';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface ResidMlpScale {
  readonly features: number;
  readonly dEmbed: number;
  readonly dMlp: number;
  /** Training the target (spd: 1000 steps of 2048, AdamW at 3e-3 with a cosine decay to 0). */
  readonly targetSteps: number;
  readonly targetBatch: number;
  /** SPD (the paper: 30k steps of 2048; spd's yaml: 20k). */
  readonly spdSteps: number;
  readonly spdBatch: number;
  /** Components per matrix (100 in the paper). */
  readonly C: number;
  /** A target-weights.json from an earlier run: decompose that target instead of training one. */
  readonly targetWeights?: string;
  /** The progress bar on stderr. */
  readonly console?: boolean;
}

/** The paper's settings, for a long run. */
export const PAPER_SCALE: ResidMlpScale = { features: 100, dEmbed: 1000, dMlp: 50, targetSteps: 1000, targetBatch: 2048, spdSteps: 30_000, spdBatch: 2048, C: 100 };

/**
 * The default: the paper's model and hyperparameters, with the target trained on batches of 1024 and SPD for 10000
 * steps of 256, which reaches the paper's answer (5000 steps do not yet; README).
 */
export const DEFAULT_SCALE: ResidMlpScale = { features: 100, dEmbed: 1000, dMlp: 50, targetSteps: 1000, targetBatch: 1024, spdSteps: 10_000, spdBatch: 256, C: 100 };

const FEATURE_PROBABILITY = 0.01;
const INPUT_MAGNITUDE = 0.75;
const VALUE_RANGE = [-1, 1] as const;

const MLP_IN = residualMlpModules(0).mlpIn;
const MLP_OUT = residualMlpModules(0).mlpOut;

/** The paper's SPD settings for the one-layer residual MLP (section 5a; spd's resid_mlp1_config.yaml). */
export const spdSettings = (C: number) => ({
  modules: [
    { name: MLP_IN, C },
    { name: MLP_OUT, C },
  ],
  ci_fn_type: 'mlp' as const,
  ci_fn_hidden_dims: [16],
  use_delta_component: true,
  importance_minimality_coeff: 1e-5,
  pnorm: 2,
  stochastic_recon_coeff: 1,
  stochastic_recon_layerwise_coeff: 1,
  faithfulness_warmup_steps: 200,
  faithfulness_warmup_lr: 0.01,
  faithfulness_warmup_weight_decay: 0.1,
});

export interface CiSummary {
  /** mlp_in: features some component has CI > 0.5 for. */
  readonly featuresCaptured: number;
  /** mlp_in: features whose CI exceeds 0.5 on exactly one component, which no other feature's does (the paper: all 100). */
  readonly featuresWithOwnComponent: number;
  /** spd's IdentityCIError on mlp_in (tolerance 0.1). */
  readonly identityCiError: number;
  /** Components with CI > 0.1 on some one-hot input, per module (the paper: 100 in mlp_in, 50 in mlp_out). */
  readonly aliveOnOneHot: Readonly<Record<string, number>>;
}

export interface ResidMlpExampleResult {
  readonly directory: string;
  readonly files: readonly string[];
  readonly targetLoss: number;
  readonly atInit: CiSummary;
  readonly trained: CiSummary;
  /** Components alive (CI > 0.1 somewhere on held-out batches), per module. */
  readonly alive: Readonly<Record<string, number>>;
  /** Correlation of the target's neuron contributions with the matched subcomponents' (the paper's Figure 7 is near the diagonal). */
  readonly contributionCorrelation: number;
  readonly evaluation: SpdEvaluation;
  /** The trained causal importances per module, [features][C] (one-hot inputs at 0.75), in component order. */
  readonly ci: Readonly<Record<string, Matrix>>;
  readonly minutes: number;
}

/** Trains the residual MLP, decomposes it and writes `report.md`, its SVG figures and the runs under `directory`. */
export async function runResidMlpExample(directory: string, scale: ResidMlpScale = DEFAULT_SCALE): Promise<ResidMlpExampleResult> {
  const started = Date.now();
  const { features, C } = scale;
  await mkdir(directory, { recursive: true });
  const backend = createOnnxBackend();
  const runs = join(directory, 'runs');
  try {
    // 1. The target (or one from an earlier run), and its weights as JSON for bench/pytorch/spd_toy_twin.py (the PyTorch twin of this run) and TARGET_WEIGHTS.
    const { weights, targetLoss } = scale.targetWeights === undefined ? await trainTarget(scale, runs, backend) : { weights: await readTargetWeights(scale.targetWeights), targetLoss: Number.NaN };
    const rows = (tensor: HostTensor) => matrixRows(tensor);
    await writeFile(
      join(directory, 'target-weights.json'),
      `${JSON.stringify({ kind: 'resid_mlp', W_E: rows(weights.embedding), layers: weights.layers.map(({ mlpIn, mlpOut }) => ({ mlp_in: rows(mlpIn), mlp_out: rows(mlpOut) })) })}\n`,
    );

    // 2. SPD of both MLP matrices.
    const spd = createSpd(residualMlpTarget(weights), spdSettings(C));
    const spdConfig = { num_tokens: scale.spdSteps * scale.spdBatch, batch_size: scale.spdBatch, lr: 2e-3, lr_schedule: 'constant' as const, beta2: 0.999, seed: 0, log_freq: 50 };
    const spdLogger = createLogger({ runsDirectory: runs, name: 'spd', console: scale.console ?? false, wandb: false });
    await spdLogger.init({ name: 'spd', model: spd.target.name, decomposition: 'spd', ...spdSettings(C), modules: `${MLP_IN},${MLP_OUT}`, C, ...spdConfig });
    // Where a plain run with seed 0 starts (the draw and the faithfulness warm-up): the figures' 'at initialisation'.
    // Given to the trainer, it trains as the plain run does, without warming up again.
    const initial = initialTrainingParams(spd, new Rng(spdConfig.seed));
    const result = await trainDecomposition(spd, sparseFeatureSource(features, scale.spdBatch, FEATURE_PROBABILITY, 2, VALUE_RANGE), spdConfig, {
      backend,
      logger: spdLogger,
      handleSignals: false,
      initialTensors: [{ params: initial }],
    });
    await saveSpd(join(runs, 'spd', 'spd'), spd, result.params, { target: 'trained by examples/spd-resid-mlp' });

    // 3. What the figures and the report show.
    const batches: Record<string, HostTensor>[] = [];
    for (let index = 0; index < 4; index++) batches.push({ features: hostFeatures(await sparseFeatureSource(features, 2048, FEATURE_PROBABILITY, 1000 + index, VALUE_RANGE).nextBatch(), features) });
    const evaluation = await evaluateSpd(spd, result.params, batches, { backend });
    await spdLogger.finish({ status: 'completed', steps: result.step, ...evaluation });
    const summarise = (matrices: Record<string, Matrix>): CiSummary => ({
      featuresCaptured: featuresCaptured(matrices[MLP_IN]),
      featuresWithOwnComponent: featuresWithOwnComponent(matrices[MLP_IN]),
      identityCiError: identityCiError(matrices[MLP_IN]),
      aliveOnOneHot: Object.fromEntries(Object.entries(matrices).map(([name, rows]) => [name, componentsAbove(rows, 0.1)])),
    });
    const ci = singleFeatureCausalImportances(spd, result.params, INPUT_MAGNITUDE);
    const atInit = summarise(singleFeatureCausalImportances(spd, initial, INPUT_MAGNITUDE));
    const names = { in: componentNames(MLP_IN), out: componentNames(MLP_OUT) };
    const layer = weights.layers[0];
    const contributions = neuronContributions(weights.embedding, layer.mlpIn, layer.mlpOut, {
      V_in: result.params[names.in.V],
      U_in: result.params[names.in.U],
      V_out: result.params[names.out.V],
      U_out: result.params[names.out.U],
    });
    const files = await writeFigures(directory, ci, contributions);
    const summary: ResidMlpExampleResult = {
      directory,
      files,
      targetLoss,
      atInit,
      trained: summarise(ci),
      alive: Object.fromEntries(spd.modules.map(({ name }) => [name, evaluation[`alive_0.1.${name}`] as number])),
      contributionCorrelation: correlation(contributions.model.flat(), contributions.subcomponent.flat()),
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

/** The target: a fixed random embedding, the MLP trained as spd's train_resid_mlp (AdamW's weight decay 0.01 aside). */
async function trainTarget(scale: ResidMlpScale, runs: string, backend: Backend): Promise<{ weights: ResidualMlpWeights; targetLoss: number }> {
  const { features } = scale;
  const embedding = randomUnitEmbedding(features, scale.dEmbed, new Rng(0));
  const model = trainableResidualMlp(embedding, { dMlp: scale.dMlp });
  const targetConfig = {
    num_tokens: scale.targetSteps * scale.targetBatch,
    batch_size: scale.targetBatch,
    lr: 3e-3,
    lr_schedule: 'cosine' as const,
    lr_final_frac: 0,
    beta2: 0.999,
    seed: 0,
    log_freq: 50,
  };
  const targetLogger = createLogger({ runsDirectory: runs, name: 'target', console: scale.console ?? false, wandb: false });
  await targetLogger.init({ name: 'target', model: `resid_mlp1_${features}-${scale.dEmbed}-${scale.dMlp}`, ...targetConfig });
  const trainedTarget = await trainDecomposition(model, sparseFeatureSource(features, scale.targetBatch, FEATURE_PROBABILITY, 1, VALUE_RANGE), targetConfig, {
    backend,
    logger: targetLogger,
    handleSignals: false,
  });
  await targetLogger.finish({ status: 'completed', steps: trainedTarget.step });
  return { weights: model.weightsFrom(trainedTarget.params), targetLoss: trainedTarget.metrics?.loss ?? Number.NaN };
}

/** A target-weights.json (W_E [features][d_embed], layers [{ mlp_in, mlp_out }]) as the residual MLP's weights. */
async function readTargetWeights(path: string): Promise<ResidualMlpWeights> {
  const spec = JSON.parse(await readFile(path, 'utf8')) as { W_E: number[][]; layers: { mlp_in: number[][]; mlp_out: number[][] }[] };
  const tensor = (rows: number[][]) => hostTensor('float32', [rows.length, rows[0].length], Float32Array.from(rows.flat()));
  return { embedding: tensor(spec.W_E), layers: spec.layers.map(({ mlp_in, mlp_out }) => ({ mlpIn: tensor(mlp_in), mlpOut: tensor(mlp_out) })) };
}

function hostFeatures(batch: ActivationBatch, features: number): HostTensor {
  const data = (batch as Record<string, Float32Array>).features;
  return hostTensor('float32', [data.length / features, features], data);
}

function correlation(x: readonly number[], y: readonly number[]): number {
  const mean = (values: readonly number[]) => values.reduce((sum, value) => sum + value, 0) / values.length;
  const [mx, my] = [mean(x), mean(y)];
  let [sxy, sxx, syy] = [0, 0, 0];
  x.forEach((value, index) => {
    sxy += (value - mx) * (y[index] - my);
    sxx += (value - mx) ** 2;
    syy += (y[index] - my) ** 2;
  });
  return sxx === 0 || syy === 0 ? 0 : sxy / Math.sqrt(sxx * syy);
}

const vegaLite = 'https://vega.github.io/schema/vega-lite/v6.json';
const plotConfig = { background: 'white', font: 'Helvetica, Arial, sans-serif', view: { stroke: '#d0d4da' } };

async function writeFigures(directory: string, ci: Record<string, Matrix>, contributions: NeuronContributions): Promise<string[]> {
  // The paper's Figure 8 (middle): mlp_in in spd's identity order, mlp_out in its dense order (columns by total CI).
  const ciSpec = heatmapSpec(
    [
      { title: MLP_IN, subtitle: `${componentsAbove(ci[MLP_IN], 0.1)} components with CI > 0.1 on some feature; identity order`, values: permuteColumns(ci[MLP_IN], identityOrder(ci[MLP_IN])) },
      { title: MLP_OUT, subtitle: `${componentsAbove(ci[MLP_OUT], 0.1)} components with CI > 0.1 on some feature; dense order`, values: permuteColumns(ci[MLP_OUT], denseOrder(ci[MLP_OUT])) },
    ],
    { xTitle: 'Subcomponent', yTitle: 'Input feature', colorTitle: 'Causal importance', scheme: 'reds', domain: [0, 1], clamp: true, cellSize: 4, omitBelow: 0.005 },
  );
  // The paper's Figure 6: per feature (the first 10), every neuron's contribution in the target and in the feature's subcomponent.
  const shown = 10;
  const strip = (title: string, rows: Matrix, labels: readonly string[]) => ({
    title,
    width: shown * 40,
    height: 160,
    data: { values: rows.slice(0, shown).flatMap((row, feature) => row.map((value, neuron) => ({ feature: labels[feature], neuron, value }))) },
    mark: { type: 'point' as const, filled: true, opacity: 0.5, size: 30 },
    encoding: {
      x: { field: 'feature', type: 'ordinal' as const, title: title === 'Target model' ? 'Input feature' : 'Subcomponent of mlp_in (for input features 0-9)', sort: null },
      xOffset: { field: 'neuron', type: 'quantitative' as const, scale: { domain: [0, rows[0].length] } },
      y: { field: 'value', type: 'quantitative' as const, title: 'Neuron contribution' },
      color: { value: '#4c78a8' },
    },
  });
  const perFeature = {
    $schema: vegaLite,
    config: plotConfig,
    resolve: { scale: { y: 'shared' as const } },
    vconcat: [
      strip(
        'Target model',
        contributions.model,
        Array.from({ length: shown }, (_, feature) => String(feature)),
      ),
      strip(
        'Individual SPD subcomponents',
        contributions.subcomponent,
        contributions.component.slice(0, shown).map((c, feature) => `${c} (feature ${feature})`),
      ),
    ],
  };
  // The paper's Figure 7: every (feature, neuron) pair, target against subcomponent.
  const values = contributions.model.flatMap((row, feature) => row.map((model, neuron) => ({ model, spd: contributions.subcomponent[feature][neuron] })));
  const extent = values.reduce((m, { model, spd }) => Math.max(m, Math.abs(model), Math.abs(spd)), 0);
  const pairs = {
    $schema: vegaLite,
    config: plotConfig,
    title: {
      text: 'Neuron contributions: target model against SPD subcomponents',
      subtitle: `all ${contributions.model.length} features x ${contributions.model[0].length} neurons`,
      anchor: 'start' as const,
    },
    width: 360,
    height: 360,
    layer: [
      {
        data: { values },
        mark: { type: 'point' as const, filled: true, opacity: 0.3, size: 12, color: '#4c78a8' },
        encoding: {
          x: { field: 'model', type: 'quantitative' as const, title: 'Target model', scale: { domain: [-extent, extent] } },
          y: { field: 'spd', type: 'quantitative' as const, title: 'Subcomponent of mlp_in', scale: { domain: [-extent, extent] } },
        },
      },
      {
        data: {
          values: [
            { model: -extent, spd: -extent },
            { model: extent, spd: extent },
          ],
        },
        mark: { type: 'line' as const, strokeDash: [4, 3], color: '#5f6b7a' },
        encoding: { x: { field: 'model', type: 'quantitative' as const }, y: { field: 'spd', type: 'quantitative' as const } },
      },
    ],
  };
  const figures: [string, Parameters<typeof renderSvg>[0]][] = [
    ['ci-per-feature.svg', ciSpec],
    ['neuron-contributions.svg', perFeature],
    ['neuron-contribution-pairs.svg', pairs],
  ];
  for (const [file, spec] of figures) await writeFile(join(directory, file), await renderSvg(spec, { idPrefix: file.replace('.svg', '-') }));
  return figures.map(([file]) => file);
}

function report(scale: ResidMlpScale, result: ResidMlpExampleResult): string {
  const row = (title: string, summary: CiSummary) =>
    `| ${title} | ${summary.featuresCaptured} of ${scale.features} | ${summary.featuresWithOwnComponent} of ${scale.features} | ${summary.identityCiError} | ${summary.aliveOnOneHot[MLP_IN]} | ${summary.aliveOnOneHot[MLP_OUT]} |`;
  const e = result.evaluation;
  const fmt = (value: number | number[] | undefined) => (typeof value === 'number' ? value.toExponential(2) : 'n/a');
  return [
    '# SPD of the toy model of compressed computation (one-layer residual MLP)',
    '',
    `Target: ${scale.features} features, d_embed ${scale.dEmbed}, d_mlp ${scale.dMlp}, ${scale.targetSteps} steps of ${scale.targetBatch} (final MSE ${result.targetLoss.toExponential(3)}).`,
    `SPD: C = ${scale.C} per matrix, ${scale.spdSteps} steps of ${scale.spdBatch}; ${result.minutes.toFixed(1)} min in all.`,
    '',
    `| | ${MLP_IN}: features captured (a component with CI > 0.5) | ${MLP_IN}: features with their own component | ${MLP_IN}: IdentityCIError | alive on one-hot inputs (CI > 0.1): ${MLP_IN} | ${MLP_OUT} |`,
    '|---|---|---|---|---|---|',
    row('at initialisation', result.atInit),
    row('trained', result.trained),
    '',
    `Alive on held-out batches (CI > 0.1 somewhere): ${Object.entries(result.alive)
      .map(([name, count]) => `${name} ${count}`)
      .join(
        ', ',
      )} (the paper: 100 and 50). MSE to the target's output with masks: ci ${fmt(e.kl_ci)}, unmasked ${fmt(e.kl_unmasked)}, stochastic ${fmt(e.kl_stochastic)}, rounded_0.5 ${fmt(e['kl_rounded_0.5'])}, zero ${fmt(e.kl_zero)}.`,
    '',
    '## Causal importance per input feature',
    '',
    `Each subcomponent's causal importance when one input feature is ${INPUT_MAGNITUDE} and the rest 0 (the paper's Figure 8, middle). The paper's answer: in ${MLP_IN} one subcomponent per feature (a diagonal in spd's identity order); in ${MLP_OUT} about 50 subcomponents that are all important for every feature, together one rank-50 mechanism (columns by total CI).`,
    '',
    '![causal importance per input feature](ci-per-feature.svg)',
    '',
    '## Neuron contributions',
    '',
    `For features 0-9, what each of the ${scale.dMlp} neurons contributes to reading the feature back out, in the target and in the ${MLP_IN} subcomponent chosen for the feature (the paper's Figure 6); then all features against each other (Figure 7). Correlation between the two: ${result.contributionCorrelation.toFixed(3)}.`,
    '',
    '![neuron contributions](neuron-contributions.svg)',
    '',
    '![neuron contribution pairs](neuron-contribution-pairs.svg)',
    '',
  ].join('\n');
}
