import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reportPlotSpecs } from './report-plots.js';
import type { HistoryRow, RunRecord } from './run-record.js';
import { loadRunDirectories } from './run-directory-source.js';
import { writeSyntheticSweep } from './synthetic-runs.test-support.js';
import { trainingCurveMetrics } from './training-curve-metrics.js';
import { DEFAULT_TRAINING_CURVE_METRICS } from './training-curves-plot.js';

let root: string;
let saes: RunRecord[];

beforeAll(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'nnd-results-curves-'));
  writeSyntheticSweep(root, [
    { method: 'topk', dictionarySize: 1024, k: 32, rows: 10 },
    { method: 'jumprelu', dictionarySize: 1024, k: 32, rows: 10 },
  ]);
  saes = loadRunDirectories(root);
});
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

/** What an SPD run logs: its total, weighted and unweighted losses, and CI-L0 per module; none of the SAE curves but loss. */
const spdHistory: HistoryRow[] = [0, 1, 2].map((step) => ({
  step,
  metrics: {
    loss: 3 - step,
    faithfulness_loss: 0.1 / (step + 1),
    faithfulness_loss_unweighted: 1e-5,
    stochastic_recon_loss: 1 - 0.1 * step,
    importance_minimality_loss: 0.5,
    'l0.linear1': 4,
  },
}));
const spd: RunRecord = { name: 'spd', origin: { type: 'directory', directory: '/runs/spd' }, config: { decomposition: 'spd' }, summary: undefined, history: spdHistory };

const chartsOf = (runs: readonly RunRecord[], trainingMetrics?: readonly string[]) => {
  const spec = reportPlotSpecs(runs, trainingMetrics === undefined ? {} : { trainingMetrics }).find((plot) => plot.id === 'training-curves')!.spec as
    | { concat: { title: { subtitle: string } }[] }
    | undefined;
  return spec?.concat.map((chart) => chart.title.subtitle) ?? [];
};

describe('trainingCurveMetrics', () => {
  it("is the reference's SAE curves for SAE runs, which log l1_loss too: their reports are unchanged", () => {
    expect(saes[0]!.history[0]!.metrics).toHaveProperty('l1_loss');
    expect(trainingCurveMetrics(saes)).toEqual([...DEFAULT_TRAINING_CURVE_METRICS]);
    expect(reportPlotSpecs(saes).find((plot) => plot.id === 'training-curves')!.spec).toEqual(
      reportPlotSpecs(saes, { trainingMetrics: DEFAULT_TRAINING_CURVE_METRICS }).find((plot) => plot.id === 'training-curves')!.spec,
    );
  });

  it('adds the weighted losses of a run that logged none of the SAE curves but loss, in the order it logged them', () => {
    expect(trainingCurveMetrics([spd])).toEqual([...DEFAULT_TRAINING_CURVE_METRICS, 'faithfulness_loss', 'stochastic_recon_loss', 'importance_minimality_loss']);
    // The report draws loss and those losses for it, not an SAE's.
    expect(chartsOf([spd])).toEqual(['loss', 'faithfulness_loss', 'stochastic_recon_loss', 'importance_minimality_loss']);
    // Beside SAE runs, both: the SAE curves and the SPD run's losses.
    expect(chartsOf([...saes, spd])).toEqual([...chartsOf(saes), 'faithfulness_loss', 'stochastic_recon_loss', 'importance_minimality_loss']);
  });

  it('gives way to metrics asked for', () => {
    expect(chartsOf([spd], ['importance_minimality_loss'])).toEqual(['importance_minimality_loss']);
  });
});
