import { describe, expect, it } from 'vitest';
import { ResultsError } from './errors/index.js';
import type { HistoryRow } from './run-record.js';
import { trainingCurvesSpec } from './training-curves-plot.js';

interface Chart {
  title: { text: string; subtitle: string };
  data: { values: { run: string; step: number; value: number }[] };
  encoding: { y: { scale: { type?: string } } };
}

function chartsOf(spec: unknown): Chart[] {
  return (spec as { concat: Chart[] }).concat;
}

function history(length: number, metrics: (step: number) => Record<string, number>): HistoryRow[] {
  return Array.from({ length }, (_unused, index) => ({ step: index * 10, metrics: metrics(index * 10) }));
}

describe('trainingCurvesSpec', () => {
  it('makes one chart per metric that some run logged, one line per run', () => {
    const spec = trainingCurvesSpec([
      { label: 'a', history: history(5, (step) => ({ loss: 1 / (step + 1), l0_norm: 32 })) },
      { label: 'b', history: history(3, () => ({ l0_norm: 16 })) },
    ]);
    const charts = chartsOf(spec);
    expect(charts.map((chart) => chart.title.text)).toEqual(['Loss', 'L0']);
    expect(new Set(charts[1]!.data.values.map((value) => value.run))).toEqual(new Set(['a', 'b']));
  });

  it('uses a log y scale for a positive metric spanning more than two decades', () => {
    const charts = chartsOf(trainingCurvesSpec([{ label: 'a', history: history(4, (step) => ({ loss: 1000 / (step + 1) ** 2, l0_norm: 30 + step })) }]));
    expect(charts[0]!.encoding.y.scale.type).toBe('log');
    expect(charts[0]!.title.subtitle).toContain('log scale');
    expect(charts[1]!.encoding.y.scale.type).toBeUndefined();
  });

  it('keeps at most maxPointsPerLine points, first and last included', () => {
    const charts = chartsOf(trainingCurvesSpec([{ label: 'a', history: history(1000, (step) => ({ loss: step })) }], { metrics: ['loss'], maxPointsPerLine: 50 }));
    const steps = charts[0]!.data.values.map((value) => value.step);
    expect(steps).toHaveLength(50);
    expect(steps[0]).toBe(0);
    expect(steps.at(-1)).toBe(9990);
  });

  it('takes the later write of a step logged twice (a resumed run), and skips non-finite values', () => {
    const rows: HistoryRow[] = [
      { step: 0, metrics: { loss: 3 } },
      { step: 10, metrics: { loss: 2 } },
      { step: 20, metrics: { loss: 9 } },
      { step: 10, metrics: { loss: 1.5 } },
      { step: 20, metrics: { loss: Number.NaN } },
      { step: 30, metrics: { loss: 1 } },
    ];
    const charts = chartsOf(trainingCurvesSpec([{ label: 'a', history: rows }], { metrics: ['loss'] }));
    expect(charts[0]!.data.values.map((value) => [value.step, value.value])).toEqual([
      [0, 3],
      [10, 1.5],
      [20, 9],
      [30, 1],
    ]);
  });

  it('is undefined without history, and checks its options', () => {
    expect(trainingCurvesSpec([{ label: 'a', history: [] }])).toBeUndefined();
    expect(() => trainingCurvesSpec([], { maxPointsPerLine: 1 })).toThrow(ResultsError);
  });
});
