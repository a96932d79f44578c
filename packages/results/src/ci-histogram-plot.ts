import type { TopLevelSpec } from 'vega-lite';
import { PLOT_CONFIG } from './plot-theme.js';

/** One module's CI histogram: counts in equal bins over [0, 1]. */
export interface CiHistogramChart {
  label: string;
  color: string;
  counts: readonly number[];
}

/**
 * Causal-importance histograms, one small chart per module on [0, 1]: how
 * many (position, component) pairs have each causal importance, on a
 * symmetric-log count axis (most sit at 0, a few near 1, and both ends
 * matter). Undefined when there is no chart.
 */
export function ciHistogramSpec(charts: readonly CiHistogramChart[]): TopLevelSpec | undefined {
  if (charts.length === 0) return undefined;
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    config: PLOT_CONFIG,
    columns: 3,
    spacing: 24,
    concat: charts.map(({ label, color, counts }) => {
      const total = counts.reduce((sum, count) => sum + count, 0);
      const width = 1 / counts.length;
      return {
        title: { text: label, subtitle: `${total} causal importances in ${counts.length} bins` },
        width: 300,
        height: 150,
        data: { values: counts.map((count, index) => ({ start: index * width, end: (index + 1) * width, count })) },
        mark: { type: 'rect' as const, color, stroke: 'white', strokeWidth: 0.5 },
        encoding: {
          x: { field: 'start', type: 'quantitative' as const, title: 'causal importance', scale: { domain: [0, 1], nice: false } },
          x2: { field: 'end' },
          y: { field: 'count', type: 'quantitative' as const, title: 'Count (symlog)', scale: { type: 'symlog' as const } },
        },
      };
    }),
  };
}
