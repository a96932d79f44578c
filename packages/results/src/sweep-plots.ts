import type { TopLevelSpec } from 'vega-lite';
import { PLOT_CONFIG, categoryScale } from './plot-theme.js';
import type { RunsTableRow } from './runs-table.js';

/** The final metrics the sweep panels put on the y axis. */
export type SweepMetric = 'normalizedMse' | 'ceDegradation';

const SWEEP_METRIC_TITLES: Record<SweepMetric, string> = { normalizedMse: 'Normalised MSE', ceDegradation: 'CE degradation' };

const PANEL_WIDTH = 360;
/** L0s of a sweep span decades (penalised SAEs from 5 to 500), so their axis is logarithmic, as in the reference's plots. */
const L0_SCALE = { type: 'log', padding: 12 } as const;
const PANEL_HEIGHT = 250;

/** Sae types in first-seen order of the sorted rows; every sweep plot colours by this domain. */
export function methodsOf(rows: readonly RunsTableRow[]): string[] {
  return [...new Set(rows.map((row) => row.method ?? 'unknown'))];
}

/**
 * The reference's panels 1 and 3: a final metric against dictionary size
 * (log scale) for the runs with `k`, one dashed line per sae type.
 * Undefined when no run has both values.
 */
export function dictionarySweepSpec(rows: readonly RunsTableRow[], metric: SweepMetric, k: number): TopLevelSpec | undefined {
  const values = rows
    .filter((row) => row.k === k && row.dictionarySize !== undefined && isFiniteNumber(row[metric]))
    .map((row) => ({ method: row.method ?? 'unknown', dictionarySize: row.dictionarySize!, value: row[metric]!, run: row.label }));
  // One size is one column of points, not a trend: the L0 panels show those runs better.
  if (new Set(values.map((value) => value.dictionarySize)).size < 2) return undefined;
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: `${SWEEP_METRIC_TITLES[metric]} vs dictionary size`, subtitle: `runs with k = ${k}` },
    config: PLOT_CONFIG,
    width: PANEL_WIDTH,
    height: PANEL_HEIGHT,
    data: { values },
    mark: { type: 'line', point: true, strokeDash: [5, 3] },
    encoding: {
      x: {
        field: 'dictionarySize',
        type: 'quantitative',
        title: 'Dictionary size',
        // Dictionary sizes are powers of two or multiples of the model width; log spacing keeps them apart.
        scale: { type: 'log', base: 2, nice: false, padding: 16 },
        axis: { values: [...new Set(values.map((value) => value.dictionarySize))].sort((a, b) => a - b), format: 'd', grid: true },
      },
      y: { field: 'value', type: 'quantitative', title: SWEEP_METRIC_TITLES[metric], scale: { zero: false } },
      color: { field: 'method', type: 'nominal', title: 'Method', scale: categoryScale(methodsOf(rows)) },
    },
  };
}

/**
 * The reference's panels 2 and 4: a final metric against the final L0 for
 * the runs of one dictionary size, one dashed line per sae type, points in
 * L0 order (the reference's k sweep). Undefined when no run has both values.
 */
export function sparsitySweepSpec(rows: readonly RunsTableRow[], metric: SweepMetric, dictionarySize: number): TopLevelSpec | undefined {
  const values = rows
    .filter((row) => row.dictionarySize === dictionarySize && isFiniteNumber(row.l0Norm) && isFiniteNumber(row[metric]))
    .map((row) => ({ method: row.method ?? 'unknown', l0Norm: row.l0Norm!, value: row[metric]!, run: row.label }));
  if (values.length === 0) return undefined;
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: `${SWEEP_METRIC_TITLES[metric]} vs L0`, subtitle: `runs with dictionary size ${dictionarySize}` },
    config: PLOT_CONFIG,
    width: PANEL_WIDTH,
    height: PANEL_HEIGHT,
    data: { values },
    mark: { type: 'line', point: true, strokeDash: [5, 3] },
    encoding: {
      x: { field: 'l0Norm', type: 'quantitative', title: 'L0 (active features per token, log scale)', scale: L0_SCALE },
      y: { field: 'value', type: 'quantitative', title: SWEEP_METRIC_TITLES[metric], scale: { zero: false } },
      color: { field: 'method', type: 'nominal', title: 'Method', scale: categoryScale(methodsOf(rows)) },
    },
  };
}

/**
 * L0 against explained variance for every run: the sparsity–fidelity
 * trade-off in one view, colour by sae type and shape by dictionary size.
 * Undefined when no run has both values.
 */
export function explainedVarianceSpec(rows: readonly RunsTableRow[]): TopLevelSpec | undefined {
  const values = rows
    .filter((row) => isFiniteNumber(row.l0Norm) && isFiniteNumber(row.explainedVariance))
    .map((row) => ({ method: row.method ?? 'unknown', dictionarySize: row.dictionarySize ?? 0, l0Norm: row.l0Norm!, explainedVariance: row.explainedVariance!, run: row.label }));
  if (values.length === 0) return undefined;
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: 'Explained variance vs L0', subtitle: 'every run; up and to the left is better' },
    config: PLOT_CONFIG,
    width: PANEL_WIDTH,
    height: PANEL_HEIGHT,
    data: { values },
    mark: { type: 'point', filled: true, size: 70, opacity: 0.9 },
    encoding: {
      x: { field: 'l0Norm', type: 'quantitative', title: 'L0 (active features per token, log scale)', scale: L0_SCALE },
      y: { field: 'explainedVariance', type: 'quantitative', title: 'Explained variance', scale: { zero: false } },
      color: { field: 'method', type: 'nominal', title: 'Method', scale: categoryScale(methodsOf(rows)) },
      shape: { field: 'dictionarySize', type: 'nominal', title: 'Dictionary size' },
    },
  };
}

/**
 * The dictionary size whose runs the L0 panels show when none is asked for:
 * the one with the most runs that have an L0, the largest on a tie (the
 * reference fixes 12288, the largest of its sweep). Undefined with none.
 */
export function defaultSparsitySweepSize(rows: readonly RunsTableRow[]): number | undefined {
  const counts = new Map<number, number>();
  for (const row of rows) {
    if (row.dictionarySize !== undefined && isFiniteNumber(row.l0Norm)) counts.set(row.dictionarySize, (counts.get(row.dictionarySize) ?? 0) + 1);
  }
  let best: [number, number] | undefined;
  for (const [size, count] of counts) {
    if (best === undefined || count > best[1] || (count === best[1] && size > best[0])) best = [size, count];
  }
  return best?.[0];
}

function isFiniteNumber(value: number | undefined): value is number {
  return value !== undefined && Number.isFinite(value);
}
