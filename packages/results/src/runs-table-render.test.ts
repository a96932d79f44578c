import { describe, expect, it } from 'vitest';
import type { RunRecord } from './run-record.js';
import { runsTable } from './runs-table.js';
import { RUNS_TABLE_COLUMNS, renderRunsTableHtml, renderRunsTableMarkdown } from './runs-table-render.js';

const runs: RunRecord[] = [
  {
    name: 'gpt2-small_blocks.8.hook_resid_pre_4096_topk_32_0.0003',
    origin: { type: 'directory', directory: '/runs/a' },
    config: { sae_type: 'topk', dict_size: 4096, top_k: 32 },
    summary: { l0_norm: 32, normalized_mse: 0.123456, 'performance/ce_degradation': -0.05 },
    history: [],
  },
  {
    name: 'odd | <name>',
    origin: { type: 'directory', directory: '/runs/b' },
    config: { sae_type: 'batchtopk', dict_size: 8192, top_k: 16 },
    summary: { l0_norm: 16.2, l2_loss: 0.2 },
    history: [],
  },
];

describe('renderRunsTableMarkdown', () => {
  it('writes a header, an alignment row and one row per run, with the l2_loss fallback marked', () => {
    const markdown = renderRunsTableMarkdown(runsTable(runs));
    const lines = markdown.trimEnd().split('\n');
    expect(lines[0]).toBe(`| ${RUNS_TABLE_COLUMNS.map((column) => column.label).join(' | ')} |`);
    expect(lines[1]).toMatch(/^\| --- \| --- \| ---: \|/);
    expect(lines[2]).toBe('| odd \\| <name> | batchtopk | 8192 | 16 | 16.2 | 0.2 † | — | — | — | — | — |');
    expect(lines[3]).toBe('| gpt2-small_blocks.8.hook_resid_pre_4096_topk_32_0.0003 | topk | 4096 | 32 | 32 | 0.1235 | -0.05 | — | — | — | — |');
    expect(lines.at(-1)).toMatch(/^† No normalized_mse/);
  });

  it('writes only the header for no runs', () => {
    expect(renderRunsTableMarkdown([]).trimEnd().split('\n')).toHaveLength(2);
  });
});

describe('renderRunsTableHtml', () => {
  it('escapes names and shows label and full name in the first column', () => {
    const html = renderRunsTableHtml(runsTable(runs));
    expect(html).toContain('<span class="run-name">odd | &lt;name&gt;</span>');
    expect(html).not.toContain('<name>');
    expect(html).toContain('<span class="run-label">topk · 4096 · k=32</span>');
    expect(html).toContain('gpt2-small_<wbr>blocks.<wbr>8.<wbr>hook_<wbr>');
    expect(html.match(/<tr>/g)).toHaveLength(3);
    expect(html).toContain('<td class="number">0.2 †</td>');
    expect(html).toContain('class="table-note"');
  });
});
