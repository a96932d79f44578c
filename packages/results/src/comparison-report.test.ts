import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { ComparisonData, ComparisonPointData } from './comparison-data.js';
import { renderComparisonReport, writeComparison } from './comparison-report.js';
import { modelComparisonCsv, modelComparisonRows } from './model-comparison-table.js';
import { FAMILY_COLORS, NEURON_COLOR, paretoPlotSpec } from './pareto-plots.js';

function point(method: string, family: string, sweep: 'native' | 'top_k', l0: number, ceDegradation: number, extra: Partial<ComparisonPointData> = {}): ComparisonPointData {
  return {
    method,
    family,
    sweep,
    quirks: [],
    ce: 2 + ceDegradation,
    ceDegradation,
    mse: ceDegradation / 10,
    streams: 2,
    groups: [0, 1].map((layer) => ({ label: `blocks.${layer}.hook_mlp_out`, size: 64, alive: 60 - layer, l0, streamsWritten: 1, activeParameters: 16, meanActivation: 0.5 })),
    ...extra,
  };
}

const comparison: ComparisonData = {
  originalCe: 2,
  zeroAblationCe: 4,
  tokens: 512,
  layers: [0, 1],
  points: [
    point('transcoder k=8', 'transcoder', 'native', 8, 0.2, { totalParams: 1000, trainingTokens: 4096 }),
    point('transcoder k=16', 'transcoder', 'native', 16, 0.1, { totalParams: 1000, trainingTokens: 4096 }),
    point('transcoder k=16', 'transcoder', 'native', 16, 0.15, { quirks: ['no_b_enc'], totalParams: 1000 }),
    point('neurons', 'neurons', 'native', 8, 0.5, { k: 8 }),
    point('transcoder k=16', 'transcoder', 'top_k', 4, 0.3, { k: 4 }),
    point('neurons', 'neurons', 'top_k', 64, 0, { k: 64 }),
  ],
};

const folder = mkdtempSync(join(tmpdir(), 'nnd-comparison-'));
afterAll(() => rmSync(folder, { recursive: true, force: true }));

describe('model_comparison.csv', () => {
  it("has the reference's columns, a row per native point and per-layer statistics", () => {
    const csv = modelComparisonCsv(modelComparisonRows(comparison)).trim().split('\n');
    expect(csv[0]).toBe(
      'method,label,ce,ce_degradation,mse,mean_l0,total_params,training_tokens,L0_dict_size,L0_alive,L0_dead_pct,L0_l0,L0_mean_act,L1_dict_size,L1_alive,L1_dead_pct,L1_l0,L1_mean_act',
    );
    expect(csv).toHaveLength(5);
    expect(csv[1]).toBe(`transcoder,transcoder k=8,2.2,${0.2},0.02,8,1000,4096,64,60,${1 - 60 / 64},8,0.5,64,59,${1 - 59 / 64},8,0.5`);
    expect(csv[3]).toContain('transcoder k=16 (reference eval: no b_enc)');
    expect(csv[4].startsWith('neurons,neurons top-8,')).toBe(true);
    // The neuron baseline has no parameters of its own: empty cells.
    expect(csv[4].split(',')[6]).toBe('');
  });
});

describe('the Pareto figures and the report', () => {
  it('draws three panels with the zero-ablation line, one line per family in the native sweep, and leaves out values a log axis cannot hold', () => {
    const spec = paretoPlotSpec(comparison, 'native', 'ceDegradation', { families: ['sae', 'transcoder'] }) as { hconcat: { layer: { data: { values: { series: string; y: number }[] } }[] }[] };
    expect(spec.hconcat).toHaveLength(3);
    const [lines, zero] = spec.hconcat[0].layer;
    expect(new Set(lines.data.values.map((value) => value.series))).toEqual(new Set(['transcoder', 'transcoder (reference eval: no b_enc)', 'neurons']));
    expect(zero.data.values).toEqual([{ y: 2 }]);
    const sweep = paretoPlotSpec(comparison, 'top_k', 'ceDegradation') as typeof spec;
    // The neuron baseline with every unit has degradation 0: not on a log axis.
    expect(sweep.hconcat[0].layer[0].data.values.map((value) => value.series)).toEqual(['transcoder k=16']);
  });

  it("keeps each family's fixed colour but lists only the families present in the legend", () => {
    const spec = paretoPlotSpec(comparison, 'native', 'ceDegradation', { families: ['sae', 'transcoder', 'clt', 'spd'] }) as {
      hconcat: { layer: { encoding: { color: { scale: { domain: string[]; range: string[] } } } }[] }[];
    };
    const { scale } = spec.hconcat[0].layer[0].encoding.color;
    expect(scale.domain).toEqual(['neurons', 'transcoder']);
    expect(scale.range).toEqual([NEURON_COLOR, FAMILY_COLORS[1]]);
  });

  it('names a point by its evaluation option and quirks (SPD at CI > 0 without its delta component)', () => {
    const spd = point('spd', 'spd', 'native', 3, 0.4, { variant: 'CI > 0', quirks: ['no_delta'] });
    expect(modelComparisonRows({ ...comparison, points: [spd] })[0].label).toBe('spd (CI > 0; reference eval: no delta)');
  });

  it('writes report.html with inline SVG plots and the tables, model_comparison.csv, pareto_points.csv and comparison.json', async () => {
    const written = await writeComparison(comparison, folder, { description: ['tiny-lm, sotu'], families: ['sae', 'transcoder'] });
    const html = readFileSync(written.report, 'utf8');
    expect((html.match(/<svg/g) ?? []).length).toBe(4);
    expect(html).toContain('Total active parameters');
    expect(html).toContain('transcoder k=16 (reference eval: no b_enc)');
    expect(html).toContain('tiny-lm, sotu');
    expect(html).not.toMatch(/<script/);
    expect(readFileSync(written.modelTable, 'utf8')).toBe(modelComparisonCsv(modelComparisonRows(comparison)));
    const points = readFileSync(written.points, 'utf8').trim().split('\n');
    expect(points[0]).toBe('sweep,label,family,k,per_component,per_mlp,total_active_params,ce,ce_degradation,mse');
    expect(points[1]).toBe('native,transcoder k=8,transcoder,,8,8,256,2.2,0.2,0.02');
    expect(JSON.parse(readFileSync(written.data, 'utf8'))).toEqual(comparison);
    expect(await renderComparisonReport({ ...comparison, points: [] })).toContain('No point has positive values to plot.');
  });
});
