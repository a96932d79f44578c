import type { TopLevelSpec } from 'vega-lite';
import { readFeatureDensity } from './feature-density.js';
import { featureDensitySpec } from './feature-density-plot.js';
import type { FeatureDensityRun } from './feature-density-plot.js';
import { categoryScale } from './plot-theme.js';
import { renderSvg } from './render-svg.js';
import type { RunRecord } from './run-record.js';
import { tabulatedRuns } from './runs-table.js';
import { defaultSparsitySweepSize, dictionarySweepSpec, explainedVarianceSpec, methodsOf, sparsitySweepSpec } from './sweep-plots.js';
import { trainingCurveMetrics } from './training-curve-metrics.js';
import { trainingCurvesSpec } from './training-curves-plot.js';

export interface ReportPlotOptions {
  /** The k of the dictionary-size panels. Default 32, the reference's. */
  k?: number;
  /** The dictionary size of the L0 panels. Default: the size with the most runs (see `defaultSparsitySweepSize`). */
  dictionarySize?: number;
  /** Metrics of the training curves. Default `trainingCurveMetrics(runs)`: the reference's SAE curves, and the losses of runs that logged none of them. */
  trainingMetrics?: readonly string[];
}

/** The report's sections, in order; each plot belongs to one. */
export type ReportSection = 'sweeps' | 'trade-off' | 'training' | 'feature-density';

export interface ReportPlot {
  /** Stable and unique, kebab-case; the report names its figure `plot-<id>` and prefixes the SVG's ids with `<id>-`. */
  id: string;
  section: ReportSection;
  title: string;
  /** One or two sentences under the plot: what it shows and how to read it. */
  description: string;
  /** Undefined when no run has the data; `emptyMessage` then says what is missing. */
  spec: TopLevelSpec | undefined;
  emptyMessage: string;
}

export interface RenderedReportPlot extends ReportPlot {
  /** The plot as SVG, or undefined when `spec` is. */
  svg: string | undefined;
}

/** Every plot of the report, as Vega-Lite specs, in report order; only the training curves when no run has an L0. */
export function reportPlotSpecs(runs: readonly RunRecord[], options: ReportPlotOptions = {}): ReportPlot[] {
  const entries = tabulatedRuns(runs);
  const rows = entries.map((entry) => entry.row);
  const k = options.k ?? 32;
  const dictionarySize = options.dictionarySize ?? defaultSparsitySweepSize(rows);
  const sizeText = dictionarySize === undefined ? 'one dictionary size' : `dictionary size ${dictionarySize}`;
  const saeColors = categoryScale(methodsOf(rows));
  // One colour per method in every plot, the per-run ones (training curves, densities) included.
  const methodColor = (row: (typeof rows)[number]) => saeColors.range[saeColors.domain.indexOf(row.method ?? 'unknown')]!;

  const densityRuns: FeatureDensityRun[] = entries.flatMap(({ run, row }) => {
    const density = readFeatureDensity(run.summary, run.name);
    if (density === undefined) return [];
    return [{ label: row.label, color: methodColor(row), density }];
  });

  const plots: ReportPlot[] = [
    {
      id: 'normalized-mse-vs-dictionary-size',
      section: 'sweeps',
      title: 'Normalised MSE vs dictionary size',
      description: `Final normalised MSE of the runs with k = ${k}, against dictionary size on a log scale, one line per method. Lower is better; bigger dictionaries should reconstruct better at the same k.`,
      spec: dictionarySweepSpec(rows, 'normalizedMse', k),
      emptyMessage: `The runs with k = ${k} and a normalised MSE do not span two dictionary sizes (the L0 panels show runs of one size).`,
    },
    {
      id: 'normalized-mse-vs-l0',
      section: 'sweeps',
      title: 'Normalised MSE vs L0',
      description: `Final normalised MSE against final L0 for the runs with ${sizeText}, one line per method. The curve lower down at the same L0 is the better trade-off.`,
      spec: dictionarySize === undefined ? undefined : sparsitySweepSpec(rows, 'normalizedMse', dictionarySize),
      emptyMessage: `No run of ${sizeText} has both an L0 and a normalised MSE.`,
    },
    {
      id: 'ce-degradation-vs-dictionary-size',
      section: 'sweeps',
      title: 'CE degradation vs dictionary size',
      description: `Final CE degradation of the runs with k = ${k}, against dictionary size on a log scale. Closer to zero means splicing the SAE into the model costs less language-modelling loss.`,
      spec: dictionarySweepSpec(rows, 'ceDegradation', k),
      emptyMessage: `The runs with k = ${k} and a CE degradation do not span two dictionary sizes (the L0 panels show runs of one size).`,
    },
    {
      id: 'ce-degradation-vs-l0',
      section: 'sweeps',
      title: 'CE degradation vs L0',
      description: `Final CE degradation against final L0 for the runs with ${sizeText}, one line per method.`,
      spec: dictionarySize === undefined ? undefined : sparsitySweepSpec(rows, 'ceDegradation', dictionarySize),
      emptyMessage: `No run of ${sizeText} has both an L0 and a CE degradation.`,
    },
    {
      id: 'explained-variance-vs-l0',
      section: 'trade-off',
      title: 'Explained variance vs L0',
      description: 'Every run with an evaluation: explained variance against L0, colour by method and shape by dictionary size. Runs up and to the left explain more with fewer active features.',
      spec: explainedVarianceSpec(rows),
      emptyMessage: 'No run has both an L0 and an explained variance (explained_variance comes from evaluation).',
    },
    {
      id: 'training-curves',
      section: 'training',
      title: 'Training curves',
      description: 'Logged metrics against training step, one line per run, coloured by method. A y axis marked log scale spans more than two decades.',
      spec: trainingCurvesSpec(
        entries.map(({ run, row }) => ({ label: row.label, history: run.history, color: methodColor(row) })),
        { metrics: options.trainingMetrics ?? trainingCurveMetrics(runs) },
      ),
      emptyMessage: 'No run has logged history for these metrics.',
    },
    {
      id: 'feature-density',
      section: 'feature-density',
      title: 'Feature density',
      description:
        'For each run, how many features fire at each density (the fraction of evaluation tokens on which a feature is active), on a log10 scale. The dashed line marks density 0.1: features right of it count as dense. Features that never fired are counted in the subtitle.',
      spec: featureDensitySpec(densityRuns),
      emptyMessage: 'No run has feature_density_log10 in its summary (evaluation writes it).',
    },
  ];
  // Sweeps, trade-off and feature density are about features measured by L0. Runs none of which has one (a decomposition
  // of weights, such as SPD, whose own measures are the report's component section) get their training curves alone
  // rather than empty panels; a report with any L0, or of no runs, keeps every plot.
  const measuresFeatures = rows.length === 0 || rows.some((row) => row.l0Norm !== undefined);
  return measuresFeatures ? plots : plots.filter((plot) => plot.section === 'training');
}

/** Every plot of the report, rendered to SVG in Node; plots without data keep `svg` undefined. */
export async function renderReportPlots(runs: readonly RunRecord[], options: ReportPlotOptions = {}): Promise<RenderedReportPlot[]> {
  const rendered: RenderedReportPlot[] = [];
  // One at a time: rendering is CPU-bound, so running them together saves nothing and interleaves vega's work.
  for (const plot of reportPlotSpecs(runs, options)) {
    rendered.push({ ...plot, svg: plot.spec === undefined ? undefined : await renderSvg(plot.spec, { idPrefix: `${plot.id}-` }) });
  }
  return rendered;
}
