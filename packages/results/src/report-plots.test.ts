import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderReportPlots, reportPlotSpecs } from './report-plots.js';
import type { RunRecord } from './run-record.js';
import { loadRunDirectories } from './run-directory-source.js';
import { writeSyntheticSweep } from './synthetic-runs.test-support.js';

let root: string;
let runs: RunRecord[];

beforeAll(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'nnd-results-plots-'));
  writeSyntheticSweep(root, [
    { method: 'topk', dictionarySize: 1024, k: 32, rows: 10 },
    { method: 'topk', dictionarySize: 2048, k: 32, rows: 10 },
    { method: 'batchtopk', dictionarySize: 2048, k: 32, rows: 10 },
    { method: 'batchtopk', dictionarySize: 2048, k: 16, rows: 10, evaluated: false },
  ]);
  runs = loadRunDirectories(root);
});
afterAll(() => {
  fs.rmSync(root, { recursive: true, force: true });
});

describe('reportPlotSpecs', () => {
  it('lists the reference\'s four panels, then L0 vs explained variance, training curves and feature density', () => {
    const plots = reportPlotSpecs(runs);
    expect(plots.map((plot) => plot.id)).toEqual([
      'normalized-mse-vs-dictionary-size',
      'normalized-mse-vs-l0',
      'ce-degradation-vs-dictionary-size',
      'ce-degradation-vs-l0',
      'explained-variance-vs-l0',
      'training-curves',
      'feature-density',
    ]);
    expect(plots.every((plot) => plot.spec !== undefined)).toBe(true);
    // The L0 panels default to 2048, the size with the most runs.
    expect(plots[1]!.description).toContain('dictionary size 2048');
  });

  it('says why a plot is empty', () => {
    const plots = reportPlotSpecs(runs, { k: 64, dictionarySize: 4096 });
    const empty = plots.filter((plot) => plot.spec === undefined);
    expect(empty.map((plot) => plot.id)).toEqual(['normalized-mse-vs-dictionary-size', 'normalized-mse-vs-l0', 'ce-degradation-vs-dictionary-size', 'ce-degradation-vs-l0']);
    expect(empty[0]!.emptyMessage).toBe('No run with k = 64 has both a dictionary size and a normalised MSE.');
    expect(reportPlotSpecs([]).every((plot) => plot.spec === undefined)).toBe(true);
  });
});

describe('renderReportPlots', () => {
  it('renders each plot to SVG with ids prefixed by the plot id', async () => {
    const plots = await renderReportPlots(runs, { trainingMetrics: ['loss', 'l0_norm'] });
    for (const plot of plots) {
      expect(plot.svg).toMatch(/^<svg/);
      for (const [, id] of plot.svg!.matchAll(/\bid="([^"]+)"/g)) expect(id!.startsWith(`${plot.id}-`)).toBe(true);
    }
    const curves = plots.find((plot) => plot.id === 'training-curves')!.svg!;
    expect(curves).toContain('>Loss</text>');
    expect(curves).not.toContain('>Aux loss</text>');
  });
});
