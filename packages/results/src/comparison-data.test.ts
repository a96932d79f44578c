import { describe, expect, it } from 'vitest';
import { modulesOf, paretoAxes, pointLabel, type ComparisonGroupData } from './comparison-data.js';

// The reference's exp_011 set-up: n = 4 MLPs, d_in = d_out = 768, d_h = 3072.
const N = 4;
const D = 768;
const DH = 3072;

function group(label: string, l0: number, streamsWritten: number, activeParameters: number): ComparisonGroupData {
  return { label, size: 4096, alive: 4000, l0, streamsWritten, activeParameters };
}

describe('paretoAxes: DECOMPOSITIONS.md 6 by hand', () => {
  it('per-layer transcoders (and neurons): mean_l ℓ_l, mean_l ℓ_l, Σ_l ℓ_l (d_in + d_out)', () => {
    const l0 = [21, 8, 13, 27];
    const axes = paretoAxes({ streams: N, groups: l0.map((value, layer) => group(`blocks.${layer}.hook_mlp_out`, value, 1, D + D)) });
    expect(axes.perComponent).toBeCloseTo(17.25, 12);
    expect(axes.perMlp).toBeCloseTo(17.25, 12);
    expect(axes.totalActiveParams).toBeCloseTo(69 * 1536, 6);
  });

  it('a CLT: mean_i ℓ_i, Σ_i ℓ_i (n − i)/n, Σ_i ℓ_i (d_in + (n − i) d_out)', () => {
    const l0 = [10, 20, 30, 40];
    const axes = paretoAxes({ streams: N, groups: l0.map((value, i) => group(`layer ${i}`, value, N - i, D + (N - i) * D)) });
    expect(axes.perComponent).toBeCloseTo(25, 12);
    // (10·4 + 20·3 + 30·2 + 40·1) / 4
    expect(axes.perMlp).toBeCloseTo(50, 12);
    // 10·3840 + 20·3072 + 30·2304 + 40·1536
    expect(axes.totalActiveParams).toBeCloseTo(230400, 6);
  });

  it("a CLT with every ℓ = k gives exp_007's factors: (n + 1)/2 per MLP, Σ_i (d_in + (n − i) d_out) in total", () => {
    const k = 8;
    const axes = paretoAxes({ streams: N, groups: [0, 1, 2, 3].map((i) => group(`layer ${i}`, k, N - i, D + (N - i) * D)) });
    expect(axes.perComponent).toBe(k);
    expect(axes.perMlp).toBeCloseTo((k * (N + 1)) / 2, 12);
    expect(axes.totalActiveParams).toBeCloseTo(k * (4 * D + 10 * D), 6);
  });

  it('SPD: mean of the 8 module L0s, Σ_l (m_cfc + m_down)/n, Σ_l m_cfc (d_in + d_h) + m_down (d_h + d_out)', () => {
    const cfc = [5, 6, 7, 8];
    const down = [1, 2, 3, 4];
    const groups = cfc.flatMap((m, layer) => [group(`blocks.${layer}.mlp.c_fc`, m, 1, D + DH), group(`blocks.${layer}.mlp.down_proj`, down[layer], 1, DH + D)]);
    const axes = paretoAxes({ streams: N, groups });
    expect(axes.perComponent).toBeCloseTo(36 / 8, 12);
    expect(axes.perMlp).toBeCloseTo(36 / 4, 12);
    expect(axes.totalActiveParams).toBeCloseTo(26 * (D + DH) + 10 * (DH + D), 6);
    // exp_007's factor 2 per MLP at a common k.
    expect(paretoAxes({ streams: N, groups: groups.map((entry) => ({ ...entry, l0: 3 })) }).perMlp).toBe(6);
  });

  it("adds up groups of one module (a MOLT's rank groups) for the per-module axis, and leaves total parameters out when a group does not declare them", () => {
    const groups = [group('mlp', 2, 1, 100), group('mlp', 3, 1, 50)];
    expect(paretoAxes({ streams: 1, groups })).toEqual({ perComponent: 5, perMlp: 5, totalActiveParams: 350 });
    const { activeParameters: _unknown, ...undeclared } = groups[1];
    expect(paretoAxes({ streams: 1, groups: [groups[0], undeclared] }).totalActiveParams).toBeUndefined();
  });
});

describe('modulesOf', () => {
  it('adds sizes, alive features and L0, and weighs mean activations by L0', () => {
    const groups: ComparisonGroupData[] = [
      { label: 'a', size: 10, alive: 8, l0: 1, streamsWritten: 1, meanActivation: 2 },
      { label: 'b', size: 5, alive: 5, l0: 2, streamsWritten: 1, meanActivation: 1 },
      { label: 'a', size: 6, alive: 1, l0: 3, streamsWritten: 1, meanActivation: 4 },
    ];
    expect(modulesOf(groups)).toEqual([
      { label: 'a', size: 16, alive: 9, l0: 4, meanActivation: (2 + 12) / 4 },
      { label: 'b', size: 5, alive: 5, l0: 2, meanActivation: 1 },
    ]);
  });
});

describe('pointLabel', () => {
  it("names the method, the sweep's k and the reference quirks", () => {
    expect(pointLabel({ method: 'transcoder k=16', sweep: 'native', quirks: [] })).toBe('transcoder k=16');
    expect(pointLabel({ method: 'clt', sweep: 'top_k', k: 4, quirks: ['no_b_enc', 'clean_inputs'] })).toBe('clt top-4 (reference eval: no b_enc, clean inputs)');
  });
});
