import type { TopLevelSpec } from 'vega-lite';
import { ResultsError } from './errors/index.js';
import { metricLabel } from './metric-definitions.js';
import { PLOT_CONFIG, categoryScale } from './plot-theme.js';
import type { HistoryRow } from './run-record.js';

/** The metrics the training curves show by default, each where some run logged it. */
export const DEFAULT_TRAINING_CURVE_METRICS = ['loss', 'l2_loss', 'l0_norm', 'aux_loss', 'num_dead_features', 'performance/ce_degradation'] as const;

/** One run's history for the curves, under the label its legend entry shows. */
export interface TrainingCurveRun {
  label: string;
  history: readonly HistoryRow[];
  /** The line's colour, e.g. its method's in the other plots; runs without one get the palette in order. */
  color?: string;
}

export interface TrainingCurvesOptions {
  metrics?: readonly string[];
  /** Each run's line per metric keeps at most this many points (evenly spaced, first and last kept); SVG size grows with points. Default 300. */
  maxPointsPerLine?: number;
}

/**
 * Training curves: one small chart per metric (step on x), one line per
 * run. Each chart has its own y scale, logarithmic when the metric is
 * positive and spans more than two decades (a loss that starts high would
 * otherwise flatten the rest of the curve). Undefined when no run logged any
 * of the metrics.
 */
export function trainingCurvesSpec(runs: readonly TrainingCurveRun[], options: TrainingCurvesOptions = {}): TopLevelSpec | undefined {
  const metrics = options.metrics ?? DEFAULT_TRAINING_CURVE_METRICS;
  const maxPoints = options.maxPointsPerLine ?? 300;
  if (!Number.isSafeInteger(maxPoints) || maxPoints < 2) throw new ResultsError(`trainingCurvesSpec: maxPointsPerLine must be an integer ≥ 2, got ${String(maxPoints)}`);
  const palette = categoryScale(runs.map((run) => run.label));
  const colors = { domain: palette.domain, range: runs.map((run, index) => run.color ?? palette.range[index]!) };
  const charts = metrics.flatMap((metric) => {
    const values = runs.flatMap((run) => {
      const points = latestPerStep(run.history, metric).map(([step, value]) => ({ run: run.label, step, value }));
      return evenlySpaced(points, maxPoints);
    });
    if (values.length === 0) return [];
    let smallest = Infinity;
    let largest = -Infinity;
    for (const { value } of values) {
      smallest = Math.min(smallest, value);
      largest = Math.max(largest, value);
    }
    const logScale = smallest > 0 && largest / smallest > 100;
    return [
      {
        title: { text: metricLabel(metric), subtitle: logScale ? `${metric} (log scale)` : metric },
        width: 360,
        height: 190,
        data: { values },
        mark: { type: 'line' as const, interpolate: 'linear' as const, clip: true },
        encoding: {
          x: { field: 'step', type: 'quantitative' as const, title: 'Step' },
          y: { field: 'value', type: 'quantitative' as const, title: metricLabel(metric), scale: logScale ? { type: 'log' as const } : { zero: false } },
          color: { field: 'run', type: 'nominal' as const, title: 'Run', scale: colors },
        },
      },
    ];
  });
  if (charts.length === 0) return undefined;
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    config: PLOT_CONFIG,
    columns: 2,
    concat: charts,
    spacing: 24,
  };
}

/**
 * The metric's finite values by step, ascending. A run resumed from an
 * earlier checkpoint logs some steps twice; the later write is the run's
 * actual trajectory, so it replaces the earlier one.
 */
function latestPerStep(history: readonly HistoryRow[], metric: string): [number, number][] {
  const byStep = new Map<number, number>();
  for (const row of history) {
    const value = row.metrics[metric];
    if (value !== undefined && Number.isFinite(value)) byStep.set(row.step, value);
  }
  return [...byStep].sort((a, b) => a[0] - b[0]);
}

/** At most `limit` of `points`, evenly spaced by index, keeping the first and the last. */
function evenlySpaced<T>(points: readonly T[], limit: number): T[] {
  if (points.length <= limit) return [...points];
  const kept: T[] = [];
  for (let index = 0; index < limit; index += 1) kept.push(points[Math.round((index * (points.length - 1)) / (limit - 1))]!);
  return kept;
}
