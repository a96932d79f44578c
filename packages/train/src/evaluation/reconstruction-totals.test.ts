import { NndError } from '@nnd/core';
import { describe, expect, it } from 'vitest';
import { ReconstructionTotals, type BatchReconstructionSums } from './reconstruction-totals.js';

/** What the evaluation program returns for one batch, computed directly (float64). */
function sumsOf(x: number[][], reconstruction: number[][], featureActs: number[][]): BatchReconstructionSums {
  const width = x[0].length;
  const sum = Array.from({ length: width }, (_, column) => x.reduce((total, row) => total + row[column], 0));
  const mean = sum.map((value) => value / x.length);
  const squares = (rows: number[][], minus: (row: number, column: number) => number) =>
    rows.reduce((total, row, index) => total + row.reduce((inner, value, column) => inner + (value - minus(index, column)) ** 2, 0), 0);
  return {
    count: x.length,
    sum,
    centeredSquareSum: squares(x, (_, column) => mean[column]),
    squareSum: squares(x, () => 0),
    squaredErrorSum: squares(x, (row, column) => reconstruction[row][column]),
    firingCounts: Array.from({ length: featureActs[0].length }, (_, feature) => featureActs.filter((row) => row[feature] > 0).length),
  };
}

describe('ReconstructionTotals', () => {
  // Four positions of width 2, mean (1, 2).
  const x = [
    [0, 0],
    [2, 4],
    [1, 2],
    [1, 2],
  ];
  const reconstruction = [
    [0, 1],
    [2, 3],
    [1, 2],
    [2, 2],
  ];
  const featureActs = [
    [1, 0, 0],
    [2, 0, 0.5],
    [0, 0, 0],
    [3, 0, 0],
  ];

  it('computes explained variance and normalised MSE as the report defines them, by hand', () => {
    const totals = new ReconstructionTotals();
    totals.add(sumsOf(x, reconstruction, featureActs));
    const metrics = totals.metrics();
    // Σ‖x − x̂‖² = 1 + 1 + 0 + 1 = 3; Σ‖x − mean‖² = (1 + 4) + (1 + 4) + 0 + 0 = 10; Σ‖x‖² = 0 + 20 + 5 + 5 = 30.
    expect(metrics.explainedVariance).toBeCloseTo(1 - 3 / 10, 12);
    expect(metrics.normalizedMse).toBeCloseTo(3 / 30, 12);
    expect(metrics.evaluatedTokens).toBe(4);
  });

  it('counts firings into L0, densities, dead and dense fractions', () => {
    const totals = new ReconstructionTotals();
    totals.add(sumsOf(x, reconstruction, featureActs));
    const metrics = totals.metrics();
    // Feature 0 fires on 3 of 4 positions, feature 1 never, feature 2 once.
    expect(metrics.l0Norm).toBe(4 / 4);
    expect(metrics.featureDensityLog10).toEqual([Math.log10(3 / 4), null, Math.log10(1 / 4)]);
    expect(metrics.deadFraction).toBeCloseTo(1 / 3, 15);
    expect(metrics.denseFraction).toBeCloseTo(2 / 3, 15);
  });

  it('merges batches to exactly what one batch of all positions gives', () => {
    const split = new ReconstructionTotals();
    split.add(sumsOf(x.slice(0, 1), reconstruction.slice(0, 1), featureActs.slice(0, 1)));
    split.add(sumsOf(x.slice(1), reconstruction.slice(1), featureActs.slice(1)));
    const whole = new ReconstructionTotals();
    whole.add(sumsOf(x, reconstruction, featureActs));
    const [a, b] = [split.metrics(), whole.metrics()];
    expect(a.explainedVariance).toBeCloseTo(b.explainedVariance, 12);
    expect(a.normalizedMse).toBeCloseTo(b.normalizedMse, 12);
    expect(a.featureDensityLog10).toEqual(b.featureDensityLog10);
    expect(a.evaluatedTokens).toBe(4);
  });

  it('keeps the variance exact when the mean dwarfs the spread (no Σx² − N·mean² cancellation)', () => {
    // Values 1e6 ± 1 in float64: Σx² − N·mean² would lose every digit of the spread in float32 sums.
    const offset = 1e6;
    const rows = [[offset + 1], [offset - 1], [offset + 1], [offset - 1]];
    const totals = new ReconstructionTotals();
    totals.add(
      sumsOf(
        rows.slice(0, 2),
        rows.slice(0, 2).map(([value]) => [value + 1]),
        [[1], [1]],
      ),
    );
    totals.add(
      sumsOf(
        rows.slice(2),
        rows.slice(2).map(([value]) => [value + 1]),
        [[1], [1]],
      ),
    );
    // Σ‖x − x̂‖² = 4, Σ‖x − mean‖² = 4.
    expect(totals.metrics().explainedVariance).toBeCloseTo(0, 12);
  });

  it('leaves batches whose positions were all excluded out of the mean', () => {
    const totals = new ReconstructionTotals();
    totals.add({ count: 0, sum: [0, 0], centeredSquareSum: 0, squareSum: 0, squaredErrorSum: 0, firingCounts: [0, 0, 0] });
    totals.add(sumsOf(x, reconstruction, featureActs));
    expect(totals.metrics().explainedVariance).toBeCloseTo(0.7, 12);
    expect(totals.metrics().evaluatedTokens).toBe(4);
  });

  it('rejects a batch whose widths differ from the earlier ones with an NndError', () => {
    const totals = new ReconstructionTotals();
    totals.add(sumsOf(x, reconstruction, featureActs));
    expect(() => totals.add({ ...sumsOf(x, reconstruction, featureActs), firingCounts: [1] })).toThrow(NndError);
  });
});
