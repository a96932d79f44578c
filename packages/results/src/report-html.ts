import { COMPONENTS_SECTION, renderComponentSection } from './component-report.js';
import { escapeHtml } from './html-escape.js';
import { METRIC_DEFINITIONS } from './metric-definitions.js';
import type { MetricDefinition } from './metric-definitions.js';
import { renderReportPlots } from './report-plots.js';
import type { RenderedReportPlot, ReportPlotOptions, ReportSection } from './report-plots.js';
import type { RunOrigin, RunRecord } from './run-record.js';
import { runsTable } from './runs-table.js';
import { renderRunsTableHtml } from './runs-table-render.js';

export interface ReportOptions extends ReportPlotOptions {
  /** The page's title and heading. Default 'SAE training results'. */
  title?: string;
  /** Printed in the header. Default: now. */
  generatedAt?: Date;
  /** Feature dashboards to link from the header (`nnd dashboard`), as paths relative to the report, with a label each. */
  dashboards?: readonly { readonly label: string; readonly href: string }[];
}

const SECTIONS: readonly { section: ReportSection; heading: string; introduction: string }[] = [
  {
    section: 'sweeps',
    heading: 'Sweeps',
    introduction:
      "The four panels of the reference's results.py: reconstruction error and downstream loss against dictionary size at a fixed k, and against L0 at a fixed dictionary size. Colours are methods (SAE types, transcoder types, ...), the same in every plot.",
  },
  {
    section: 'trade-off',
    heading: 'Sparsity and fidelity',
    introduction: 'How much of the activations each run explains for the sparsity it reaches.',
  },
  {
    section: 'training',
    heading: 'Training curves',
    introduction: 'What each run logged while it trained (metrics.jsonl or W&B history).',
  },
  {
    section: 'feature-density',
    heading: 'Feature density',
    introduction: 'How often features fire on evaluation tokens; a healthy dictionary has few dead and few dense features.',
  },
];

/**
 * The report as one self-contained HTML document: styles inline, plots as
 * inline SVG, no scripts, no fonts or images from anywhere, so it opens the
 * same from a file, an attachment or an offline machine.
 */
export async function renderReport(runs: readonly RunRecord[], options: ReportOptions = {}): Promise<string> {
  const title = options.title ?? 'SAE training results';
  const generatedAt = options.generatedAt ?? new Date();
  const rows = runsTable(runs);
  const plots = await renderReportPlots(runs, options);
  const components = await renderComponentSection(runs);

  // A section without plots (reportPlotSpecs leaves the feature sections out for runs without an L0) is left out, with its link.
  const shown = SECTIONS.filter(({ section }) => plots.some((plot) => plot.section === section));
  const sections = shown.map(({ section, heading, introduction }) => {
    const sectionPlots = plots.filter((plot) => plot.section === section);
    const wide = section === 'training' || section === 'feature-density';
    return `<section id="${section}">
<h2>${escapeHtml(heading)}</h2>
<p class="introduction">${escapeHtml(introduction)}</p>
<div class="${wide ? 'plots wide' : 'plots'}">
${sectionPlots.map(renderFigure).join('\n')}
</div>
</section>`;
  });

  const table = rows.length === 0 ? '<p class="empty">No runs were loaded.</p>' : `<div class="table-scroll">\n${renderRunsTableHtml(rows)}\n</div>`;

  return `<!DOCTYPE html>
${pageStart(title)}<p class="meta">${runs.length} ${runs.length === 1 ? 'run' : 'runs'} from ${describeOrigins(runs.map((run) => run.origin))} · generated ${escapeHtml(
    generatedAt
      .toISOString()
      .replace('T', ' ')
      .replace(/\.\d+Z$/, ' UTC'),
  )}</p>
<nav><a href="#runs">Runs</a>${components === '' ? '' : `<a href="#${COMPONENTS_SECTION.id}">${COMPONENTS_SECTION.heading}</a>`}${shown.map(({ section, heading }) => `<a href="#${section}">${escapeHtml(heading)}</a>`).join('')}<a href="#metrics">Metrics</a>${(options.dashboards ?? []).map(({ label, href }) => `<a href="${escapeHtml(href)}">${escapeHtml(label)}</a>`).join('')}</nav>
</header>
<main>
<section id="runs">
<h2>Runs</h2>
<p class="introduction">Final values of each run: the summary it finished with, or its last logged values if it has none. Sorted by method, dictionary size and k.</p>
${table}
</section>
${components === '' ? '' : `${components}\n`}${sections.join('\n')}
<section id="metrics">
<h2>Metrics</h2>
<p class="introduction">Names are those the runs log (and the reference logs to W&amp;B), shown in grey.</p>
<div class="metric-groups">
${renderMetricGroup(
  'Logged during training',
  METRIC_DEFINITIONS.filter((definition) => definition.phase === 'training'),
)}
${renderMetricGroup(
  'Written by evaluation',
  METRIC_DEFINITIONS.filter((definition) => definition.phase === 'evaluation'),
)}
</div>
</section>
</main>
</body>
</html>
`;
}

function renderFigure(plot: RenderedReportPlot): string {
  const body = plot.svg === undefined ? `<p class="empty">${escapeHtml(plot.emptyMessage)}</p>` : plot.svg;
  return `<figure id="plot-${plot.id}" class="${plot.svg === undefined ? 'plot empty-plot' : 'plot'}">
${body}
<figcaption>${escapeHtml(plot.description)}</figcaption>
</figure>`;
}

function renderMetricGroup(heading: string, definitions: readonly MetricDefinition[]): string {
  const entries = definitions.map((definition) => `<dt>${escapeHtml(definition.label)} <code>${escapeHtml(definition.name)}</code></dt>\n<dd>${escapeHtml(definition.explanation)}</dd>`);
  return `<div class="metric-group">\n<h3>${escapeHtml(heading)}</h3>\n<dl>\n${entries.join('\n')}\n</dl>\n</div>`;
}

/** `runs/` folders and W&B projects, each once, in first-seen order. */
function describeOrigins(origins: readonly RunOrigin[]): string {
  if (origins.length === 0) return 'no source';
  const described = new Set(
    origins.map((origin) => (origin.type === 'directory' ? `<code>${escapeHtml(parentOf(origin.directory))}</code>` : `W&amp;B <code>${escapeHtml(`${origin.entity}/${origin.project}`)}</code>`)),
  );
  return [...described].join(', ');
}

function parentOf(directory: string): string {
  const trimmed = directory.replace(/[\\/]+$/, '');
  const cut = Math.max(trimmed.lastIndexOf('/'), trimmed.lastIndexOf('\\'));
  return cut <= 0 ? trimmed : trimmed.slice(0, cut);
}

/** Plain CSS; sizes in px so the SVGs (drawn at fixed pixel sizes) and the text keep their proportions. */
/** A report page up to its header's title, with the reports' shared style; the caller writes the rest of the header. */
export function pageStart(title: string): string {
  return `<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="@nnd/results">
<title>${escapeHtml(title)}</title>
<style>
${STYLE}
</style>
</head>
<body>
<header>
<h1>${escapeHtml(title)}</h1>
`;
}

const STYLE = `
:root { color-scheme: light; --text: #1f2933; --muted: #5f6b7a; --rule: #dde2e8; --accent: #4c78a8; --panel: #f6f8fa; }
* { box-sizing: border-box; }
html { background: #fff; }
body { margin: 0; font: 15px/1.5 Helvetica, Arial, "Liberation Sans", sans-serif; color: var(--text); }
header { padding: 28px 40px 0; max-width: 1240px; margin: 0 auto; }
main { padding: 0 40px 48px; max-width: 1240px; margin: 0 auto; }
h1 { font-size: 28px; margin: 0 0 4px; letter-spacing: -0.01em; }
h2 { font-size: 21px; margin: 40px 0 4px; padding-top: 12px; border-top: 1px solid var(--rule); }
h3 { font-size: 15px; margin: 0 0 8px; color: var(--muted); text-transform: uppercase; letter-spacing: 0.04em; }
.meta { color: var(--muted); margin: 0 0 12px; }
nav { display: flex; flex-wrap: wrap; gap: 6px 18px; padding: 10px 0 4px; font-size: 14px; }
nav a { color: var(--accent); text-decoration: none; }
nav a:hover { text-decoration: underline; }
.introduction { color: var(--muted); margin: 0 0 16px; max-width: 860px; }
code { font: 12.5px/1.4 "DejaVu Sans Mono", Menlo, Consolas, monospace; color: var(--muted); }
.table-scroll { overflow-x: auto; border: 1px solid var(--rule); border-radius: 6px; }
table.runs { border-collapse: collapse; width: 100%; font-size: 13.5px; font-variant-numeric: tabular-nums; }
table.runs th, table.runs td { padding: 7px 10px; text-align: left; border-bottom: 1px solid var(--rule); white-space: nowrap; vertical-align: top; }
table.runs thead th { background: var(--panel); font-weight: 600; white-space: normal; vertical-align: bottom; line-height: 1.25; }
table.runs tbody tr:nth-child(even) { background: #fbfcfd; }
table.runs tbody tr:last-child th, table.runs tbody tr:last-child td { border-bottom: none; }
table.runs .number { text-align: right; }
table.runs tbody th { font-weight: normal; }
.run-label { display: block; font-weight: 600; }
.run-name { display: block; font-size: 11.5px; color: var(--muted); white-space: normal; overflow-wrap: anywhere; min-width: 200px; max-width: 250px; }
.table-note { color: var(--muted); font-size: 13px; margin: 8px 0 0; }
.plots { display: grid; grid-template-columns: repeat(auto-fill, minmax(540px, 1fr)); gap: 20px; }
.plots.wide { grid-template-columns: 1fr; }
figure.plot { margin: 0; padding: 12px; border: 1px solid var(--rule); border-radius: 6px; background: #fff; overflow-x: auto; }
figure.plot svg { display: block; max-width: 100%; height: auto; }
figcaption { color: var(--muted); font-size: 13px; margin-top: 8px; }
.empty { color: var(--muted); font-style: italic; margin: 0; }
figure.empty-plot { background: var(--panel); min-height: 120px; display: flex; flex-direction: column; justify-content: center; }
.metric-groups { display: grid; grid-template-columns: repeat(auto-fit, minmax(420px, 1fr)); gap: 12px 40px; }
dl { margin: 0; }
dt { font-weight: 600; margin-top: 12px; }
dd { margin: 2px 0 0; color: var(--text); font-size: 14px; }
@media print { figure.plot, table.runs tr { break-inside: avoid; } nav { display: none; } }
`.trim();
