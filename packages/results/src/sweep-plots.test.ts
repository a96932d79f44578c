import { describe, expect, it } from 'vitest';
import type { RunRecord } from './run-record.js';
import { runsTable } from './runs-table.js';
import type { RunsTableRow } from './runs-table.js';
import { defaultSparsitySweepSize, dictionarySweepSpec, explainedVarianceSpec, sparsitySweepSpec } from './sweep-plots.js';

function rowsOf(entries: [method: string, dictionarySize: number, k: number, summary: Record<string, unknown>][]): RunsTableRow[] {
  return runsTable(
    entries.map(
      ([method, dictionarySize, k, summary], index): RunRecord => ({
        name: `run-${index}`,
        origin: { type: 'directory', directory: `/runs/${index}` },
        config: { sae_type: method, dict_size: dictionarySize, top_k: k },
        summary,
        history: [],
      }),
    ),
  );
}

/** The inline data of a single-view spec. */
function valuesOf(spec: unknown): Record<string, unknown>[] {
  return (spec as { data: { values: Record<string, unknown>[] } }).data.values;
}

const rows = rowsOf([
  ['topk', 4096, 32, { l0_norm: 32, normalized_mse: 0.2, 'performance/ce_degradation': -0.1, explained_variance: 0.8 }],
  ['topk', 8192, 32, { l0_norm: 32, normalized_mse: 0.15, 'performance/ce_degradation': -0.08, explained_variance: 0.85 }],
  ['topk', 8192, 64, { l0_norm: 64, normalized_mse: 0.1, 'performance/ce_degradation': -0.05 }],
  ['batchtopk', 8192, 32, { l0_norm: 31.5, normalized_mse: 0.14, 'performance/ce_degradation': Number.NaN }],
  ['batchtopk', 2048, 16, { l0_norm: 16 }],
]);

describe('dictionarySweepSpec', () => {
  it('keeps runs with the k asked for and a value, on a log x axis coloured by a shared sae type domain', () => {
    const spec = dictionarySweepSpec(rows, 'normalizedMse', 32)!;
    expect(valuesOf(spec).map((value) => [value.method, value.dictionarySize, value.value])).toEqual([
      ['batchtopk', 8192, 0.14],
      ['topk', 4096, 0.2],
      ['topk', 8192, 0.15],
    ]);
    const encoding = (spec as { encoding: Record<string, { scale?: { type?: string; domain?: string[] } }> }).encoding;
    expect(encoding.x!.scale!.type).toBe('log');
    expect(encoding.color!.scale!.domain).toEqual(['batchtopk', 'topk']);
  });

  it('leaves out non-finite values, and is undefined when nothing is left', () => {
    expect(valuesOf(dictionarySweepSpec(rows, 'ceDegradation', 32)).map((value) => value.method)).toEqual(['topk', 'topk']);
    expect(dictionarySweepSpec(rows, 'normalizedMse', 128)).toBeUndefined();
  });
});

describe('sparsitySweepSpec', () => {
  it('keeps runs of one dictionary size, against L0', () => {
    const spec = sparsitySweepSpec(rows, 'normalizedMse', 8192)!;
    expect(valuesOf(spec).map((value) => [value.method, value.l0Norm, value.value])).toEqual([
      ['batchtopk', 31.5, 0.14],
      ['topk', 32, 0.15],
      ['topk', 64, 0.1],
    ]);
    expect(sparsitySweepSpec(rows, 'normalizedMse', 1024)).toBeUndefined();
  });
});

describe('defaultSparsitySweepSize', () => {
  it('picks the dictionary size with the most runs, the largest on a tie', () => {
    expect(defaultSparsitySweepSize(rows)).toBe(8192);
    expect(
      defaultSparsitySweepSize(
        rowsOf([
          ['topk', 1024, 8, { l0_norm: 8 }],
          ['topk', 4096, 8, { l0_norm: 8 }],
        ]),
      ),
    ).toBe(4096);
    expect(defaultSparsitySweepSize([])).toBeUndefined();
  });
});

describe('explainedVarianceSpec', () => {
  it('plots every run with an L0 and an explained variance', () => {
    expect(valuesOf(explainedVarianceSpec(rows)).map((value) => value.explainedVariance)).toEqual([0.8, 0.85]);
    expect(explainedVarianceSpec(rows.filter((row) => row.explainedVariance === undefined))).toBeUndefined();
  });
});
