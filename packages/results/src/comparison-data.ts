import type { MeasuredFeatureGroup } from '@nnd/core';

/**
 * What `nnd compare` measures, as plain data (what @nnd/train's
 * compareMethods returns; a comparison.json reads back as the same).
 */

export type ComparisonSweep = 'native' | 'top_k';

/** One feature group of a point (a decomposition's FeatureGroup with what was measured on it). */
export type ComparisonGroupData = MeasuredFeatureGroup;

/** A module of a point: its groups added up. */
export interface ComparisonModule {
  readonly label: string;
  readonly size: number;
  readonly alive: number;
  readonly l0: number;
  readonly meanActivation?: number;
}

export interface ComparisonPointData {
  readonly method: string;
  readonly family: string;
  readonly sweep: ComparisonSweep;
  readonly k?: number;
  /** The reference's evaluation quirks this point reproduces; empty for the correct evaluation. */
  readonly quirks: readonly string[];
  /** A second correct evaluation the decomposition offers (SPD's `CI > 0`); absent for its default. */
  readonly variant?: string;
  readonly ce: number;
  /** ce − original (positive when splicing hurts). */
  readonly ceDegradation: number;
  readonly mse: number;
  readonly explainedVariance?: number;
  /** Streams (MLPs) the method writes: n in the per-MLP axis. */
  readonly streams: number;
  readonly groups: readonly ComparisonGroupData[];
  readonly totalParams?: number;
  readonly trainingTokens?: number;
}

export interface ComparisonData {
  readonly originalCe: number;
  readonly zeroAblationCe: number;
  readonly tokens: number;
  readonly layers: readonly number[];
  readonly points: readonly ComparisonPointData[];
}

/** The three sparsity axes of the reference's Pareto plots (DECOMPOSITIONS.md 6, exp_007 and exp_011). */
export interface ParetoAxes {
  /** Mean over modules of the module's L0: active components per module (per layer, per weight matrix). */
  readonly perComponent: number;
  /** Σ_groups L0 × streams written per feature, over the streams written: a CLT's layer-i feature counts for n − i MLPs, an SPD component for one. */
  readonly perMlp: number;
  /** Σ_groups L0 × parameters per active feature; undefined when a decomposition does not declare them. */
  readonly totalActiveParams?: number;
}

export const PARETO_AXES = ['perComponent', 'perMlp', 'totalActiveParams'] as const;
export type ParetoAxis = (typeof PARETO_AXES)[number];

export const PARETO_AXIS_TITLES: Record<ParetoAxis, string> = {
  perComponent: 'Active components per module (L0)',
  perMlp: 'Active components per MLP',
  totalActiveParams: 'Total active parameters',
};

/**
 * The point's x values. With ℓ_g the L0 of feature group g: per component
 * = mean over modules of Σ_{g in module} ℓ_g; per MLP = Σ_g ℓ_g w_g / n
 * (w_g the streams a feature of g writes, n the streams written); total
 * active parameters = Σ_g ℓ_g p_g. For per-layer transcoders (w = 1,
 * p = d_in + d_out) these are mean_l ℓ_l, mean_l ℓ_l and Σ_l ℓ_l (d_in + d_out);
 * for a CLT (w_i = n − i, p_i = d_in + (n − i) d_out) mean_i ℓ_i,
 * Σ_i ℓ_i (n − i)/n and Σ_i ℓ_i (d_in + (n − i) d_out), as the reference's
 * exp_011; with every ℓ = k, exp_007's factors ((n + 1)/2 for a CLT).
 */
export function paretoAxes(point: Pick<ComparisonPointData, 'groups' | 'streams'>): ParetoAxes {
  const { groups, streams } = point;
  const modules = modulesOf(groups);
  const perComponent = modules.reduce((sum, module) => sum + module.l0, 0) / Math.max(modules.length, 1);
  const perMlp = groups.reduce((sum, group) => sum + group.l0 * group.streamsWritten, 0) / Math.max(streams, 1);
  const known = groups.every((group) => group.activeParameters !== undefined && Number.isFinite(group.activeParameters));
  return {
    perComponent,
    perMlp,
    ...(known ? { totalActiveParams: groups.reduce((sum, group) => sum + group.l0 * group.activeParameters!, 0) } : {}),
  };
}

/** The groups of each label added up, in first-seen order; the mean activation weighted by each group's firings. */
export function modulesOf(groups: readonly ComparisonGroupData[]): ComparisonModule[] {
  const modules = new Map<string, { size: number; alive: number; l0: number; activation: number; measured: boolean }>();
  for (const group of groups) {
    const module = modules.get(group.label) ?? { size: 0, alive: 0, l0: 0, activation: 0, measured: true };
    module.size += group.size;
    module.alive += group.alive;
    module.l0 += group.l0;
    if (group.l0 > 0) {
      if (group.meanActivation === undefined) module.measured = false;
      else module.activation += group.meanActivation * group.l0;
    }
    modules.set(group.label, module);
  }
  return [...modules].map(([label, { size, alive, l0, activation, measured }]) => ({
    label,
    size,
    alive,
    l0,
    ...(measured && l0 > 0 ? { meanActivation: activation / l0 } : {}),
  }));
}

const QUIRK_LABELS: Readonly<Record<string, string>> = { batch_top_k: 'batch top-k', no_b_enc: 'no b_enc', clean_inputs: 'clean inputs', no_delta: 'no delta' };

/** `reference eval: batch top-k, no b_enc`, or '' for the correct evaluation. */
export function quirksLabel(quirks: readonly string[]): string {
  return quirks.length === 0 ? '' : `reference eval: ${quirks.map((quirk) => QUIRK_LABELS[quirk] ?? quirk).join(', ')}`;
}

/** `CI > 0; reference eval: no delta`: a point's evaluation option and the reference's quirks, '' for the default correct evaluation. */
export function evaluationLabel(point: Pick<ComparisonPointData, 'quirks' | 'variant'>): string {
  return [point.variant ?? '', quirksLabel(point.quirks)].filter((part) => part !== '').join('; ');
}

/** The point's name in tables: its method, the sweep's k, its evaluation option and the reference's quirks it reproduces. */
export function pointLabel(point: Pick<ComparisonPointData, 'method' | 'sweep' | 'k' | 'quirks' | 'variant'>): string {
  const k = point.k === undefined ? '' : ` top-${point.k}`;
  const evaluation = evaluationLabel(point);
  return `${point.method}${k}${evaluation === '' ? '' : ` (${evaluation})`}`;
}
