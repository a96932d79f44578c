import {
  add,
  cast,
  ConfigError,
  mul,
  sub,
  crossEntropy,
  greater,
  hostTensor,
  reduceMax,
  reduceMean,
  reduceSum,
  reshape,
  Rng,
  slice,
  Graph,
  type Backend,
  type HostTensor,
  type Tensor,
} from '@nnd/core';
import { reconLoss, spdActivations, type SpdDecomposition } from './spd-decomposition.js';

/** The masks spd's CEandKLLosses compares with the target (`rounded_{t}` for each rounding threshold). */
export const EVALUATION_MASKS = ['ci', 'unmasked', 'stochastic', 'random', 'zero'] as const;

export interface SpdEvaluationOptions {
  readonly backend: Backend;
  /** Thresholds for the `rounded` masks (1[ci > t]); spd's reference uses 0. Default [0, 0.5]. */
  readonly roundingThresholds?: readonly number[];
  /** Thresholds at which components count as alive (CI above it somewhere in the evaluation) and for CI-L0. Default [0, 0.01, 0.1, 0.5]. */
  readonly aliveThresholds?: readonly number[];
  /** Seeds the stochastic and random masks. */
  readonly seed?: number;
  /** Equal-width bins over [0, 1] of the CI histograms. Default 50. */
  readonly histogramBins?: number;
  /** A component is active at a position when its CI exceeds this (component activation density). Default the config's `ci_alive_threshold`. */
  readonly densityThreshold?: number;
}

/**
 * What `evaluateSpd` returns: scalars by name (`kl_ci`, `ci_l0_0.1.{module}`,
 * ...) and, per module, two arrays: `ci_histogram.{module}` and
 * `component_density.{module}` (see `evaluateSpd`).
 */
export type SpdEvaluation = Record<string, number | number[]>;

/** The CI histogram of a module: counts of causal importances in `bins` equal bins over [0, 1] (the key `ci_histogram.{module}`). */
export const CI_HISTOGRAM_PREFIX = 'ci_histogram.';
/** Per component of a module, the fraction of evaluated positions where its CI exceeds the density threshold (the key `component_density.{module}`). */
export const COMPONENT_DENSITY_PREFIX = 'component_density.';

/**
 * Adds CI values to a histogram of equal bins over [0, 1]: bin i counts
 * values in [i / n, (i + 1) / n), the last bin takes 1 too. CIs are clamped
 * to [0, 1] by the lower-leaky sigmoid; anything outside lands in the end
 * bins.
 */
export function addToCiHistogram(counts: number[], values: ArrayLike<number>): void {
  const bins = counts.length;
  for (let index = 0; index < values.length; index++) {
    const bin = Math.floor(values[index] * bins);
    counts[bin < 0 ? 0 : bin >= bins ? bins - 1 : bin]++;
  }
}

/** Adds, per component, the positions of `ci` ([positions, C], row-major) where its CI exceeds `threshold`. */
export function addActivePositions(active: number[], ci: ArrayLike<number>, threshold: number): void {
  const C = active.length;
  for (let index = 0; index < ci.length; index++) if (ci[index] > threshold) active[index % C]++;
}

/**
 * spd's evaluation metrics over batches of the target's input (token ids
 * [rows, seq] for a language model), averaged over batches:
 * - `kl_{mask}`: KL(target || output with the mask) per position, and for
 *   language models `ce_diff_{mask}` (next-token cross-entropy minus the
 *   target's) and `ce_unrecovered_{mask}` = (CE - CE_target) / (CE_zero - CE_target),
 *   for masks `ci`, `unmasked`, `stochastic`, `random`, `rounded_{t}` and `zero`
 *   (no delta component, as the reference's evaluations drop it);
 * - `ci_l0_{t}.{module}`: mean number of components with CI > t per position;
 * - `alive_{t}.{module}`: components whose CI exceeds t at some position
 *   (several thresholds, since one alone misleads);
 * - `ci_histogram.{module}`: spd's CI histogram, the counts of all the
 *   module's causal importances (every position and component) in
 *   `histogramBins` equal bins over [0, 1];
 * - `component_density.{module}`: spd's component activation density, per
 *   component the fraction of positions where its CI exceeds
 *   `component_density_threshold` (the config's `ci_alive_threshold`).
 */
export async function evaluateSpd(
  spd: SpdDecomposition,
  params: Readonly<Record<string, HostTensor>>,
  batches: readonly Readonly<Record<string, HostTensor>>[],
  options: SpdEvaluationOptions,
): Promise<SpdEvaluation> {
  const rounding = options.roundingThresholds ?? [0, 0.5];
  const bins = options.histogramBins ?? 50;
  if (!Number.isInteger(bins) || bins < 1) throw new ConfigError(`evaluateSpd: histogramBins is ${bins}; allowed: an integer >= 1.`);
  const densityThreshold = options.densityThreshold ?? spd.config.ci_alive_threshold;
  const histograms = new Map(spd.modules.map(({ name }) => [name, new Array<number>(bins).fill(0)]));
  const active = new Map(spd.modules.map(({ name, C }) => [name, new Array<number>(C).fill(0)]));
  let positions = 0;
  const alive = options.aliveThresholds ?? [0, 0.01, 0.1, 0.5];
  const rng = new Rng(options.seed ?? 0);
  const totals: Record<string, number> = {};
  const maxima = new Map<string, Float32Array>();
  const { target, modules } = spd;
  const language = target.outputLoss === 'kl' && target.inputs.length === 1 && target.inputs[0].dtype === 'int64';
  for (const batch of batches) {
    const graph = new Graph();
    const inputs = Object.fromEntries(target.inputs.map(({ hook }) => [hook, graph.input(`input.${hook}`, batch[hook].shape, batch[hook].dtype)]));
    const weights = target.weights();
    const frozen = Object.fromEntries(Object.entries(weights).map(([name, tensor]) => [name, graph.input(`frozen.${name}`, tensor.shape)]));
    const parameters = Object.fromEntries(Object.entries(params).map(([name, tensor]) => [name, graph.input(`param.${name}`, tensor.shape)]));
    const activations = spdActivations(graph, spd, inputs, parameters, frozen);
    const { ci, targetOutput } = activations;
    const feeds: Record<string, HostTensor> = {};
    for (const [hook, tensor] of Object.entries(batch)) feeds[`input.${hook}`] = tensor;
    for (const [name, tensor] of Object.entries(weights)) feeds[`frozen.${name}`] = tensor;
    for (const [name, tensor] of Object.entries(params)) feeds[`param.${name}`] = tensor;
    const uniform = (name: string, shape: readonly number[]) => {
      feeds[name] = hostTensor('float32', shape, rng.uniform(shape.reduce((a, b) => a * b, 1)));
      return graph.input(name, [...shape]);
    };
    const masksFor = (kind: string): Record<string, { mask: Tensor }> =>
      Object.fromEntries(
        modules.map(({ name }) => {
          const g = ci[name];
          const shape = g.shape.map(Number);
          let mask: Tensor;
          if (kind === 'ci') mask = g;
          else if (kind === 'unmasked') mask = graph.constant(hostTensor('float32', shape, new Float32Array(shape.reduce((a, b) => a * b, 1)).fill(1)));
          else if (kind === 'zero') mask = graph.constant(hostTensor('float32', shape, new Float32Array(shape.reduce((a, b) => a * b, 1))));
          else if (kind === 'random') mask = uniform(`random.${name}`, shape);
          else if (kind === 'stochastic') mask = add(g, mul(sub(1, g), uniform(`stochastic.${name}`, shape)));
          else mask = cast(greater(g, Number(kind.slice('rounded_'.length))), 'float32');
          return [name, { mask }];
        }),
      );
    const outputs: Tensor[] = [];
    const names: string[] = [];
    const tokenCe = (logits: Tensor) => {
      const tokens = inputs[target.inputs[0].hook];
      return crossEntropy(slice(logits, { starts: [0], ends: [-1], axes: [1] }), slice(tokens, { starts: [1], ends: [Infinity], axes: [1] }));
    };
    if (language) {
      names.push('ce_target');
      outputs.push(tokenCe(targetOutput));
    }
    for (const kind of [...EVALUATION_MASKS, ...rounding.map((threshold) => `rounded_${threshold}`)]) {
      const output = activations.maskedOutput(masksFor(kind));
      names.push(`kl_${kind}`);
      outputs.push(reconLoss(target.outputLoss, output, targetOutput));
      if (language) {
        names.push(`ce_${kind}`);
        outputs.push(tokenCe(output));
      }
    }
    for (const { name, C } of modules) {
      for (const threshold of alive) {
        names.push(`ci_l0_${threshold}.${name}`);
        outputs.push(reduceMean(reduceSum(cast(greater(ci[name], threshold), 'float32'), -1)));
      }
      names.push(`ci_max.${name}`);
      outputs.push(reduceMax(reshape(ci[name], [-1, C]), 0));
      names.push(`ci.${name}`);
      outputs.push(reshape(ci[name], [-1, C]));
    }
    const program = await options.backend.compile(graph, { outputs: Object.fromEntries(names.map((name, index) => [name, outputs[index]])), hostOutputs: names });
    try {
      const result = await program.run(feeds);
      for (const name of names) {
        const value = await result[name].toHost();
        if (name.startsWith('ci_max.')) {
          const data = Float32Array.from(value.data as Float32Array);
          const previous = maxima.get(name);
          maxima.set(name, previous === undefined ? data : previous.map((old, index) => Math.max(old, data[index])));
        } else if (name.startsWith('ci.')) {
          const module = name.slice('ci.'.length);
          const values = value.data as Float32Array;
          addToCiHistogram(histograms.get(module)!, values);
          addActivePositions(active.get(module)!, values, densityThreshold);
          if (module === modules[0].name) positions += value.shape[0];
        } else {
          totals[name] = (totals[name] ?? 0) + Number(value.data[0]) / batches.length;
        }
        result[name].dispose();
      }
    } finally {
      await program.dispose();
    }
  }
  const metrics: SpdEvaluation = {};
  for (const [name, value] of Object.entries(totals)) if (!name.startsWith('ce_') || name === 'ce_target') metrics[name] = value;
  if (language) {
    for (const kind of [...EVALUATION_MASKS, ...rounding.map((threshold) => `rounded_${threshold}`)]) {
      metrics[`ce_diff_${kind}`] = totals[`ce_${kind}`] - totals.ce_target;
      metrics[`ce_unrecovered_${kind}`] = (totals[`ce_${kind}`] - totals.ce_target) / (totals.ce_zero - totals.ce_target);
    }
  }
  for (const { name } of modules) {
    const maximum = maxima.get(`ci_max.${name}`)!;
    for (const threshold of alive) metrics[`alive_${threshold}.${name}`] = maximum.filter((value) => value > threshold).length;
  }
  metrics.component_density_threshold = densityThreshold;
  for (const { name } of modules) {
    metrics[`${CI_HISTOGRAM_PREFIX}${name}`] = histograms.get(name)!;
    metrics[`${COMPONENT_DENSITY_PREFIX}${name}`] = active.get(name)!.map((count) => count / positions);
  }
  return metrics;
}
