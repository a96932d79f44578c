import { escapeHtml } from './html-escape.js';
import { formatValue } from './number-format.js';
import type { RunsTableRow } from './runs-table.js';

/** One column of the rendered table; both renderers use this list, so Markdown and HTML show the same columns. */
export interface RunsTableColumn {
  /** The metric or config key it shows, as the reference names it. */
  key: string;
  label: string;
  value(row: RunsTableRow): number | string | undefined;
}

export const RUNS_TABLE_COLUMNS: readonly RunsTableColumn[] = [
  { key: 'name', label: 'Run', value: (row) => row.name },
  { key: 'method', label: 'Method', value: (row) => row.method },
  { key: 'dict_size', label: 'Dictionary size', value: (row) => row.dictionarySize },
  { key: 'top_k', label: 'k', value: (row) => row.k },
  { key: 'l0_norm', label: 'L0', value: (row) => row.l0Norm },
  { key: 'normalized_mse', label: 'Normalised MSE', value: (row) => row.normalizedMse },
  { key: 'performance/ce_degradation', label: 'CE degradation', value: (row) => row.ceDegradation },
  { key: 'explained_variance', label: 'Explained variance', value: (row) => row.explainedVariance },
  { key: 'dead_fraction', label: 'Dead fraction', value: (row) => row.deadFraction },
  { key: 'dense_fraction', label: 'Dense fraction', value: (row) => row.denseFraction },
  { key: 'step', label: 'Steps', value: (row) => row.steps },
];

/** Columns whose values are numbers, right-aligned so that digits line up. */
const NUMERIC_COLUMNS = new Set(RUNS_TABLE_COLUMNS.filter((column) => !['name', 'method'].includes(column.key)).map((column) => column.key));

/** A GitHub-flavoured Markdown table. A normalised MSE taken from `l2_loss` is marked with `†`, explained under the table. */
export function renderRunsTableMarkdown(rows: readonly RunsTableRow[]): string {
  const cell = (text: string) => text.replaceAll('\\', '\\\\').replaceAll('|', '\\|').replace(/\r?\n/g, ' ');
  const header = `| ${RUNS_TABLE_COLUMNS.map((column) => column.label).join(' | ')} |`;
  const rule = `| ${RUNS_TABLE_COLUMNS.map((column) => (NUMERIC_COLUMNS.has(column.key) ? '---:' : '---')).join(' | ')} |`;
  const body = rows.map((row) => `| ${RUNS_TABLE_COLUMNS.map((column) => cell(cellText(column, row))).join(' | ')} |`);
  const lines = [header, rule, ...body];
  if (rows.some(fromL2Loss)) lines.push('', L2_LOSS_NOTE);
  return `${lines.join('\n')}\n`;
}

/** An HTML `<table>` (a fragment, no styles of its own; the report styles it). */
export function renderRunsTableHtml(rows: readonly RunsTableRow[]): string {
  const head = RUNS_TABLE_COLUMNS.map((column) => `<th scope="col"${NUMERIC_COLUMNS.has(column.key) ? ' class="number"' : ''} title="${escapeHtml(column.key)}">${escapeHtml(column.label)}</th>`).join(
    '',
  );
  const body = rows.map((row) => {
    const cells = RUNS_TABLE_COLUMNS.map((column) => {
      if (column.key === 'name') {
        // The label is what the legends show; the full name is what the run directory and W&B call it.
        return `<th scope="row"><span class="run-label">${escapeHtml(row.label)}</span><span class="run-name">${breakableName(row.name)}</span></th>`;
      }
      return `<td${NUMERIC_COLUMNS.has(column.key) ? ' class="number"' : ''}>${escapeHtml(cellText(column, row))}</td>`;
    });
    return `<tr>${cells.join('')}</tr>`;
  });
  const note = rows.some(fromL2Loss) ? `<p class="table-note">${escapeHtml(L2_LOSS_NOTE)}</p>` : '';
  return `<table class="runs">\n<thead><tr>${head}</tr></thead>\n<tbody>\n${body.join('\n')}\n</tbody>\n</table>${note}`;
}

/** Run names are one long token (`gpt2-small_blocks.8.hook_resid_pre_4096_topk_32_0.0003`); a line may break after each `_`, `.` or `/`. */
function breakableName(name: string): string {
  return escapeHtml(name).replace(/([_./])/g, '$1<wbr>');
}

const L2_LOSS_NOTE = "† No normalized_mse from evaluation: the final l2_loss is shown instead, as the reference's results.py does.";

function fromL2Loss(row: RunsTableRow): boolean {
  return row.normalizedMseSource === 'l2_loss';
}

function cellText(column: RunsTableColumn, row: RunsTableRow): string {
  const text = formatValue(column.value(row));
  return column.key === 'normalized_mse' && fromL2Loss(row) ? `${text} †` : text;
}
