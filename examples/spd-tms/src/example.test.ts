import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runTmsExample, type TmsScale } from './example.js';

/** The example at CI scale: the same code on the 5 -> 2 TMS with the paper's settings for it, briefly trained. */
const CI_SCALE: TmsScale = { features: 5, hidden: 2, targetSteps: 1000, targetBatch: 256, spdSteps: 1000, spdBatch: 256, C: 10, importanceMinimalityCoeff: 3e-3, pnorm: 1 };

let directory: string;
beforeAll(async () => {
  directory = await mkdtemp(join(tmpdir(), 'nnd-example-spd-tms-'));
});
afterAll(() => rm(directory, { recursive: true, force: true }));

describe('the spd-tms example at CI scale', () => {
  it('trains the TMS, decomposes it, and writes the report with its three SVG figures; SPD captures features better than at initialisation', async () => {
    const result = await runTmsExample(directory, CI_SCALE);
    expect(result.files).toEqual(['ci-per-feature.svg', 'weights.svg', 'column-similarity.svg', 'summary.json', 'report.md']);
    for (const file of result.files) expect(existsSync(join(directory, file)), file).toBe(true);
    for (const file of result.files.filter((name) => name.endsWith('.svg'))) expect(readFileSync(join(directory, file), 'utf8').startsWith('<svg'), file).toBe(true);
    const report = readFileSync(join(directory, 'report.md'), 'utf8');
    for (const file of ['ci-per-feature.svg', 'weights.svg', 'column-similarity.svg']) expect(report).toContain(`](${file})`);
    // One row per input feature and one column per component, in each matrix.
    expect(Object.keys(result.ci)).toEqual(['linear1', 'linear2']);
    for (const rows of Object.values(result.ci)) expect(rows.map((row) => row.length)).toEqual([10, 10, 10, 10, 10]);
    const report2 = JSON.stringify({ atInit: result.atInit, trained: result.trained });
    // At initialisation no component of linear1 is important for any feature; after training every feature is captured in both matrices
    // (at this length still by one to three components each, which longer training merges), and some components are dead.
    expect(result.atInit.linear1.featuresCaptured, report2).toBe(0);
    for (const name of ['linear1', 'linear2']) {
      expect(result.trained[name].featuresCaptured, report2).toBe(5);
      expect(result.trained[name].aliveOnOneHot, report2).toBeLessThan(10);
    }
    // The target's weights, for the PyTorch twin (bench/pytorch/spd_toy_twin.py) and TARGET_WEIGHTS.
    const written = JSON.parse(readFileSync(join(directory, 'target-weights.json'), 'utf8')) as { kind: string; W: number[][]; b: number[] };
    expect([written.kind, written.W.length, written.W[0].length, written.b.length]).toEqual(['tms', 5, 2, 5]);
    // Each of the target's columns has a subcomponent pointing its way (the paper's MMCS).
    expect(result.mmcs).toBeGreaterThan(0.9);
  }, 300_000);
});
