import type { TopLevelSpec } from 'vega-lite';
import { evaluationLabel, PARETO_AXES, PARETO_AXIS_TITLES, paretoAxes, pointLabel, type ComparisonData, type ComparisonSweep, type ParetoAxis } from './comparison-data.js';
import { CATEGORY_COLORS, PLOT_CONFIG } from './plot-theme.js';

export type ParetoMetric = 'ceDegradation' | 'mse';

const METRIC_TITLES: Record<ParetoMetric, string> = { ceDegradation: 'CE degradation (nats, log)', mse: 'MSE (log)' };
const SWEEP_TITLES: Record<ComparisonSweep, string> = {
  native: 'Trained decompositions at their own sparsity (measured L0)',
  top_k: 'Synthetic per-token top-k sweep',
};

/** The neuron baseline's colour, whatever the families. */
export const NEURON_COLOR = '#7f7f7f';

/**
 * Colours for families, in the order given (the CLI's list of families, so
 * a family has the same colour in every comparison); the neuron baseline is
 * grey. Starts with the reference's transcoder blue and CLT cyan when the
 * list starts sae, transcoder, clt.
 */
export const FAMILY_COLORS = ['#2ca02c', '#1f77b4', '#17becf', '#ff7f0e', '#9467bd', '#d62728', '#8c564b', '#e377c2', '#bcbd22', ...CATEGORY_COLORS];

export function familyColorScale(families: readonly string[], baseline = 'neurons'): { domain: string[]; range: string[] } {
  const others = families.filter((family) => family !== baseline);
  return { domain: [baseline, ...others], range: [NEURON_COLOR, ...others.map((_family, index) => FAMILY_COLORS[index % FAMILY_COLORS.length]!)] };
}

export interface ParetoPlotOptions {
  /** Families in their fixed colour order; default those of the comparison in first-seen order. */
  readonly families?: readonly string[];
}

const PANEL_WIDTH = 260;
const PANEL_HEIGHT = 240;

/**
 * One figure of the comparison: `metric` against the three sparsity axes
 * (one panel each, shared y), for the points of one sweep. A line per
 * series: in the native sweep a family's trained methods form one line (the
 * reference's exp_011), in the top-k sweep each method is a line over k
 * (exp_007). Points evaluated the reference's way are dashed. The CE plots
 * draw zero ablation of the same MLPs as a dotted line; values <= 0 (the
 * neuron baseline with every unit, an exact method) cannot sit on a log axis
 * and are left out. Undefined when no point can be drawn.
 */
export function paretoPlotSpec(comparison: ComparisonData, sweep: ComparisonSweep, metric: ParetoMetric, options: ParetoPlotOptions = {}): TopLevelSpec | undefined {
  const present = new Set(comparison.points.map((point) => point.family));
  // Colours come from the full list (fixed across comparisons); the legend lists only the families present.
  const all = familyColorScale(options.families ?? [...present]);
  const shown = all.domain.map((family, index) => ({ family, color: all.range[index] })).filter(({ family }) => present.has(family));
  const colors = { domain: shown.map(({ family }) => family), range: shown.map(({ color }) => color) };
  const points = comparison.points.filter((point) => point.sweep === sweep);
  const panels = PARETO_AXES.map((axis) => panel(axis));
  if (panels.every((candidate) => candidate === undefined)) return undefined;
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: {
      text: `${METRIC_TITLES[metric].replace(/ \(.*\)$/, '')}: ${SWEEP_TITLES[sweep]}`,
      subtitle: `${comparison.tokens} tokens; original CE ${comparison.originalCe.toFixed(4)}, zero ablation ${comparison.zeroAblationCe.toFixed(4)}`,
    },
    config: PLOT_CONFIG,
    hconcat: panels.filter((candidate) => candidate !== undefined) as never[],
    resolve: { scale: { y: 'shared', color: 'shared', strokeDash: 'shared' } },
  };

  function panel(axis: ParetoAxis): object | undefined {
    const values = points.flatMap((point) => {
      const x = paretoAxes(point)[axis];
      const y = point[metric];
      if (x === undefined || !(x > 0) || !(y > 0)) return [];
      const evaluation = evaluationLabel(point);
      const series = `${sweep === 'native' ? point.family : point.method}${evaluation === '' ? '' : ` (${evaluation})`}`;
      return [{ x, y, family: point.family, series, evaluation: point.quirks.length === 0 ? 'correct' : 'reference', label: pointLabel(point) }];
    });
    if (values.length === 0) return undefined;
    const layers: object[] = [
      {
        data: { values },
        mark: { type: 'line', point: true },
        encoding: {
          x: { field: 'x', type: 'quantitative', title: PARETO_AXIS_TITLES[axis], scale: { type: 'log', base: 2, nice: false } },
          y: { field: 'y', type: 'quantitative', title: METRIC_TITLES[metric], scale: { type: 'log' } },
          color: { field: 'family', type: 'nominal', title: 'Method', scale: colors },
          strokeDash: {
            field: 'evaluation',
            type: 'nominal',
            title: 'Evaluation',
            scale: {
              domain: ['correct', 'reference'],
              range: [
                [1, 0],
                [5, 3],
              ],
            },
          },
          detail: { field: 'series', type: 'nominal' },
          order: { field: 'x', type: 'quantitative' },
          tooltip: [{ field: 'label' }, { field: 'x', format: '.4~g' }, { field: 'y', format: '.4~g' }],
        },
      },
    ];
    const zero = comparison.zeroAblationCe - comparison.originalCe;
    if (metric === 'ceDegradation' && zero > 0) {
      layers.push({ data: { values: [{ y: zero }] }, mark: { type: 'rule', strokeDash: [2, 3], color: '#444' }, encoding: { y: { field: 'y', type: 'quantitative' } } });
    }
    return { width: PANEL_WIDTH, height: PANEL_HEIGHT, layer: layers };
  }
}
