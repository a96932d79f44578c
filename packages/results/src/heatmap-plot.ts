import type { TopLevelSpec } from 'vega-lite';
import { ResultsError } from './errors/index.js';
import { PLOT_CONFIG } from './plot-theme.js';

/** One matrix to draw: `values[row][column]`. */
export interface HeatmapPanel {
  readonly title: string;
  readonly subtitle?: string;
  readonly values: readonly (readonly number[])[];
}

export interface HeatmapOptions {
  readonly xTitle: string;
  readonly yTitle: string;
  readonly colorTitle: string;
  /** A vega colour scheme: sequential (`reds`, `blues`) for values in [0, 1], diverging (`redblue`) for signed weights. */
  readonly scheme?: string;
  /** The colour domain shared by every panel; default [min, max] over all panels, made symmetric about 0 for a diverging scheme. */
  readonly domain?: readonly [number, number];
  /** Reverse the scheme (vega's `redblue` runs red to blue; reversed, negative is blue as in matplotlib's `bwr`). */
  readonly reverse?: boolean;
  /** Pixels per cell (default 6), or per-axis sizes. */
  readonly cellSize?: number;
  /** Panels per row (default: all in one row). */
  readonly columns?: number;
  /** Values are clamped into the domain before drawing (spd's figures clip causal importances to [0, 1]). */
  readonly clamp?: boolean;
  /**
   * Entries whose magnitude is below this are not drawn and show the white
   * background, which is what a sequential scheme starting at 0 would paint
   * them: a 100 x 100 matrix of mostly-zero causal importances stays a small
   * SVG. Default 0 (every entry drawn).
   */
  readonly omitBelow?: number;
}

const DIVERGING = new Set(['redblue', 'blueorange', 'redyellowblue', 'purpleorange', 'pinkyellowgreen', 'spectral', 'brownbluegreen']);

/**
 * Matrices as heatmaps side by side on one colour scale, as spd draws causal
 * importances per input feature and weight matrices: row 0 at the top, one
 * rectangle per entry, numeric axes (so that a 40 x 200 matrix gets a few
 * ticks, not 200 labels).
 */
export function heatmapSpec(panels: readonly HeatmapPanel[], options: HeatmapOptions): TopLevelSpec {
  if (panels.length === 0) throw new ResultsError('heatmapSpec: no panels to draw; pass at least one matrix');
  for (const panel of panels) {
    const width = panel.values[0]?.length ?? 0;
    if (panel.values.length === 0 || width === 0 || panel.values.some((row) => row.length !== width)) {
      throw new ResultsError(`heatmapSpec: panel '${panel.title}' is not a non-empty rectangular matrix (rows of equal length)`);
    }
  }
  const scheme = options.scheme ?? 'reds';
  const cell = options.cellSize ?? 6;
  let [low, high] = options.domain ?? [Infinity, -Infinity];
  if (options.domain === undefined) {
    for (const panel of panels) for (const row of panel.values) for (const value of row) [low, high] = [Math.min(low, value), Math.max(high, value)];
    if (DIVERGING.has(scheme)) [low, high] = [-Math.max(Math.abs(low), Math.abs(high)), Math.max(Math.abs(low), Math.abs(high))];
    if (low === high) [low, high] = [low - 1, high + 1];
  }
  const charts = panels.map((panel) => {
    const rows = panel.values.length;
    const columns = panel.values[0].length;
    const omit = options.omitBelow ?? 0;
    const values = panel.values.flatMap((row, y) =>
      row.flatMap((value, x) => (Math.abs(value) < omit ? [] : [{ x, x2: x + 1, y, y2: y + 1, value: options.clamp ? Math.min(high, Math.max(low, value)) : value }])),
    );
    return {
      title: panel.subtitle === undefined ? panel.title : { text: panel.title, subtitle: panel.subtitle },
      width: columns * cell,
      height: rows * cell,
      data: { values },
      mark: { type: 'rect' as const },
      encoding: {
        x: { field: 'x', type: 'quantitative' as const, title: options.xTitle, scale: { domain: [0, columns], nice: false, zero: true }, axis: { grid: false, tickMinStep: 1 } },
        x2: { field: 'x2' },
        y: { field: 'y', type: 'quantitative' as const, title: options.yTitle, scale: { domain: [0, rows], nice: false, reverse: true }, axis: { grid: false, tickMinStep: 1 } },
        y2: { field: 'y2' },
        color: {
          field: 'value',
          type: 'quantitative' as const,
          title: options.colorTitle,
          scale: { scheme, domain: [low, high], reverse: options.reverse ?? false, clamp: true },
        },
      },
    };
  });
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    config: { ...PLOT_CONFIG, view: { stroke: '#8a94a3' } },
    columns: options.columns ?? panels.length,
    concat: charts,
    spacing: 16,
    resolve: { scale: { color: 'shared' } },
  };
}
