import { describe, expect, it } from 'vitest';
import { FEATURE_DENSITY_KEY } from './metric-definitions.js';
import type { RunRecord } from './run-record.js';
import { finalMetric, runsTable } from './runs-table.js';

function run(name: string, config: Record<string, unknown>, summary: Record<string, unknown> | undefined, history: RunRecord['history'] = []): RunRecord {
  return { name, origin: { type: 'directory', directory: `/runs/${name}` }, config, summary, history };
}

describe('runsTable', () => {
  it("gives the reference's columns from config and summary", () => {
    const [row] = runsTable([
      run(
        'a',
        { sae_type: 'topk', dict_size: 12288, top_k: 32 },
        { l0_norm: 32, l2_loss: 0.08, normalized_mse: 0.07, 'performance/ce_degradation': -0.04, explained_variance: 0.93, dead_fraction: 0.01, dense_fraction: 0 },
        [
          { step: 0, metrics: { loss: 1 } },
          { step: 500, metrics: { loss: 0.1 } },
        ],
      ),
    ]);
    expect(row).toMatchObject({
      name: 'a',
      label: 'topk · 12288 · k=32',
      method: 'topk',
      dictionarySize: 12288,
      k: 32,
      l0Norm: 32,
      normalizedMse: 0.07,
      normalizedMseSource: 'normalized_mse',
      ceDegradation: -0.04,
      explainedVariance: 0.93,
      deadFraction: 0.01,
      denseFraction: 0,
      lastStep: 500,
      steps: 501,
    });
  });

  it('labels runs by the value their method sweeps: k for TopK-like methods, l1_coeff for Vanilla and JumpReLU', () => {
    const rows = runsTable([
      run('t', { sae_type: 'topk', dict_size: 512, top_k: 16, l1_coeff: 0 }, {}),
      run('v', { sae_type: 'vanilla', dict_size: 512, top_k: 32, l1_coeff: 0.004 }, {}),
      run('j', { sae_type: 'jumprelu', dict_size: 512, top_k: 32, l1_coeff: 0.001 }, {}),
    ]);
    expect(rows.map((row) => row.label)).toEqual(['jumprelu · 512 · l1=0.001', 'topk · 512 · k=16', 'vanilla · 512 · l1=0.004']);
  });

  it('counts the steps run: the summary says, else the last logged step + 1', () => {
    const [logged] = runsTable([
      run('a', {}, undefined, [
        { step: 0, metrics: { loss: 1 } },
        { step: 299, metrics: { loss: 0.5 } },
      ]),
    ]);
    expect(logged.steps).toBe(300);
    const [summarised] = runsTable([run('b', {}, { steps: 1000 }, [{ step: 990, metrics: { loss: 1 } }])]);
    expect(summarised.steps).toBe(1000);
  });

  it('falls back to l2_loss for the normalised MSE, as the reference does, and says so', () => {
    const [row] = runsTable([run('a', { sae_type: 'topk' }, { l2_loss: 0.08 })]);
    expect(row).toMatchObject({ normalizedMse: 0.08, normalizedMseSource: 'l2_loss' });
    const [bare] = runsTable([run('b', {}, {})]);
    expect(bare).toMatchObject({ normalizedMse: undefined, normalizedMseSource: undefined, label: 'b' });
  });

  it('uses the last logged values for a run without a summary', () => {
    const [row] = runsTable([
      run('crashed', { sae_type: 'topk' }, undefined, [
        { step: 0, metrics: { l0_norm: 90, 'performance/ce_degradation': -1 } },
        { step: 10, metrics: { l0_norm: 40 } },
        { step: 20, metrics: { l0_norm: 32 } },
      ]),
    ]);
    expect(row).toMatchObject({ l0Norm: 32, ceDegradation: -1, lastStep: 20 });
  });

  it('computes dead and dense fractions from the feature densities when evaluation wrote only those', () => {
    const [row] = runsTable([run('a', {}, { [FEATURE_DENSITY_KEY]: [null, -0.5, -2, -3] })]);
    expect(row).toMatchObject({ deadFraction: 0.25, denseFraction: 0.25 });
  });

  it('sorts by sae type, dictionary size, k and name, and makes labels unique', () => {
    const rows = runsTable([
      run('z', { sae_type: 'topk', dict_size: 4096, top_k: 32, lr: 1e-4 }, {}),
      run('y', { sae_type: 'topk', dict_size: 4096, top_k: 32, lr: 3e-4 }, {}),
      run('x', { sae_type: 'topk', dict_size: 1024, top_k: 64 }, {}),
      run('w', { sae_type: 'batchtopk', dict_size: 8192, top_k: 32 }, {}),
      run('v', {}, {}),
    ]);
    expect(rows.map((row) => row.name)).toEqual(['w', 'x', 'y', 'z', 'v']);
    expect(rows.map((row) => row.label)).toEqual(['batchtopk · 8192 · k=32', 'topk · 1024 · k=64', 'topk · 4096 · k=32', 'topk · 4096 · k=32 #2', 'v']);
  });
});

describe('finalMetric', () => {
  it('prefers the summary, then the latest logged value', () => {
    const record = run('a', {}, { loss: 0.5 }, [
      { step: 0, metrics: { loss: 2, aux_loss: 0.1 } },
      { step: 1, metrics: { loss: 1 } },
    ]);
    expect(finalMetric(record, 'loss')).toBe(0.5);
    expect(finalMetric(record, 'aux_loss')).toBe(0.1);
    expect(finalMetric(record, 'l0_norm')).toBeUndefined();
  });
});
