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
  it("lists the reference's four panels, then L0 vs explained variance, training curves and feature density", () => {
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
    expect(empty[0]!.emptyMessage).toBe('The runs with k = 64 and a normalised MSE do not span two dictionary sizes (the L0 panels show runs of one size).');
    expect(reportPlotSpecs([]).every((plot) => plot.spec === undefined)).toBe(true);
  });

  it('draws no one-column "vs dictionary size" panel when the runs have one size', () => {
    const oneSize = runs.filter((run) => run.config.dict_size === 2048);
    const plots = reportPlotSpecs(oneSize, { k: 32 });
    expect(plots.find((plot) => plot.id === 'normalized-mse-vs-dictionary-size')!.spec).toBeUndefined();
    expect(plots.find((plot) => plot.id === 'normalized-mse-vs-l0')!.spec).toBeDefined();
  });

  it('puts L0 on a log axis and gives each method one colour in every plot, per-run plots included', () => {
    const plots = reportPlotSpecs(runs);
    const json = (id: string) => JSON.stringify(plots.find((plot) => plot.id === id)!.spec);
    for (const id of ['normalized-mse-vs-l0', 'explained-variance-vs-l0']) expect(json(id)).toContain('"scale":{"type":"log"');
    const methodScale = (plots.find((plot) => plot.id === 'explained-variance-vs-l0')!.spec as { encoding: { color: { scale: { domain: string[]; range: string[] } } } }).encoding.color.scale;
    const colorOf = (method: string) => methodScale.range[methodScale.domain.indexOf(method)];
    const curves = plots.find((plot) => plot.id === 'training-curves')!.spec as { concat: { encoding: { color: { scale: { domain: string[]; range: string[] } } } }[] };
    const { domain, range } = curves.concat[0]!.encoding.color.scale;
    for (const [index, label] of domain.entries()) expect(range[index], label).toBe(colorOf(label.split(' · ')[0]!));
    expect(new Set(range).size).toBe(2);
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
