import { createOnnxBackend } from '@nnd/backend-onnx';
import { Graph, hostTensor, reshape, Rng, type HostTensor } from '@nnd/core';
import { collectDashboard, writeDashboard } from '@nnd/dashboard';
import { HookedTransformer, initializeParameters } from '@nnd/models';
import { createSpd, evaluateSpd, spdActivations, transformerTarget, type SpdDecomposition } from '@nnd/spd';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SMALL_GPT2_CONFIG as CONFIG } from './language-model.test-support.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// In the CLI's tests because the CLI depends on @nnd/spd and @nnd/dashboard; neither depends on the other.
const ROWS = 4;
const SEQ = 24;
const MODULES = [
  { name: 'blocks.0.mlp.W_in', C: 8 },
  { name: 'blocks.1.mlp.W_out', C: 6 },
];

const backend = createOnnxBackend();
const model = new HookedTransformer(CONFIG, initializeParameters(CONFIG, 3), { backend });
const spd: SpdDecomposition = createSpd(transformerTarget(model, SEQ), { modules: MODULES });
const params = spd.initialParams(new Rng(5));
const rng = new Rng(9);
const batches = Array.from({ length: 5 }, () =>
  hostTensor(
    'int64',
    [ROWS, SEQ],
    BigInt64Array.from({ length: ROWS * SEQ }, () => BigInt(rng.int(CONFIG.vocabSize))),
  ),
);
let directory: string;
beforeAll(async () => {
  directory = await mkdtemp(join(tmpdir(), 'nnd-spd-dashboard-'));
});
afterAll(async () => {
  await rm(directory, { recursive: true, force: true });
  await model.dispose();
  await backend.dispose();
});

/** Per batch, every module's causal importances [positions, C] as SPD's evaluation computes them (spdActivations' lower-leaky CI), at the batch's own shape. */
async function referenceCi(tokens: HostTensor): Promise<Record<string, Float32Array>> {
  const graph = new Graph();
  const weights = spd.target.weights();
  const frozen = Object.fromEntries(Object.entries(weights).map(([name, tensor]) => [name, graph.input(`frozen.${name}`, tensor.shape)]));
  const parameters = Object.fromEntries(Object.entries(params).map(([name, tensor]) => [name, graph.input(`param.${name}`, tensor.shape)]));
  const { ci } = spdActivations(graph, spd, { tokens: graph.input('tokens', tokens.shape, 'int64') }, parameters, frozen);
  const outputs = Object.fromEntries(MODULES.map(({ name, C }) => [name, reshape(ci[name]!, [-1, C])]));
  const program = await backend.compile(graph, { outputs, hostOutputs: Object.keys(outputs) });
  try {
    const feeds: Record<string, HostTensor> = { tokens };
    for (const [name, tensor] of Object.entries(weights)) feeds[`frozen.${name}`] = tensor;
    for (const [name, tensor] of Object.entries(params)) feeds[`param.${name}`] = tensor;
    const result = await program.run(feeds);
    const values: Record<string, Float32Array> = {};
    for (const { name } of MODULES) {
      values[name] = Float32Array.from((await result[name]!.toHost()).data as Float32Array);
      result[name]!.dispose();
    }
    return values;
  } finally {
    await program.dispose();
  }
}

describe('feature dashboards of SPD components', () => {
  it("shows each component's causal importance: its top examples are the tokens' CI as SPD computes it, and its density SPD's evaluation's", async () => {
    const data = await collectDashboard({ model, decomposition: spd, params, state: {}, batches, topExamples: 5, quantileExamples: 4, window: 3 });
    const total = MODULES.reduce((sum, { C }) => sum + C, 0);
    expect(data.featureCount).toBe(total);
    expect(data.valueLabel).toBe('causal importance');
    expect(data.featureNames).toEqual(MODULES.flatMap(({ name, C }) => Array.from({ length: C }, (_, c) => `${name}:${c}`)));
    expect(data.tokens).toBe(batches.length * ROWS * SEQ);
    expect(data.features.every(({ logitEffects }) => logitEffects === undefined)).toBe(true);

    // CI per feature (the modules' components side by side) at every (sequence, position).
    const reference = await Promise.all(batches.map(referenceCi));
    const ciAt = (feature: number, sequence: number, position: number) => {
      let column = feature;
      for (const { name, C } of MODULES) {
        if (column < C) return reference[Math.floor(sequence / ROWS)]![name]![((sequence % ROWS) * SEQ + position) * C + column]!;
        column -= C;
      }
      throw new Error(`no feature ${feature}`);
    };
    let checked = 0;
    for (const feature of data.features) {
      // The sequences with the largest CI maxima, from the reference.
      const maxima = Array.from({ length: batches.length * ROWS }, (_, sequence) => Math.max(...Array.from({ length: SEQ }, (_, position) => ciAt(feature.feature, sequence, position))));
      const expected = maxima
        .filter((value) => value > 0)
        .sort((a, b) => b - a)
        .slice(0, 5);
      expect(feature.top.map(({ maxValue }) => maxValue)).toHaveLength(expected.length);
      feature.top.forEach(({ maxValue }, index) => expect(maxValue).toBeCloseTo(expected[index]!, 5));
      for (const example of feature.top) {
        Array.from(example.values).forEach((value, index) => expect(value).toBeCloseTo(ciAt(feature.feature, example.sequence, example.start + index), 5));
        checked++;
      }
    }
    // Random CI functions give most components some positive CI: the comparison above is not vacuous.
    expect(checked).toBeGreaterThan(total * 2);

    // SPD's own evaluation: the fraction of positions with CI > 0 per component.
    const evaluation = await evaluateSpd(
      spd,
      params,
      batches.map((tokens) => ({ tokens })),
      { backend, densityThreshold: 0 },
    );
    const densities = MODULES.flatMap(({ name }) => evaluation[`component_density.${name}`] as number[]);
    expect(data.features.map(({ density }) => density)).toEqual(densities.map((density) => expect.closeTo(density, 12)));
  }, 120_000);

  it('takes --features over the concatenated components, and writes a page that names them and their values', async () => {
    const all = await collectDashboard({ model, decomposition: spd, params, state: {}, batches, topExamples: 5, quantileExamples: 4, window: 3 });
    const range = await collectDashboard({ model, decomposition: spd, params, state: {}, batches, features: { start: 6, end: 10 }, topExamples: 5, quantileExamples: 4, window: 3 });
    expect(range.featureNames).toEqual(['blocks.0.mlp.W_in:6', 'blocks.0.mlp.W_in:7', 'blocks.1.mlp.W_out:0', 'blocks.1.mlp.W_out:1']);
    // The same statistics as those columns of the whole (the quantile samples draw from one seeded stream per collector, so they differ).
    const withoutSamples = (features: typeof all.features) => features.map(({ quantiles: _quantiles, ...rest }) => rest);
    expect(withoutSamples(range.features)).toEqual(withoutSamples(all.features.slice(6, 10)));

    await writeDashboard(range, directory);
    const features = await readFile(join(directory, 'data', 'features.js'), 'utf8');
    expect(features).toContain('"valueLabel":"causal importance"');
    expect(features).toContain('"name":["blocks.0.mlp.W_in:6","blocks.0.mlp.W_in:7","blocks.1.mlp.W_out:0","blocks.1.mlp.W_out:1"]');
  }, 120_000);
});
