import { fractionsFromDensity, readFeatureDensity } from './feature-density.js';
import type { RunOrigin, RunRecord } from './run-record.js';

/**
 * One row of the results table: the reference's `results.py` columns (sae
 * type, dictionary size, k, l0_norm, normalised MSE, ce_degradation) and the
 * evaluation metrics. A value the run does not have is `undefined`.
 */
export interface RunsTableRow {
  name: string;
  /** Short and unique among the rows (`topk · 4096 · k=32`); plots use it for legends. */
  label: string;
  method: string | undefined;
  /** `config.dict_size`. */
  dictionarySize: number | undefined;
  /** `config.top_k`. */
  k: number | undefined;
  l0Norm: number | undefined;
  /**
   * The evaluation's `normalized_mse`; for runs without it, the final
   * `l2_loss`, which is what the reference's results.py tabulates under
   * this name. `normalizedMseSource` says which.
   */
  normalizedMse: number | undefined;
  normalizedMseSource: 'normalized_mse' | 'l2_loss' | undefined;
  /** `performance/ce_degradation`. */
  ceDegradation: number | undefined;
  recoveryFromZero: number | undefined;
  recoveryFromMean: number | undefined;
  explainedVariance: number | undefined;
  /** The evaluation's `dead_fraction`, else computed from `feature_density_log10`. */
  deadFraction: number | undefined;
  /** The evaluation's `dense_fraction`, else computed from `feature_density_log10`. */
  denseFraction: number | undefined;
  /** `config.l1_coeff`: what a Vanilla or JumpReLU sweep varies instead of k. */
  l1Coeff: number | undefined;
  /** The last logged step (0-based). */
  lastStep: number | undefined;
  /** Optimizer steps run: the summary's `steps`, else the last logged step + 1. */
  steps: number | undefined;
  origin: RunOrigin;
}

/**
 * The table of runs, one row per run, sorted by sae type, dictionary size,
 * k and name so that sweeps read in order. Final metrics come from the
 * summary; a run without one (it crashed, or is still training) gets the
 * last logged value of each metric.
 */
export function runsTable(runs: readonly RunRecord[]): RunsTableRow[] {
  return tabulatedRuns(runs).map((entry) => entry.row);
}

/** The rows of `runsTable`, each with the run it came from, for plots that need both the label and the history. */
export function tabulatedRuns(runs: readonly RunRecord[]): { run: RunRecord; row: RunsTableRow }[] {
  const entries = runs.map((run) => ({ run, row: rowOf(run) }));
  entries.sort((a, b) => compareRows(a.row, b.row));
  const labels = uniqueLabels(entries.map((entry) => baseLabel(entry.row)));
  return entries.map((entry, index) => ({ run: entry.run, row: { ...entry.row, label: labels[index]! } }));
}

function rowOf(run: RunRecord): RunsTableRow {
  const evaluatedMse = finalMetric(run, 'normalized_mse');
  const l2Loss = finalMetric(run, 'l2_loss');
  const density = readFeatureDensity(run.summary, run.name);
  const derived = density === undefined ? undefined : fractionsFromDensity(density);
  // A loop, not Math.max(...steps): a long run logs more steps than a call may take arguments.
  const lastStep = run.history.reduce<number | undefined>((last, row) => (last === undefined || row.step > last ? row.step : last), undefined);
  return {
    name: run.name,
    label: '',
    // `method`: what nnd records for any decomposition (its family's label); `sae_type`: runs of the reference and of older nnd.
    method: stringValue(run.config.method ?? run.config.sae_type),
    dictionarySize: numberValue(run.config.dict_size),
    k: numberValue(run.config.top_k),
    l0Norm: finalMetric(run, 'l0_norm'),
    normalizedMse: evaluatedMse ?? l2Loss,
    normalizedMseSource: evaluatedMse !== undefined ? 'normalized_mse' : l2Loss !== undefined ? 'l2_loss' : undefined,
    ceDegradation: finalMetric(run, 'performance/ce_degradation'),
    recoveryFromZero: finalMetric(run, 'performance/recovery_from_zero'),
    recoveryFromMean: finalMetric(run, 'performance/recovery_from_mean'),
    explainedVariance: finalMetric(run, 'explained_variance'),
    deadFraction: finalMetric(run, 'dead_fraction') ?? derived?.deadFraction,
    denseFraction: finalMetric(run, 'dense_fraction') ?? derived?.denseFraction,
    lastStep,
    steps: numberValue(run.summary?.steps) ?? (lastStep === undefined ? undefined : lastStep + 1),
    l1Coeff: numberValue(run.config.l1_coeff),
    origin: run.origin,
  };
}

/** The summary's value, else the value logged last (history is in write order, so a resumed run's latest write wins). */
export function finalMetric(run: RunRecord, name: string): number | undefined {
  const fromSummary = run.summary?.[name];
  if (typeof fromSummary === 'number') return fromSummary;
  for (let index = run.history.length - 1; index >= 0; index -= 1) {
    const value = run.history[index]!.metrics[name];
    if (value !== undefined) return value;
  }
  return undefined;
}

/** Methods whose sparsity comes from an L1 (or L0) penalty, not a k: a sweep of them varies `l1_coeff`. */
const PENALTY_METHOD = /vanilla|jumprelu|standard|relu/i;

/** The method, the dictionary size and the value a sweep of that method varies: k for TopK-like methods, l1_coeff for penalised ones. */
function baseLabel(row: RunsTableRow): string {
  if (row.method === undefined) return row.name;
  const parts = [row.method];
  if (row.dictionarySize !== undefined) parts.push(String(row.dictionarySize));
  if (PENALTY_METHOD.test(row.method)) {
    if (row.l1Coeff !== undefined) parts.push(`l1=${row.l1Coeff}`);
  } else if (row.k !== undefined) {
    parts.push(`k=${row.k}`);
  }
  return parts.join(' · ');
}

/** Runs that differ only in fields the label leaves out (lr, seed) get `#2`, `#3`, in row order. */
function uniqueLabels(labels: readonly string[]): string[] {
  const seen = new Map<string, number>();
  return labels.map((label) => {
    const count = (seen.get(label) ?? 0) + 1;
    seen.set(label, count);
    return count === 1 ? label : `${label} #${count}`;
  });
}

function compareRows(a: RunsTableRow, b: RunsTableRow): number {
  return compareOptional(a.method, b.method) || compareOptional(a.dictionarySize, b.dictionarySize) || compareOptional(a.k, b.k) || compareOptional(a.name, b.name);
}

/** Missing values sort last. */
function compareOptional<T extends string | number>(a: T | undefined, b: T | undefined): number {
  if (a === b) return 0;
  if (a === undefined) return 1;
  if (b === undefined) return -1;
  return a < b ? -1 : 1;
}

function numberValue(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

function stringValue(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}
