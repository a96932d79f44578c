import {
  combineDecompositions,
  combinedTensors,
  ConfigError,
  type Decomposition,
  type EvaluationOption,
  type FeatureGroup,
  type HostTensor,
  type InferenceOptions,
  type MeasuredFeatureGroup,
} from '@nnd/core';
import { hookName, type HookedTransformer, type TokenInput } from '@nnd/models';
import type { DecompositionEvaluation } from '../evaluation/decomposition-evaluation.js';
import { DecompositionEvaluator, type DecompositionTensors } from '../evaluation/decomposition-evaluator.js';
import type { ReconstructionMode, SplicedInputs } from '../evaluation/evaluation-graph.js';
import { NEURON_BASELINE_ARCHITECTURE, neuronBaseline } from './neuron-baseline.js';

/** One method of a comparison: decompositions that together replace the streams they write (a transcoder per layer, one CLT). */
export interface ComparedMethod {
  /** Its name in tables and legends (`transcoder topk_transcoder k=16`); unique within a comparison. */
  readonly label: string;
  /** What colours it in plots: methods of one family share a colour (`transcoder`). */
  readonly family: string;
  /** Its decompositions with their trained tensors; several are combined (combineDecompositions), so all replace their streams in one pass. */
  readonly parts: readonly DecompositionTensors[];
  /** Tokens it was trained on, for the model table. */
  readonly trainingTokens?: number;
}

/** The reference's evaluation choices a point was evaluated with (DECOMPOSITIONS.md 11), none for the correct evaluation. */
export type ReferenceQuirk =
  /** BatchTopK's batch-level top-k over the evaluation batch (its forward pass), rather than per-token inference with its learned threshold. */
  | 'batch_top_k'
  /** TopK and BatchTopK encoders without b_enc. */
  | 'no_b_enc'
  /** A multi-layer decomposition's outputs computed from the clean model's inputs, not the patched stream's (the reference's CLT evaluation). */
  | 'clean_inputs'
  /** SPD without its delta component W - VU (the reference drops it; decompositions offer it as an EvaluationOption). */
  | 'no_delta';

/** Per feature group, what the model table and the sparsity axes need; @nnd/results adds up the groups of one module. */
export type ComparedGroup = MeasuredFeatureGroup;

/** One evaluated configuration of a method. */
export interface ComparisonPoint {
  readonly method: string;
  readonly family: string;
  /** 'native': the method's own sparsity; 'top_k': every module keeps its k largest features per token. */
  readonly sweep: 'native' | 'top_k';
  /** The synthetic sweep's k (and the neuron baseline's kept units). */
  readonly k?: number;
  /** Empty for the correct evaluation; else the reference's quirks it reproduces. */
  readonly quirks: readonly ReferenceQuirk[];
  /** A second correct evaluation the decomposition offers (its EvaluationOption's variant: SPD's `CI > 0`); absent for its default. */
  readonly variant?: string;
  /** Mean next-token cross-entropy with the method spliced in (nats). */
  readonly ce: number;
  /** ce − the original model's: positive when splicing hurts (the reference's exp_011 convention). */
  readonly ceDegradation: number;
  /** Mean over written streams, tokens and elements of (output − clean value)² (the reference's per-layer F.mse_loss, averaged over layers of one width). */
  readonly mse: number;
  readonly explainedVariance: number;
  /** Streams (MLPs) the method writes. */
  readonly streams: number;
  readonly groups: readonly ComparedGroup[];
  /** Σ numel of its parameters (undefined for the neuron baseline, whose weights are the model's). */
  readonly totalParams?: number;
  readonly trainingTokens?: number;
}

export interface Comparison {
  /** The unchanged model's mean next-token cross-entropy. */
  readonly originalCe: number;
  /** With every compared MLP output set to zero. */
  readonly zeroAblationCe: number;
  /** Token positions evaluated. */
  readonly tokens: number;
  /** The model layers whose MLP outputs the neuron baseline replaces. */
  readonly layers: readonly number[];
  readonly points: readonly ComparisonPoint[];
}

export interface CompareMethodsOptions {
  readonly model: HookedTransformer;
  readonly methods: readonly ComparedMethod[];
  /** Held-out token batches, the same for every method. */
  readonly tokenBatches: readonly TokenInput[];
  /** The synthetic sweep's k; default 1, 2, 4, ... up to the largest module (or d_mlp). */
  readonly topK?: readonly number[];
  /** Hidden units the neuron baseline keeps at its native points; default 8, 16, 32, 64, 128 (exp_011). Empty: no neuron baseline. */
  readonly neuronK?: readonly number[];
  /**
   * Also evaluate each method the reference's way where that differs,
   * labelled by its quirks: 'combined' (default) with every quirk that
   * applies at once (the reference's numbers), 'separate' also with each
   * quirk alone (e.g. BatchTopK's batch top-k with b_enc), 'none' not at all.
   */
  readonly reference?: 'combined' | 'separate' | 'none';
  /** Leave BOS positions out of MSE and L0 (not of the losses); default false, as the reference. */
  readonly excludeBos?: boolean;
  /** Spliced passes compiled into one program; default 6. */
  readonly membersPerProgram?: number;
  readonly onProgress?: (message: string) => void;
}

interface Entry {
  readonly point: Omit<ComparisonPoint, 'ce' | 'ceDegradation' | 'mse' | 'explainedVariance' | 'groups'>;
  readonly member: DecompositionTensors;
  readonly groups: readonly FeatureGroup[] | undefined;
  readonly mode: ReconstructionMode;
  readonly spliced: SplicedInputs;
}

const DEFAULT_NEURON_K = [8, 16, 32, 64, 128];

/** 1, 2, 4, ... up to `limit`, and `limit` itself. */
export function powersOfTwoUpTo(limit: number): number[] {
  const values: number[] = [];
  for (let k = 1; k < limit; k *= 2) values.push(k);
  values.push(limit);
  return values;
}

/** With `topK`, the decomposition's inference keeps k features per module; everything else is its own. */
function withInference(decomposition: Decomposition, options: InferenceOptions): Decomposition {
  return { ...decomposition, inferOutputs: (graph, inputs, params, state) => decomposition.inferOutputs!(graph, inputs, params, state, options) };
}

function numel(tensors: Readonly<Record<string, HostTensor>>): number {
  return Object.values(tensors).reduce((total, tensor) => total + tensor.shape.reduce((product, size) => product * size, 1), 0);
}

/**
 * Evaluates every method on the same tokens with all of its written
 * streams replaced at once, at its native sparsity and over a synthetic
 * per-token top-k sweep, plus the neuron baseline (the top-k hidden units of
 * each MLP the methods replace), the original model and zero ablation of
 * those MLPs: the data of the reference's exp_007, exp_011 and exp_012
 * (DECOMPOSITIONS.md 6). By default each method is also evaluated the
 * reference's way where that differs (DECOMPOSITIONS.md 11), labelled.
 */
export async function compareMethods(options: CompareMethodsOptions): Promise<Comparison> {
  const { model, methods, tokenBatches } = options;
  if (tokenBatches.length === 0) throw new ConfigError('compareMethods: no token batches; pass the held-out tokens to evaluate on.');
  const labels = new Set<string>();
  for (const method of methods) {
    if (method.parts.length === 0) throw new ConfigError(`compareMethods: method '${method.label}' has no decompositions.`);
    if (labels.has(method.label)) throw new ConfigError(`compareMethods: two methods are labelled '${method.label}'; labels must be unique.`);
    labels.add(method.label);
  }
  const reference = options.reference ?? 'combined';
  const hookOrder = new Map(model.hookNames.map((hook, index) => [hook, index]));
  const position = (decomposition: Decomposition) => Math.min(...decomposition.writes.map(({ hook }) => hookOrder.get(hook) ?? Infinity));

  // A decomposition of weights (SPD) is compared as the stream replacements it offers, one per block.
  const replacing = new Map(
    methods.map((method) => [
      method,
      method.parts.flatMap((part) =>
        part.decomposition.writes.length === 0 && part.decomposition.streamReplacement !== undefined
          ? part.decomposition.streamReplacement(part.params).map((view) => ({ ...view, state: {} }))
          : [part],
      ),
    ]),
  );

  // The MLPs the methods replace: the neuron baseline and zero ablation cover the same ones.
  const mlpOuts = new Map(Array.from({ length: model.config.layerCount }, (_, layer) => [hookName('mlp_out', layer), layer]));
  const written = new Set(methods.flatMap((method) => replacing.get(method)!.flatMap(({ decomposition }) => decomposition.writes.map(({ hook }) => hook))));
  let layers = [...mlpOuts].filter(([hook]) => written.has(hook)).map(([, layer]) => layer);
  if (layers.length === 0) layers = [...mlpOuts.values()];

  const entries: Entry[] = [];
  for (const method of methods) {
    const parts = [...replacing.get(method)!].sort((a, b) => position(a.decomposition) - position(b.decomposition));
    const decomposition = parts.length === 1 ? parts[0].decomposition : combineDecompositions(parts.map((part) => part.decomposition));
    const params = parts.length === 1 ? parts[0].params : combinedTensors(parts.map((part) => part.params));
    const state = parts.length === 1 ? parts[0].state : combinedTensors(parts.map((part) => part.state));
    const groups = decomposition.featureGroups?.();
    const base = {
      method: method.label,
      family: method.family,
      streams: decomposition.writes.length,
      // Its own trained tensors, not the model weights a replacement view carries.
      totalParams: method.parts.reduce((total, part) => total + numel(part.params), 0),
      ...(method.trainingTokens === undefined ? {} : { trainingTokens: method.trainingTokens }),
    };
    const coupled = decomposition.forwardCouplesSamples === true && decomposition.inferOutputs !== undefined;
    entries.push({ point: { ...base, sweep: 'native', quirks: [] }, member: { decomposition, params, state }, groups, mode: coupled ? 'infer' : 'forward', spliced: 'replacement' });
    // The reference's evaluation of the same method: whichever of its quirks apply to it.
    const quirkParams = decomposition.withoutEncoderBias?.(params);
    const cleanInputs = parts.length === 1 && decomposition.writes.length > 1;
    // The quirk sets to evaluate: all that apply together (the reference's numbers), or also each alone ('separate').
    const quirkSets = (sweep: 'native' | 'top_k'): ReferenceQuirk[][] => {
      const applicable: ReferenceQuirk[] = [];
      if (sweep === 'native' && coupled) applicable.push('batch_top_k');
      if (quirkParams !== undefined) applicable.push('no_b_enc');
      if (cleanInputs) applicable.push('clean_inputs');
      if (reference === 'none' || applicable.length === 0) return [];
      if (reference === 'combined' || applicable.length === 1) return [applicable];
      return [...applicable.map((quirk) => [quirk]), applicable];
    };
    const referenceEntry = (sweep: 'native' | 'top_k', quirks: ReferenceQuirk[], member: Decomposition, k?: number): Entry => ({
      point: { ...base, sweep, ...(k === undefined ? {} : { k }), quirks },
      member: { decomposition: member, params: quirks.includes('no_b_enc') ? quirkParams! : params, state },
      groups,
      mode: sweep === 'native' && coupled && !quirks.includes('batch_top_k') ? 'infer' : sweep === 'top_k' ? 'infer' : 'forward',
      spliced: quirks.includes('clean_inputs') ? 'clean_inputs' : 'replacement',
    });
    for (const quirks of quirkSets('native')) entries.push(referenceEntry('native', quirks, decomposition));
    // The labelled evaluation options it offers (SPD's CI > 0, and without its delta component as the reference).
    const offered = decomposition.inferOutputs !== undefined && decomposition.inferenceOptions?.includes('option') ? (decomposition.evaluationOptions ?? []) : [];
    const choices = offered.filter(({ quirks }) => quirks.length === 0 || reference !== 'none');
    const optionEntry = (option: EvaluationOption, sweep: 'native' | 'top_k', k?: number): Entry => ({
      point: { ...base, sweep, ...(k === undefined ? {} : { k }), quirks: option.quirks as ReferenceQuirk[], ...(option.variant === undefined ? {} : { variant: option.variant }) },
      member: { decomposition: withInference(decomposition, { ...(k === undefined ? {} : { topK: k }), option: option.name }), params, state },
      groups,
      mode: 'infer',
      spliced: 'replacement',
    });
    for (const option of choices) entries.push(optionEntry(option, 'native'));
    if (decomposition.inferOutputs !== undefined && decomposition.inferenceOptions?.includes('topK')) {
      const largest = Math.max(...(groups ?? []).map(({ size }) => size), 1);
      for (const k of (options.topK ?? powersOfTwoUpTo(largest)).filter((value) => value <= largest)) {
        const swept = withInference(decomposition, { topK: k });
        entries.push({ point: { ...base, sweep: 'top_k', k, quirks: [] }, member: { decomposition: swept, params, state }, groups, mode: 'infer', spliced: 'replacement' });
        for (const quirks of quirkSets('top_k')) entries.push(referenceEntry('top_k', quirks, swept, k));
        for (const option of choices.filter(({ topK }) => topK)) entries.push(optionEntry(option, 'top_k', k));
      }
    }
  }

  const neuronParts = layers.map((layer) => neuronBaseline(model, layer));
  const hidden = Math.max(...neuronParts.map(({ decomposition }) => decomposition.reads[0].width));
  const neuronK = options.neuronK ?? DEFAULT_NEURON_K;
  const neurons = combineDecompositions(neuronParts.map(({ decomposition }) => decomposition));
  const neuronParams = combinedTensors(neuronParts.map(({ params }) => params));
  const neuronGroups = neurons.featureGroups!();
  const neuronBase = { method: NEURON_BASELINE_ARCHITECTURE, family: NEURON_BASELINE_ARCHITECTURE, streams: layers.length, quirks: [] as ReferenceQuirk[] };
  const neuronSweep = [...new Set([...(options.topK ?? powersOfTwoUpTo(hidden)), hidden])].filter((k) => k <= hidden).sort((a, b) => a - b);
  for (const k of neuronSweep) {
    entries.push({
      point: { ...neuronBase, sweep: 'top_k', k },
      member: { decomposition: withInference(neurons, { topK: k }), params: neuronParams, state: {} },
      groups: neuronGroups,
      mode: 'infer',
      spliced: 'replacement',
    });
  }
  for (const k of neuronK.filter((value) => !neuronSweep.includes(value) && value <= hidden)) {
    entries.push({
      point: { ...neuronBase, sweep: 'native', k },
      member: { decomposition: withInference(neurons, { topK: k }), params: neuronParams, state: {} },
      groups: neuronGroups,
      mode: 'infer',
      spliced: 'replacement',
    });
  }

  const evaluations = await evaluateEntries(model, entries, tokenBatches, options);
  const neuronEvaluation = evaluations[entries.findIndex((entry) => entry.point.method === NEURON_BASELINE_ARCHITECTURE)];
  const originalCe = neuronEvaluation['performance/original_loss'];
  const points: ComparisonPoint[] = entries.map((entry, index) => comparisonPoint(entry, evaluations[index], originalCe));
  // The neuron baseline's native points are its sweep's at neuronK (the same computation).
  for (const point of points.filter((candidate) => candidate.method === NEURON_BASELINE_ARCHITECTURE && candidate.sweep === 'top_k' && neuronK.includes(candidate.k!))) {
    points.push({ ...point, sweep: 'native' });
  }
  return {
    originalCe,
    zeroAblationCe: neuronEvaluation['performance/zero_ablation_loss'],
    tokens: neuronEvaluation.evaluated_tokens,
    layers,
    points: points.sort((a, b) => Number(a.sweep === 'top_k') - Number(b.sweep === 'top_k')),
  };
}

async function evaluateEntries(model: HookedTransformer, entries: readonly Entry[], tokenBatches: readonly TokenInput[], options: CompareMethodsOptions): Promise<DecompositionEvaluation[]> {
  const results: DecompositionEvaluation[] = new Array(entries.length);
  const chunk = options.membersPerProgram ?? 6;
  const settings = new Map<string, number[]>();
  entries.forEach((entry, index) => {
    const key = `${entry.mode}/${entry.spliced}`;
    settings.set(key, [...(settings.get(key) ?? []), index]);
  });
  let done = 0;
  for (const [key, indices] of settings) {
    const [reconstruction, splicedInputs] = key.split('/') as [ReconstructionMode, SplicedInputs];
    const evaluator = new DecompositionEvaluator({ model, backend: model.backend, reconstruction, splicedInputs, excludeBos: options.excludeBos ?? false, featureActivationSums: true });
    try {
      for (let start = 0; start < indices.length; start += chunk) {
        const batch = indices.slice(start, start + chunk);
        const evaluated = await evaluator.evaluate(
          batch.map((index) => entries[index].member),
          tokenBatches,
        );
        batch.forEach((index, position) => {
          results[index] = evaluated[position];
        });
        done += batch.length;
        options.onProgress?.(`evaluated ${done} of ${entries.length} configurations`);
      }
    } finally {
      await evaluator.dispose();
    }
  }
  return results;
}

/** Per feature group, L0, alive features and mean activation from the evaluation's per-feature densities and activation sums. */
export function groupStatistics(
  groups: readonly FeatureGroup[] | undefined,
  evaluation: Pick<DecompositionEvaluation, 'feature_density_log10' | 'feature_activation_sums' | 'evaluated_tokens'>,
  fallbackLabel: string,
  streams: number,
): ComparedGroup[] {
  const densities = evaluation.feature_density_log10;
  const known: readonly (Omit<FeatureGroup, 'activeParameters'> & { activeParameters?: number })[] = groups ?? [{ label: fallbackLabel, size: densities.length, streamsWritten: streams }];
  const total = known.reduce((sum, group) => sum + group.size, 0);
  if (total !== densities.length) {
    throw new ConfigError(
      `compareMethods: the feature groups of '${fallbackLabel}' cover ${total} features, but its evaluation measured ${densities.length}; featureGroups() must list every column of featureActs.`,
    );
  }
  let offset = 0;
  return known.map((group) => {
    let alive = 0;
    let l0 = 0;
    let activation = 0;
    for (let feature = offset; feature < offset + group.size; feature++) {
      const density = densities[feature];
      if (density === null) continue;
      alive++;
      l0 += 10 ** density;
      activation += evaluation.feature_activation_sums?.[feature] ?? Number.NaN;
    }
    offset += group.size;
    const meanActivation = l0 === 0 || !Number.isFinite(activation) ? undefined : activation / (l0 * evaluation.evaluated_tokens);
    return {
      label: group.label,
      size: group.size,
      streamsWritten: group.streamsWritten,
      ...(group.activeParameters === undefined ? {} : { activeParameters: group.activeParameters }),
      alive,
      l0,
      ...(meanActivation === undefined ? {} : { meanActivation }),
    };
  });
}

function comparisonPoint(entry: Entry, evaluation: DecompositionEvaluation, originalCe: number): ComparisonPoint {
  const ce = evaluation['performance/reconstructed_loss'];
  const { totalParams, ...point } = entry.point;
  return {
    ...point,
    ...(entry.point.method === NEURON_BASELINE_ARCHITECTURE || totalParams === undefined ? {} : { totalParams }),
    ce,
    ceDegradation: ce - originalCe,
    mse: evaluation.mse,
    explainedVariance: evaluation.explained_variance,
    groups: groupStatistics(entry.groups, evaluation, entry.point.method, entry.point.streams),
  };
}
