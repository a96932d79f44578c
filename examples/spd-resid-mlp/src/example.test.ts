import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runResidMlpExample, type ResidMlpScale } from './example.js';

/** The example at CI scale: the same code on a residual MLP of 20 features, d_embed 100, d_mlp 10, briefly trained. */
const CI_SCALE: ResidMlpScale = { features: 20, dEmbed: 100, dMlp: 10, targetSteps: 300, targetBatch: 512, spdSteps: 300, spdBatch: 256, C: 20 };

let directory: string;
beforeAll(async () => {
  directory = await mkdtemp(join(tmpdir(), 'nnd-example-spd-resid-mlp-'));
});
afterAll(() => rm(directory, { recursive: true, force: true }));

describe('the spd-resid-mlp example at CI scale', () => {
  it('trains the residual MLP, decomposes it, and writes the report with its three SVG figures; every feature gets an important mlp_in component', async () => {
    const result = await runResidMlpExample(directory, CI_SCALE);
    expect(result.files).toEqual(['ci-per-feature.svg', 'neuron-contributions.svg', 'neuron-contribution-pairs.svg', 'summary.json', 'report.md']);
    for (const file of result.files) expect(existsSync(join(directory, file)), file).toBe(true);
    for (const file of result.files.filter((name) => name.endsWith('.svg'))) expect(readFileSync(join(directory, file), 'utf8').startsWith('<svg'), file).toBe(true);
    const report = readFileSync(join(directory, 'report.md'), 'utf8');
    // The target's weights, for the PyTorch twin (bench/pytorch/spd_toy_twin.py) and TARGET_WEIGHTS.
    const written = JSON.parse(readFileSync(join(directory, 'target-weights.json'), 'utf8')) as { kind: string; W_E: number[][]; layers: { mlp_in: number[][]; mlp_out: number[][] }[] };
    expect([written.kind, written.W_E.length, written.layers.length, written.layers[0].mlp_in.length, written.layers[0].mlp_out.length]).toEqual(['resid_mlp', 20, 1, 100, 10]);
    for (const file of ['ci-per-feature.svg', 'neuron-contributions.svg', 'neuron-contribution-pairs.svg']) expect(report).toContain(`](${file})`);
    expect(Object.keys(result.ci)).toEqual(['layers.0.mlp_in', 'layers.0.mlp_out']);
    for (const rows of Object.values(result.ci)) {
      expect(rows).toHaveLength(20);
      for (const row of rows) expect(row).toHaveLength(20);
    }
    const summary = JSON.stringify({ atInit: result.atInit, trained: result.trained, correlation: result.contributionCorrelation });
    // At initialisation few features have an important component in mlp_in; after training all do (at this length still
    // several each: the importance loss has not yet pruned them to one per feature, which takes thousands of steps).
    expect(result.atInit.featuresCaptured, summary).toBeLessThan(10);
    expect(result.trained.featuresCaptured, summary).toBe(20);
    // The chosen subcomponents reproduce the target's neuron contributions (the paper's Figure 7 diagonal).
    expect(result.contributionCorrelation, summary).toBeGreaterThan(0.5);
  }, 300_000);
});
