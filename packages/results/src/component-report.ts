import { readComponentMetrics, type ComponentMetrics } from './component-metrics.js';
import { ciHistogramSpec } from './ci-histogram-plot.js';
import { featureDensitySpec } from './feature-density-plot.js';
import { escapeHtml } from './html-escape.js';
import { formatValue } from './number-format.js';
import { categoryScale } from './plot-theme.js';
import { renderSvg } from './render-svg.js';
import type { RunRecord } from './run-record.js';
import { tabulatedRuns } from './runs-table.js';

/** The report section's id and heading, for the page's navigation. */
export const COMPONENTS_SECTION = { id: 'components', heading: 'Components' } as const;

/**
 * The report's section on decompositions of the model's weights (SPD), one
 * block per run whose summary has component metrics: how far each mask kind
 * moves the output from the model's (KL, CE difference, CE unrecovered), CI-L0
 * and alive components per module at every threshold, and per module the CI
 * histogram and the component activation densities as SVG. Empty when no run
 * has them, so reports of activation decompositions are unchanged.
 */
export async function renderComponentSection(runs: readonly RunRecord[]): Promise<string> {
  const blocks: string[] = [];
  for (const [index, { run, row }] of tabulatedRuns(runs).entries()) {
    const metrics = readComponentMetrics(run.summary, run.name);
    if (metrics !== undefined) blocks.push(await renderRun(row.label, `run-${index}`, metrics));
  }
  if (blocks.length === 0) return '';
  return `<section id="${COMPONENTS_SECTION.id}">
<h2>${COMPONENTS_SECTION.heading}</h2>
<p class="introduction">Decompositions of the model's weights into components (SPD), evaluated on held-out tokens. Masks: <code>ci</code> scales each component by its causal importance, <code>stochastic</code> by g + (1 − g) r, <code>random</code> by r, <code>rounded_t</code> keeps the components with CI &gt; t, <code>unmasked</code> keeps all, <code>zero</code> none (the delta component dropped); CE unrecovered is (CE − CE<sub>model</sub>) / (CE<sub>zero</sub> − CE<sub>model</sub>). CI-L0 is the mean number of components per position with CI above a threshold, alive the components whose CI exceeds it somewhere; several thresholds, since one alone misleads.</p>
${blocks.join('\n')}
</section>`;
}

async function renderRun(label: string, id: string, metrics: ComponentMetrics): Promise<string> {
  const parts = [`<h3>${escapeHtml(label)}</h3>`];
  if (metrics.masks.length > 0) {
    const rows = metrics.masks.map(
      ({ mask, kl, ceDiff, ceUnrecovered }) =>
        `<tr><th scope="row"><code>${escapeHtml(mask)}</code></th><td class="number">${formatValue(kl)}</td><td class="number">${formatValue(ceDiff)}</td><td class="number">${formatValue(ceUnrecovered)}</td></tr>`,
    );
    parts.push(
      `<div class="table-scroll"><table class="runs masks">\n<thead><tr><th scope="col">Mask</th><th scope="col" class="number" title="kl_{mask}">KL to the model</th><th scope="col" class="number" title="ce_diff_{mask}">CE difference</th><th scope="col" class="number" title="ce_unrecovered_{mask}">CE unrecovered</th></tr></thead>\n<tbody>\n${rows.join('\n')}\n</tbody>\n</table></div>`,
    );
  }
  if (metrics.modules.length > 0 && metrics.thresholds.length > 0) {
    const head = [
      ...metrics.thresholds.map((t) => `<th scope="col" class="number" title="ci_l0_${t}.{module}">CI-L0 (&gt; ${t})</th>`),
      ...metrics.thresholds.map((t) => `<th scope="col" class="number" title="alive_${t}.{module}">alive (&gt; ${t})</th>`),
    ];
    const rows = metrics.modules.map(
      ({ module, ciL0, alive }) =>
        `<tr><th scope="row"><code>${escapeHtml(module)}</code></th>${metrics.thresholds.map((t) => `<td class="number">${formatValue(ciL0.get(t))}</td>`).join('')}${metrics.thresholds.map((t) => `<td class="number">${formatValue(alive.get(t))}</td>`).join('')}</tr>`,
    );
    parts.push(`<div class="table-scroll"><table class="runs modules">\n<thead><tr><th scope="col">Module</th>${head.join('')}</tr></thead>\n<tbody>\n${rows.join('\n')}\n</tbody>\n</table></div>`);
  }
  const colors = categoryScale(metrics.modules.map(({ module }) => module));
  const color = (module: string) => colors.range[colors.domain.indexOf(module)]!;
  const histograms = ciHistogramSpec(metrics.modules.flatMap(({ module, ciHistogram }) => (ciHistogram === undefined ? [] : [{ label: module, color: color(module), counts: ciHistogram }])));
  const densities = featureDensitySpec(
    metrics.modules.flatMap(({ module, componentDensity }) => {
      if (componentDensity === undefined) return [];
      const firingLog10 = componentDensity.filter((density) => density > 0).map((density) => Math.log10(Math.min(1, density)));
      return [{ label: module, color: color(module), density: { firingLog10, neverFired: componentDensity.length - firingLog10.length, featureCount: componentDensity.length } }];
    }),
    { noun: 'component', denseThreshold: null },
  );
  const threshold = metrics.densityThreshold === undefined ? 'its threshold' : `${metrics.densityThreshold}`;
  const figures = [
    {
      key: 'ci-histograms',
      spec: histograms,
      caption: 'CI histograms: every causal importance of each module (all positions and components) in equal bins over [0, 1]; the count axis is symmetric-log.',
    },
    {
      key: 'component-density',
      spec: densities,
      caption: `Component activation density: per module, how many components are active (CI > ${threshold}) on each fraction of the evaluated positions, on a log10 scale; the subtitle counts the components that never fired (never active).`,
    },
  ];
  parts.push('<div class="plots wide">');
  for (const { key, spec, caption } of figures) {
    if (spec === undefined) continue;
    const plotId = `${id}-${key}`;
    parts.push(`<figure id="plot-${plotId}" class="plot">\n${await renderSvg(spec, { idPrefix: `${plotId}-` })}\n<figcaption>${escapeHtml(caption)}</figcaption>\n</figure>`);
  }
  parts.push('</div>');
  return parts.join('\n');
}
