import { writeFileDurably } from '@nnd/core';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { modulesOf, paretoAxes, pointLabel, type ComparisonData, type ComparisonPointData } from './comparison-data.js';
import { ResultsError } from './errors/index.js';
import { escapeHtml } from './html-escape.js';
import { modelComparisonCsv, modelComparisonRows } from './model-comparison-table.js';
import { formatValue } from './number-format.js';
import { paretoPlotSpec, type ParetoMetric, type ParetoPlotOptions } from './pareto-plots.js';
import { renderSvg } from './render-svg.js';
import { pageStart } from './report-html.js';

export interface ComparisonReportOptions extends ParetoPlotOptions {
  /** Default 'Decomposition comparison'. */
  readonly title?: string;
  /** Lines printed under the title (model, dataset, what was compared). */
  readonly description?: readonly string[];
  /** Default: now. */
  readonly generatedAt?: Date;
}

/** What the summary table and `pareto_points.csv` list per point: its label, its three x values, CE and MSE. */
export function paretoPointRows(
  comparison: ComparisonData,
): { sweep: string; label: string; family: string; k?: number; per_component: number; per_mlp: number; total_active_params?: number; ce: number; ce_degradation: number; mse: number }[] {
  return comparison.points.map((point) => {
    const axes = paretoAxes(point);
    return {
      sweep: point.sweep,
      label: pointLabel(point),
      family: point.family,
      ...(point.k === undefined ? {} : { k: point.k }),
      per_component: axes.perComponent,
      per_mlp: axes.perMlp,
      ...(axes.totalActiveParams === undefined ? {} : { total_active_params: axes.totalActiveParams }),
      ce: point.ce,
      ce_degradation: point.ceDegradation,
      mse: point.mse,
    };
  });
}

function table(headers: readonly string[], rows: readonly (readonly (string | number | undefined)[])[], firstIsLabel = true): string {
  const head = headers.map((header) => `<th>${escapeHtml(header)}</th>`).join('');
  const body = rows
    .map(
      (row) =>
        `<tr>${row
          .map((value, index) => {
            const text = escapeHtml(formatValue(value));
            return index === 0 && firstIsLabel ? `<th>${text}</th>` : `<td class="${typeof value === 'number' ? 'number' : ''}">${text}</td>`;
          })
          .join('')}</tr>`,
    )
    .join('\n');
  return `<div class="table-scroll"><table class="runs"><thead><tr>${head}</tr></thead><tbody>\n${body}\n</tbody></table></div>`;
}

/**
 * The comparison as one self-contained HTML page: the Pareto figures of
 * both sweeps (CE degradation and MSE against the three sparsity axes), the
 * summary of every point, the model table and the per-module statistics.
 */
export async function renderComparisonReport(comparison: ComparisonData, options: ComparisonReportOptions = {}): Promise<string> {
  const title = options.title ?? 'Decomposition comparison';
  const figures: string[] = [];
  let index = 0;
  for (const sweep of ['native', 'top_k'] as const) {
    for (const metric of ['ceDegradation', 'mse'] as ParetoMetric[]) {
      const spec = paretoPlotSpec(comparison, sweep, metric, options);
      if (spec === undefined) continue;
      figures.push(`<figure class="plot">${await renderSvg(spec, { idPrefix: `pareto${index++}-` })}</figure>`);
    }
  }
  const summary = paretoPointRows(comparison);
  const model = modelComparisonRows(comparison);
  const moduleRows = comparison.points
    .filter((point) => point.sweep === 'native')
    .flatMap((point: ComparisonPointData) =>
      modulesOf(point.groups).map((module) => [pointLabel(point), module.label, module.size, module.alive, module.size === 0 ? 0 : 1 - module.alive / module.size, module.l0, module.meanActivation]),
    );
  const description = (options.description ?? []).map((line) => `<p class="meta">${escapeHtml(line)}</p>`).join('\n');
  return `<!doctype html>
${pageStart(title)}${description}
<p class="meta">${comparison.tokens} held-out tokens; layers ${comparison.layers.join(', ')} replaced at once. Original CE ${formatValue(comparison.originalCe)}, zero ablation of those MLPs ${formatValue(comparison.zeroAblationCe)} (degradation ${formatValue(comparison.zeroAblationCe - comparison.originalCe)}, the dotted line). Generated ${escapeHtml((options.generatedAt ?? new Date()).toISOString())}.</p>
<nav><a href="#pareto">Pareto frontiers</a><a href="#summary">Summary</a><a href="#model-table">Model table</a><a href="#modules">Per-module statistics</a></nav>
</header>
<main>
<section id="pareto">
<h2>Pareto frontiers</h2>
<p class="introduction">CE degradation (CE with the decomposition spliced in minus the original's) and MSE at the replaced MLP outputs, against active components per module, per MLP (a CLT feature of layer i counts for the n &minus; i MLPs it writes) and total active parameters. Colours are method families, fixed across comparisons; the neuron baseline is grey. Dashed lines reproduce the reference's evaluation quirks (batch top-k over the evaluation batch, encoders without b_enc, CLT outputs from clean inputs); solid lines are the correct evaluation. Points with a degradation &le; 0 cannot be drawn on a log axis and are only in the tables.</p>
<div class="plots wide">
${figures.length === 0 ? '<p class="empty">No point has positive values to plot.</p>' : figures.join('\n')}
</div>
</section>
<section id="summary">
<h2>Summary</h2>
${table(
  ['Point', 'Sweep', 'Method', 'k', 'L0 per module', 'Per MLP', 'Total active params', 'CE', 'CE degr.', 'MSE'],
  summary.map((row) => [row.label, row.sweep, row.family, row.k, row.per_component, row.per_mlp, row.total_active_params, row.ce, row.ce_degradation, row.mse]),
)}
</section>
<section id="model-table">
<h2>Model table</h2>
<p class="introduction">Trained decompositions at their own sparsity (the reference's exp_012), as in model_comparison.csv. Params counts every parameter of the decomposition.</p>
${table(
  ['Model', 'Method', 'CE', 'CE degr.', 'MSE', 'Mean L0', 'Params', 'Training tokens'],
  model.map((row) => [row.label, row.method, row.ce, row.ce_degradation, row.mse, row.mean_l0, row.total_params, row.training_tokens]),
)}
</section>
<section id="modules">
<h2>Per-module statistics</h2>
<p class="introduction">Per layer (or module) of each trained decomposition: dictionary size, features alive (fired at least once on these tokens), dead fraction, L0 and the mean of the nonzero activations.</p>
${table(['Model', 'Module', 'Dict size', 'Alive', 'Dead', 'L0', 'Mean act.'], moduleRows)}
</section>
</main>
</body>
</html>
`;
}

/** The files `writeComparison` writes into its folder. */
export const COMPARISON_FILES = { report: 'report.html', modelTable: 'model_comparison.csv', points: 'pareto_points.csv', data: 'comparison.json' } as const;

/**
 * Writes the comparison into `directory`: report.html, model_comparison.csv
 * (the model table), pareto_points.csv (every point's axes, CE and MSE) and
 * comparison.json (all of it, to re-plot). Resolves to the paths written.
 */
export async function writeComparison(comparison: ComparisonData, directory: string, options: ComparisonReportOptions = {}): Promise<Record<keyof typeof COMPARISON_FILES, string>> {
  const target = path.resolve(directory);
  const points = paretoPointRows(comparison);
  const columns = ['sweep', 'label', 'family', 'k', 'per_component', 'per_mlp', 'total_active_params', 'ce', 'ce_degradation', 'mse'] as const;
  const csvField = (value: unknown) => {
    if (value === undefined) return '';
    const text = String(value);
    return /[",\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
  };
  const contents: Record<keyof typeof COMPARISON_FILES, string> = {
    report: await renderComparisonReport(comparison, options),
    modelTable: modelComparisonCsv(modelComparisonRows(comparison)),
    points: `${[columns.join(','), ...points.map((row) => columns.map((column) => csvField(row[column])).join(','))].join('\n')}\n`,
    data: `${JSON.stringify(comparison, null, 1)}\n`,
  };
  const written = {} as Record<keyof typeof COMPARISON_FILES, string>;
  try {
    await fs.mkdir(target, { recursive: true });
    for (const [key, name] of Object.entries(COMPARISON_FILES) as [keyof typeof COMPARISON_FILES, string][]) {
      written[key] = path.join(target, name);
      await writeFileDurably(written[key], contents[key]);
    }
  } catch (error) {
    throw new ResultsError(`cannot write the comparison to ${target}: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
  return written;
}
