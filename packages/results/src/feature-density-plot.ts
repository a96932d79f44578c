import type { TopLevelSpec } from 'vega-lite';
import { ResultsError } from './errors/index.js';
import type { FeatureDensitySummary } from './feature-density.js';
import { DENSE_DENSITY_THRESHOLD } from './metric-definitions.js';
import { PLOT_CONFIG } from './plot-theme.js';

/** One run's densities for the histogram, with its label and the colour of its sae type. */
export interface FeatureDensityRun {
  label: string;
  color: string;
  density: FeatureDensitySummary;
}

export interface FeatureDensityPlotOptions {
  /** Width of a bin in log10 units. Default 0.25 (four bins per decade). */
  binWidth?: number;
  /** What is counted, singular: 'feature' (default), 'component'. */
  noun?: string;
  /** Where the dashed line marks dense ones; null for none. Default DENSE_DENSITY_THRESHOLD. */
  denseThreshold?: number | null;
}

/**
 * Feature-density histograms, one small chart per run on a shared x range so
 * that runs compare at a glance: how many features fire at each log10
 * density, with a dashed line where features count as dense. Features that
 * never fired have no logarithm; each chart's subtitle counts them. The bins
 * are counted here rather than by vega-lite's `bin`, so the spec carries a
 * few dozen counts instead of one value per feature. Undefined when no run
 * has densities.
 */
export function featureDensitySpec(runs: readonly FeatureDensityRun[], options: FeatureDensityPlotOptions = {}): TopLevelSpec | undefined {
  const binWidth = options.binWidth ?? 0.25;
  if (!(binWidth > 0) || !Number.isFinite(binWidth)) throw new ResultsError(`featureDensitySpec: binWidth must be a positive number, got ${String(binWidth)}`);
  if (runs.length === 0) return undefined;
  const noun = options.noun ?? 'feature';
  const denseThreshold = options.denseThreshold === undefined ? DENSE_DENSITY_THRESHOLD : options.denseThreshold;
  let lowest = Math.log10(denseThreshold ?? DENSE_DENSITY_THRESHOLD);
  for (const run of runs) for (const value of run.density.firingLog10) lowest = Math.min(lowest, value);
  // Whole bins from below the rarest feature up to density 1 (log10 = 0).
  const binCount = Math.max(1, Math.ceil(-lowest / binWidth));
  const domainStart = -binCount * binWidth;
  const charts = runs.map((run) => {
    const counts = new Array<number>(binCount).fill(0);
    for (const value of run.density.firingLog10) {
      // A density of exactly 1 (log10 0) belongs to the last bin, not one past it.
      counts[Math.min(binCount - 1, Math.floor((value - domainStart) / binWidth))]! += 1;
    }
    const values = counts.map((count, index) => ({ start: domainStart + index * binWidth, end: domainStart + (index + 1) * binWidth, count }));
    const { neverFired, featureCount } = run.density;
    return {
      title: { text: run.label, subtitle: `${featureCount} ${noun}s; ${neverFired} never fired (${percent(neverFired, featureCount)})` },
      width: 300,
      height: 150,
      layer: [
        {
          data: { values },
          mark: { type: 'rect' as const, color: run.color, stroke: 'white', strokeWidth: 0.5 },
          encoding: {
            x: { field: 'start', type: 'quantitative' as const, title: `log10 ${noun} density`, scale: { domain: [domainStart, 0], nice: false } },
            x2: { field: 'end' },
            y: { field: 'count', type: 'quantitative' as const, title: `${noun[0]!.toUpperCase()}${noun.slice(1)}s` },
          },
        },
        ...(denseThreshold === null
          ? []
          : [
              {
                data: { values: [{ cut: Math.log10(denseThreshold) }] },
                mark: { type: 'rule' as const, strokeDash: [4, 3], color: '#5f6b7a' },
                encoding: { x: { field: 'cut', type: 'quantitative' as const } },
              },
            ]),
      ],
    };
  });
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    config: PLOT_CONFIG,
    columns: 3,
    concat: charts,
    spacing: 24,
  };
}

function percent(part: number, whole: number): string {
  if (whole === 0) return '0%';
  const value = (100 * part) / whole;
  return `${value < 10 && value !== 0 ? value.toFixed(1) : Math.round(value)}%`;
}
