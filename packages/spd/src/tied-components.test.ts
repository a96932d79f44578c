import { createOnnxBackend } from '@nnd/backend-onnx';
import { evaluateGraph, Graph, hostTensor, Rng, readSafetensors, type HostTensor } from '@nnd/core';
import { trainDecomposition } from '@nnd/train';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { faithfulnessWarmup } from './faithfulness-warmup.js';
import { componentMatrices, createSpd, type SpdDecomposition } from './spd-decomposition.js';
import { loadSpd, saveSpd, SPD_WEIGHTS_FILE } from './spd-files.js';
import { foldTiedComponents } from './tied-components.js';
import { polygonTms, sparseFeatureSource, tmsTarget } from './tms.js';

const target = tmsTarget(polygonTms(5));
const tiedSpd = (extra: Record<string, unknown> = {}) =>
  createSpd(target, {
    modules: [
      { name: 'linear1', C: 3 },
      { name: 'linear2', C: 3 },
    ],
    tied_weights: [['linear1', 'linear2']],
    ...extra,
  });

/** Each module's V and U as the forward computes them. */
function matrices(spd: SpdDecomposition, params: Record<string, HostTensor>): Record<string, Float64Array> {
  const graph = new Graph();
  const tensors = Object.fromEntries(Object.entries(params).map(([name, tensor]) => [name, graph.constant(tensor)]));
  const names = spd.modules.flatMap(({ name }) => [`${name}.V`, `${name}.U`]);
  const values = evaluateGraph(
    graph,
    spd.modules.flatMap(({ name }) => Object.values(componentMatrices(spd, tensors, name))),
    {},
  );
  return Object.fromEntries(names.map((name, index) => [name, Float64Array.from(values[index].data as ArrayLike<number>)]));
}

describe("tied components as spd's run_spd ties them", () => {
  it('moves the shared tensor by two Adam updates per step, one per module using it (spd: two Parameters on one storage)', async () => {
    const lr = 0.01;
    const spd = tiedSpd({ stochastic_recon_layerwise_coeff: 0, importance_minimality_coeff: 0 });
    const initial = spd.initialParams(new Rng(0));
    const result = await trainDecomposition(
      spd,
      sparseFeatureSource(5, 256, 0.3, 0),
      { num_tokens: 256, batch_size: 256, lr, lr_schedule: 'constant', seed: 0 },
      { backend: createOnnxBackend(), handleSignals: false },
    );
    expect(result.step).toBe(1);
    // Adam's first update is lr * sign(gradient) per entry: the gradient through linear1's use and the one through
    // linear2's each move the tensor by lr, so entries where they agree move by 2 lr (by lr at most with one summed gradient).
    const before = Float64Array.from(initial['linear1.V'].data as Float32Array);
    const after = matrices(spd, result.params)['linear1.V'];
    const moved = Array.from(after, (value, index) => Math.abs(value - before[index]));
    expect(Math.max(...moved)).toBeCloseTo(2 * lr, 4);
    expect(moved.every((value) => value < 2 * lr + 1e-5)).toBe(true);
    expect(Math.max(...Array.from(result.params['linear2.U'].data as Float32Array, Math.abs))).toBeCloseTo(lr, 4);
    // Both modules see the same tensor, before and after.
    const both = matrices(spd, result.params);
    for (let i = 0; i < 5; i++) for (let c = 0; c < 3; c++) expect(both['linear2.U'][c * 5 + i]).toBeCloseTo(both['linear1.V'][i * 3 + c], 6);
  });

  it("warms up a tied source with two AdamW updates per step, weight decay included, as spd's warm-up does", () => {
    const one = (value: number) => hostTensor('float32', [1, 1], Float32Array.of(value));
    const [lr, weightDecay] = [0.01, 0.1];
    const [warmed] = faithfulnessWarmup([{ W: one(1), V: one(0.5), U: one(0.5), updatesPerStep: 2 }], { steps: 1, lr, weightDecay });
    // The gradient is negative: Adam's first update is -lr, applied after the decay, twice.
    const expected = (0.5 * (1 - lr * weightDecay) + lr) * (1 - lr * weightDecay) + lr;
    expect(warmed.V.data[0]).toBeCloseTo(expected, 6);
    const [single] = faithfulnessWarmup([{ W: one(1), V: one(0.5), U: one(0.5) }], { steps: 1, lr, weightDecay });
    expect(single.V.data[0]).toBeCloseTo(0.5 * (1 - lr * weightDecay) + lr, 6);
  });

  it('saves the shared tensors once, folded into the source, and loads them back to the same components', async () => {
    const spd = tiedSpd();
    const params = spd.initialParams(new Rng(3));
    // A trained tied target holds a part of the shared tensors.
    params['linear2.V'] = hostTensor('float32', [2, 3], Float32Array.of(0.1, -0.2, 0.3, 0.4, 0.5, -0.6));
    params['linear2.U'] = hostTensor(
      'float32',
      [3, 5],
      Float32Array.from({ length: 15 }, (_, i) => 0.05 * i - 0.3),
    );
    const folded = foldTiedComponents(spd, params);
    expect(Object.keys(folded).filter((name) => /\.(V|U)$/.test(name))).toEqual(['linear1.V', 'linear1.U']);
    expect(folded['linear1.V'].data[1 * 3 + 2]).toBeCloseTo(Number(params['linear1.V'].data[1 * 3 + 2]) + Number(params['linear2.U'].data[2 * 5 + 1]), 6);
    const directory = await mkdtemp(join(tmpdir(), 'nnd-spd-tied-'));
    try {
      await saveSpd(directory, spd, params);
      const stored = readSafetensors(new Uint8Array(await readFile(join(directory, SPD_WEIGHTS_FILE))));
      expect(stored.tensors.has('linear2.V')).toBe(false);
      const loaded = await loadSpd(directory, target);
      const [want, got] = [matrices(spd, params), matrices(loaded.spd, loaded.params)];
      for (const name of Object.keys(want)) Array.from(want[name]).forEach((value, index) => expect(got[name][index]).toBeCloseTo(value, 6));
    } finally {
      await rm(directory, { recursive: true, force: true });
    }
  });
});
