import { describe, expect, it } from 'vitest';
import { ciHistogramSpec } from './ci-histogram-plot.js';
import { readComponentMetrics } from './component-metrics.js';
import { renderReport } from './report-html.js';
import type { RunRecord } from './run-record.js';

const W_IN = 'blocks.1.mlp.W_in';
const W_OUT = 'blocks.1.mlp.W_out';
/** What `nnd train` writes to an SPD run's summary.json (evaluateSpd's result), with two modules and 5-bin histograms. */
const SUMMARY = {
  status: 'completed',
  ce_target: 3.5,
  kl_ci: 0.125,
  ce_diff_ci: 0.25,
  ce_unrecovered_ci: 0.0625,
  kl_zero: 4,
  ce_diff_zero: 4.5,
  ce_unrecovered_zero: 1,
  [`ci_l0_0.${W_IN}`]: 12.5,
  [`ci_l0_0.01.${W_IN}`]: 7.25,
  [`alive_0.${W_IN}`]: 16,
  [`alive_0.01.${W_IN}`]: 11,
  [`ci_l0_0.${W_OUT}`]: 3,
  [`ci_l0_0.01.${W_OUT}`]: 2,
  [`alive_0.${W_OUT}`]: 9,
  [`alive_0.01.${W_OUT}`]: 4,
  component_density_threshold: 0.1,
  [`ci_histogram.${W_IN}`]: [100, 0, 3, 0, 17],
  [`ci_histogram.${W_OUT}`]: [120, 0, 0, 0, 0],
  [`component_density.${W_IN}`]: [0, 0.5, 1, 0.001],
  [`component_density.${W_OUT}`]: [0, 0, 0.25],
};
const spdRun: RunRecord = {
  name: 'tiny-lm_blocks.1.mlp_C16_spd_0.0003',
  origin: { type: 'directory', directory: '/runs/spd' },
  config: { method: 'spd', decomposition: 'spd', lr: 0.0003 },
  summary: SUMMARY,
  history: [],
};

describe('readComponentMetrics', () => {
  it('reads the masks, the thresholds with their own dots, the modules and their arrays from a summary', () => {
    const metrics = readComponentMetrics(SUMMARY, 'spd')!;
    expect(metrics.masks).toEqual([
      { mask: 'ci', kl: 0.125, ceDiff: 0.25, ceUnrecovered: 0.0625 },
      { mask: 'zero', kl: 4, ceDiff: 4.5, ceUnrecovered: 1 },
    ]);
    expect(metrics.thresholds).toEqual([0, 0.01]);
    expect(metrics.modules.map(({ module }) => module)).toEqual([W_IN, W_OUT]);
    const [wIn] = metrics.modules;
    expect([...wIn!.ciL0]).toEqual([
      [0, 12.5],
      [0.01, 7.25],
    ]);
    expect(wIn!.alive.get(0.01)).toBe(11);
    expect(wIn!.ciHistogram).toEqual([100, 0, 3, 0, 17]);
    expect(wIn!.componentDensity).toEqual([0, 0.5, 1, 0.001]);
    expect(metrics.densityThreshold).toBe(0.1);
  });

  it('is undefined for an activation decomposition, and names a malformed array', () => {
    expect(readComponentMetrics({ l0_norm: 32, 'performance/ce_degradation': -0.1, feature_density_log10: [null, -1] }, 'sae')).toBeUndefined();
    expect(readComponentMetrics(undefined, 'sae')).toBeUndefined();
    expect(() => readComponentMetrics({ [`ci_histogram.${W_IN}`]: [1, 'x'] }, 'spd')).toThrow(/run 'spd': summary field 'ci_histogram.blocks.1.mlp.W_in' must be an array of non-negative numbers/);
  });
});

describe('ciHistogramSpec', () => {
  it('draws one chart per module, its bins over [0, 1] with their counts', () => {
    const spec = ciHistogramSpec([{ label: W_IN, color: '#4c78a8', counts: [100, 0, 3, 0, 17] }]) as unknown as { concat: { data: { values: { start: number; end: number; count: number }[] } }[] };
    expect(spec.concat).toHaveLength(1);
    const values = spec.concat[0]!.data.values;
    expect(values.map(({ count }) => count)).toEqual([100, 0, 3, 0, 17]);
    expect(values[2]!.start).toBeCloseTo(0.4, 12);
    expect(values[4]!.end).toBeCloseTo(1, 12);
    expect(ciHistogramSpec([])).toBeUndefined();
  });
});

describe('the report of an SPD run', () => {
  it('has a Components section: the mask table, CI-L0 and alive per module, and the CI histograms and densities as SVG', async () => {
    const html = await renderReport([spdRun], { generatedAt: new Date('2025-01-02T03:04:05Z') });
    expect(html).toContain('<a href="#components">Components</a>');
    const section = html.slice(html.indexOf('<section id="components">'), html.indexOf('<section id="sweeps">'));
    expect(section).toContain('<h2>Components</h2>');
    expect(section).toContain('<tr><th scope="row"><code>ci</code></th><td class="number">0.125</td><td class="number">0.25</td><td class="number">0.0625</td></tr>');
    expect(section).toContain('<th scope="col" class="number" title="ci_l0_0.01.{module}">CI-L0 (&gt; 0.01)</th>');
    expect(section).toMatch(/<code>blocks\.1\.mlp\.W_in<\/code><\/th><td class="number">12\.5<\/td><td class="number">7\.25<\/td><td class="number">16<\/td><td class="number">11<\/td>/);
    // Two figures (CI histograms, densities), each with one chart per module.
    expect(section.match(/<svg /g)).toHaveLength(2);
    expect(section).toContain('id="plot-run-0-ci-histograms"');
    expect(section).toContain('id="plot-run-0-component-density"');
    expect(section).toContain('120 causal importances in 5 bins');
    // W_in: one of four components never active; W_out: two of three.
    expect(section).toContain('4 components; 1 never fired (25%)');
    expect(section).toContain('3 components; 2 never fired (67%)');
    const ids = [...html.matchAll(/\bid="([^"]+)"/g)].map((match) => match[1]);
    expect(new Set(ids).size).toBe(ids.length);
  });
});
