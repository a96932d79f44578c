import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderReport } from './report-html.js';
import { reportPlotSpecs } from './report-plots.js';
import type { RunRecord } from './run-record.js';
import { loadRunDirectories } from './run-directory-source.js';
import { writeSyntheticSweep } from './synthetic-runs.test-support.js';

let root: string;
let saes: RunRecord[];

beforeAll(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'nnd-results-sections-'));
  writeSyntheticSweep(root, [{ method: 'topk', dictionarySize: 1024, k: 32, rows: 10 }]);
  saes = loadRunDirectories(root);
});
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

/** A run of a decomposition of weights: losses and component metrics, no L0 of features, no feature densities. */
const spd: RunRecord = {
  name: 'spd',
  origin: { type: 'directory', directory: '/runs/spd' },
  config: { decomposition: 'spd' },
  summary: { kl_ci: 0.3, 'ci_l0_0.5.blocks.1.mlp.W_in': 2 },
  history: [0, 1].map((step) => ({ step, metrics: { loss: 1 - 0.1 * step, importance_minimality_loss: 0.2, 'l0.blocks.1.mlp.W_in': 3 } })),
};

const sectionsOf = (html: string) => [...html.matchAll(/<section id="([^"]+)">/g)].map((match) => match[1]);

describe('the feature sections of the report', () => {
  it('are left out, links included, for runs none of which has an L0: their training curves stay', async () => {
    expect(reportPlotSpecs([spd]).map((plot) => plot.id)).toEqual(['training-curves']);
    const html = await renderReport([spd]);
    expect(sectionsOf(html)).toEqual(['runs', 'components', 'training', 'metrics']);
    expect(html).not.toContain('href="#sweeps"');
    expect(html).not.toContain('href="#feature-density"');
    expect(html).toContain('href="#training"');
  });

  it('stay, empty panels and all, as soon as one run has an L0, and in a report of no runs', async () => {
    const all = ['runs', 'sweeps', 'trade-off', 'training', 'feature-density', 'metrics'];
    expect(sectionsOf(await renderReport(saes))).toEqual(all);
    expect(sectionsOf(await renderReport([...saes, spd]))).toEqual(['runs', 'components', ...all.slice(1)]);
    expect(sectionsOf(await renderReport([]))).toEqual(all);
    expect(reportPlotSpecs([...saes, spd])).toHaveLength(7);
  });
});
