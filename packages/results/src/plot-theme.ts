import type { Config } from 'vega-lite';

/**
 * Tableau's ten categorical colours (vega's default) first, then ten darker
 * ones for reports with more runs than that; beyond twenty, colours repeat.
 */
export const CATEGORY_COLORS = [
  '#4c78a8',
  '#f58518',
  '#e45756',
  '#72b7b2',
  '#54a24b',
  '#eeca3b',
  '#b279a2',
  '#ff9da6',
  '#9d755d',
  '#bab0ac',
  '#2b4c6f',
  '#a8520b',
  '#9c2b2a',
  '#3f7f7a',
  '#2f6b2c',
  '#a8891b',
  '#7a4a70',
  '#c05b6a',
  '#5e4535',
  '#6e6863',
];

const FONT_FAMILY = 'Helvetica, Arial, "Liberation Sans", sans-serif';

/**
 * Shared look of every plot. Label limits are off because, in Node without a
 * canvas, vega estimates text widths generously (0.8 em per character) and
 * would cut run labels short with an ellipsis.
 */
export const PLOT_CONFIG: Config = {
  background: 'white',
  font: FONT_FAMILY,
  padding: 8,
  view: { stroke: '#d0d4da' },
  title: { anchor: 'start', frame: 'group', fontSize: 14, fontWeight: 600, subtitleFontSize: 11, subtitleColor: '#5f6b7a', offset: 8 },
  axis: { labelFontSize: 11, titleFontSize: 12, titleFontWeight: 500, gridColor: '#e8ebef', domainColor: '#8a94a3', tickColor: '#8a94a3', labelColor: '#37404c', titleColor: '#37404c', labelLimit: 0 },
  legend: { labelFontSize: 11, titleFontSize: 12, titleFontWeight: 500, labelLimit: 0, symbolSize: 70 },
  line: { strokeWidth: 1.8 },
  point: { size: 55, filled: true },
};

/** A colour scale keyed on every value of the report, so that one method (or run) has one colour in every plot, whichever values a plot shows. */
export function categoryScale(domain: readonly string[]): { domain: string[]; range: string[] } {
  const range = domain.map((_value, index) => CATEGORY_COLORS[index % CATEGORY_COLORS.length]!);
  return { domain: [...domain], range };
}
